"""The pages of `triage serve`: name, screen (+ the decision endpoint), project, team.

Views only parse the request, call the screening state or a service/team/report function, and
render a template; nothing here computes a label, a ranking or a report of its own."""

from __future__ import annotations

import threading

from flask import Blueprint, Response, abort, g, redirect, render_template, request

from triage.errors import ProjectLockedError, TriageError
from triage.history import LABELS
from triage.io.record import clean_text
from triage.web.app import screening

bp = Blueprint("web", __name__)

#: The longest reviewer name, note and reason accepted (characters).
MAX_NAME, MAX_TEXT = 60, 4000
_REPORT_LOCK = threading.Lock()  # pyplot (the gain curve) is not thread-safe


@bp.get("/")
def index():
    return redirect("/screen")


@bp.route("/name", methods=["GET", "POST"])
def name():
    """Each reviewer names themself once per browser session; the name is stored with every label."""
    error = ""
    if request.method == "POST":
        text = " ".join(clean_text(request.form.get("reviewer", "")).split())
        if not text:
            error = "Give your name (it is stored with each of your labels)."
        elif len(text) > MAX_NAME:
            error = f"At most {MAX_NAME} characters, please."
        else:
            g.session.reviewer = text
            return redirect("/screen")
    return render_template("name.html", session=g.session, error=error, current=g.session.reviewer)


def _record_context(project, shown, message: str = "") -> dict:
    from triage.team import reasons, term_spans, terms

    state = screening()
    record = project.records([shown.record_id])[0] if shown.record_id is not None else None
    spans = {}
    if record is not None:
        t = terms(project)
        spans = {"title": term_spans(record.title or "(no title)", t),
                 "abstract": term_spans(record.abstract, t),
                 "keywords": term_spans("; ".join(record.keywords), t)}
    authors = ""
    if record is not None and record.authors:
        authors = "; ".join(record.authors[:6]) + (" et al." if len(record.authors) > 6 else "")
    return {"record": record, "shown": shown, "spans": spans, "authors": authors, "message": message,
            "reasons": reasons(project)[:9], "dual": project.mode() == "dual",
            "retrain_error": state.retrain_error}


@bp.get("/screen")
def screen():
    state = screening()
    with state.project() as p:
        shown = state.next_for(p, g.session)
        ctx = _record_context(p, shown, g.session.message)
        g.session.message = ""
        question, criteria = p.meta("question").strip(), p.meta("criteria").strip()
    return render_template("screen.html", session=g.session, page="screen", question=question,
                           criteria=criteria, **ctx)


@bp.get("/api/record")
def record_fragment():
    """The record panel alone (the page's JavaScript swaps it in)."""
    state = screening()
    with state.project() as p:
        shown = state.next_for(p, g.session)
        return render_template("_record.html", **_record_context(p, shown))


@bp.post("/api/decide")
def decide():
    """One key of the screen page: the label is committed before the next record is rendered."""
    state = screening()
    action = request.form.get("action", "")
    try:
        record_id = int(request.form.get("record_id", ""))
    except ValueError:
        return Response("record_id must be a whole number\n", status=400, mimetype="text/plain")
    if action not in (*LABELS, "skip", "undo"):
        return Response(f"unknown action {action!r}\n", status=400, mimetype="text/plain")
    note = request.form.get("note", "")[:MAX_TEXT]
    reason = request.form.get("reason", "")[:MAX_TEXT]
    status = 200
    with state.project() as p:
        try:
            message = state.decide(p, g.session, record_id, action, note, reason)
        except ProjectLockedError as e:  # nothing stored: the same record is shown again
            message, status = f"Not saved: {e}. Press the key again to retry.", 503
        except TriageError as e:
            message, status = f"Not saved: {e}", 400
        shown = state.next_for(p, g.session)
        return render_template("_record.html", **_record_context(p, shown, message)), status


# -- project ---------------------------------------------------------------------------------------
EXPORTS = [  # (label, what, which, format)
    ("Included records (RIS)", "records", "included", "ris"),
    ("Included records (CSV)", "records", "included", "csv"),
    ("All records with labels (CSV)", "records", "all", "csv"),
    ("Decisions: the audit trail (CSV)", "decisions", "all", "csv"),
    ("Decisions: the audit trail (JSON)", "decisions", "all", "json"),
]


@bp.get("/project")
def project_page():
    from triage.service import embedding_status
    from triage.team import prisma_counts

    state = screening()
    with state.project(readonly=True) as p:
        counts = p.counts()
        reps = [rep for rep, _ in p.duplicate_groups()]
        groups, n_groups = [p.group_members(rep) for rep in reps[:200]], len(reps)
        ctx = {"counts": counts, "sources": p.sources(), "groups": groups, "n_groups": n_groups,
               "prisma": prisma_counts(p), "embedding": embedding_status(p) if counts["records"] else None,
               "name": p.directory.name}
    return render_template("project.html", session=g.session, page="project", exports=EXPORTS, **ctx)


@bp.get("/project/report")
def report_page():
    """The stopping report: exactly what `triage report --format html` writes (same functions)."""
    from triage.report import render_html
    from triage.service import report_data

    state = screening()
    with _REPORT_LOCK, state.project(readonly=True) as p:
        text = render_html(report_data(p))
    g.report_page = True
    return Response(text, mimetype="text/html")


@bp.get("/project/export")
def export():
    """A download of `triage export` (same function, same text)."""
    from triage.service import export_text

    what, which, fmt = request.args.get("what", "records"), request.args.get("which", "all"), request.args.get("format")
    if which not in ("included", "excluded", "maybe", "unlabelled", "all"):
        abort(400)
    state = screening()
    try:
        with state.project(readonly=True) as p:
            text, fmt, _ = export_text(p, which, what, fmt)
            name = p.directory.name
    except TriageError as e:
        return Response(f"{e}\n", status=400, mimetype="text/plain")
    filename = f"{_safe(name)}-{what}-{which}.{fmt}" if what == "records" else f"{_safe(name)}-decisions.{fmt}"
    mime = {"ris": "application/x-research-info-systems", "csv": "text/csv", "json": "application/json"}[fmt]
    return Response(text, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "project"


# -- team ------------------------------------------------------------------------------------------
@bp.get("/team")
def team_page():
    from triage.team import agreement, conflicts, reviewer_counts

    state = screening()
    with state.project(readonly=True) as p:
        dual = p.mode() == "dual"
        ctx = {"dual": dual, "counts": reviewer_counts(p), "conflicts": conflicts(p) if dual else [],
               "agreement": agreement(p) if dual else [], "project_counts": p.counts()}
    message, g.session.message = g.session.message, ""
    return render_template("team.html", session=g.session, page="team", message=message, **ctx)


@bp.post("/team/resolve")
def resolve():
    """Settle one conflict (`triage resolve DIR --record ID LABEL --note ...`)."""
    from triage.team import resolve as resolve_records

    label = request.form.get("label", "")
    try:
        record_id = int(request.form.get("record_id", ""))
    except ValueError:
        abort(400)
    if label not in LABELS:
        abort(400)
    state = screening()
    try:
        with state.project() as p:
            done = resolve_records(p, [(record_id, label)], g.session.reviewer,
                                   [request.form.get("note", "")[:MAX_TEXT]])
        g.session.message = f"Saved: record {record_id} resolved as {label} (was: {done[0].was or 'not screened'})."
    except TriageError as e:
        g.session.message = f"Not saved: {e}"
    return redirect("/team")
