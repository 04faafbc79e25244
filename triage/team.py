"""Team screening as service functions (what `triage conflicts / resolve / agreement / merge`
call): disagreements, resolutions, inter-rater agreement, and merging a colleague's decisions.

The decision per record is computed in one place, `triage.store.decisions`; this module only
reads it and appends label events (never changes or deletes one)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from triage.agreement import agreement_2x2, table_of
from triage.errors import LabelError, ProjectError, TriageError
from triage.history import LABELS
from triage.store import decisions
from triage.store.project import Project


def require_dual(project: Project, what: str) -> None:
    if project.mode() != "dual":
        raise ProjectError(f"{what} needs dual screening, and {project.directory} is in single mode (one label "
                           f"per record); switch with `triage mode {project.directory} dual`")


def conflicts(project: Project) -> list[dict]:
    """Records where reviewers disagree and no resolution was given, in id order: {"record_id",
    "title", "decisions": [{"reviewer", "label", "note", "reason"}] (by reviewer name)}."""
    states = project.record_states()
    ids = [rid for rid, s in sorted(states.items()) if s.status("dual") == decisions.CONFLICT]
    out = []
    for r in project.records(ids):
        s = states[r.id]
        out.append({"record_id": r.id, "title": r.title, "decisions": [
            {"reviewer": who, "label": label, "note": s.notes.get(who, ("", ""))[0],
             "reason": s.notes.get(who, ("", ""))[1]} for who, label in sorted(s.by_reviewer.items())]})
    return out


@dataclass(frozen=True)
class Resolved:
    record_id: int
    label: str | None
    was: str | None  # the record's status before: conflict / agreed / awaiting ... / None (no decision)


def resolve(project: Project, items: list[tuple[int, str | None]], reviewer: str, notes: list[str] | None = None,
            reasons: list[str] | None = None) -> list[Resolved]:
    """Store resolutions (kind 'resolution' events; label None withdraws the latest resolution)."""
    require_dual(project, "`triage resolve`")
    states = project.record_states()
    rep_of = {d: rep for rep, ds in project.duplicate_groups() for d in ds}
    project.add_labels(items, reviewer=reviewer, origin="prior", kind="resolution", notes=notes, reasons=reasons)
    out = []
    for rid, label in items:
        s = states.get(rep_of.get(rid, rid))
        out.append(Resolved(rid, label, s.status("dual") if s else None))
    return out


def agreement(project: Project) -> list[dict]:
    """Per reviewer pair (names sorted): {"reviewers": [a, b], **Agreement.to_dict()} on the
    records both decided (their current decisions; kind 'decision' events only)."""
    states = project.record_states()
    by: dict[str, dict[int, str]] = {}
    for rid, s in states.items():
        for who, label in s.by_reviewer.items():
            by.setdefault(who, {})[rid] = label
    out = []
    for a, b in combinations(sorted(by), 2):
        table, both = table_of(by[a], by[b])
        if both:
            out.append({"reviewers": [a, b], **agreement_2x2(table).to_dict()})
    return out


@dataclass(frozen=True)
class MergeResult:
    added: int
    already: int  # events the project had already (same reviewer, record, label, kind and time)
    unmatched_records: int  # records of the other project with events but no match here
    reviewers: list


def merge_project(project: Project, other_dir: str | Path) -> MergeResult:
    """Add the label events of a colleague's copy of the project (read-only) to this one.

    Records are matched by their bibliographic content hash, then by DOI, then by PMID. Events keep
    their reviewer, time, origin, label, note, reason and kind; their round is dropped (rounds are
    the other project's). Events this project has already are skipped, so merging twice adds
    nothing; nothing is overwritten (events are only appended)."""
    other_dir = Path(other_dir)
    if other_dir.resolve() == Path(project.directory).resolve():
        raise TriageError(f"{other_dir} is this project itself; give the folder of your colleague's copy")
    with Project.open(other_dir, readonly=True) as other:
        theirs = other.label_events()
        their_hash = other.content_hashes()
        their_rec = {r.id: r for r in other.records(sorted({e.record_id for e in theirs}))}
    ours = {h: rid for rid, h in project.content_hashes().items()}
    by_doi, by_pmid = {}, {}
    from triage.io.dedup import normalise_doi

    for r in project.records():
        if r.doi:
            by_doi.setdefault(normalise_doi(r.doi), r.id)
        if r.pmid:
            by_pmid.setdefault(r.pmid.strip(), r.id)

    def match(rid: int) -> int | None:
        hit = ours.get(their_hash.get(rid))
        if hit is None:
            r = their_rec[rid]
            hit = by_doi.get(normalise_doi(r.doi)) if r.doi else None
            if hit is None and r.pmid:
                hit = by_pmid.get(r.pmid.strip())
        return hit

    rep_of = {d: rep for rep, ds in project.duplicate_groups() for d in ds}
    have = {(e.record_id, e.reviewer, e.label, e.kind, e.created_at) for e in project.label_events()}
    todo, unmatched = [], set()
    already = 0
    for e in theirs:
        rid = match(e.record_id)
        if rid is None:
            unmatched.add(e.record_id)
            continue
        key = (rep_of.get(rid, rid), e.reviewer, e.label, e.kind, e.created_at)
        if key in have:
            already += 1
            continue
        have.add(key)
        todo.append((rid, e))
    added = 0
    if todo:  # one transaction, in the other project's order, after this project's own events
        added = project.add_labels([(rid, e.label) for rid, e in todo], reviewer="",
                                   reviewers=[e.reviewer for _, e in todo], origins=[e.origin for _, e in todo],
                                   notes=[e.note for _, e in todo], reasons=[e.reason for _, e in todo],
                                   created_ats=[e.created_at for _, e in todo], kinds=[e.kind for _, e in todo])
    return MergeResult(added, already, len(unmatched), sorted({e.reviewer for e in theirs}))


# -- exclusion reasons ---------------------------------------------------------------------------
REASONS_META = "reasons"
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2013]|\(?[0-9]{1,2}[.)]|\(?[a-z][.)])\s+(.+?)\s*$")


def reasons(project: Project) -> list[str]:
    """The project's list of exclusion reasons (meta `reasons`, JSON), in the order added."""
    raw = project.meta(REASONS_META, "")
    return list(json.loads(raw)) if raw else []


def add_reasons(project: Project, texts: list[str]) -> list[str]:
    """Append reasons not in the list yet (case-insensitive); returns the reasons added."""
    have = reasons(project)
    seen = {r.casefold() for r in have}
    added = []
    for t in texts:
        t = " ".join(str(t).split())
        if not t:
            raise TriageError("an exclusion reason cannot be empty")
        if t.casefold() not in seen:
            seen.add(t.casefold())
            added.append(t)
    if added:
        project.set_meta(REASONS_META, json.dumps(have + added, ensure_ascii=False))
    return added


def reasons_from_criteria(criteria: str) -> list[str]:
    """Exclusion reasons read from eligibility criteria: the bulleted or numbered lines under a
    heading that mentions exclusion ("Exclusion criteria:", "Exclude"); without such a heading,
    every bulleted line. Blank or heading lines are skipped."""
    lines = criteria.splitlines()
    out, under, any_heading = [], False, False
    for line in lines:
        m = _BULLET.match(line)
        if m is None:
            if line.strip():
                low = line.lower()
                heading = "exclu" in low
                any_heading |= heading
                under = heading
            continue
        if under:
            out.append(m.group(1))
    if not any_heading:
        out = [m.group(1) for m in map(_BULLET.match, lines) if m]
    return out


TERMS_META = "terms"


def terms(project: Project) -> dict[str, list[str]]:
    """{"include": [...], "exclude": [...]}: the words and phrases `screen` highlights."""
    raw = project.meta(TERMS_META, "")
    got = json.loads(raw) if raw else {}
    return {"include": list(got.get("include", [])), "exclude": list(got.get("exclude", []))}


def term_spans(text: str, term_lists: dict[str, list[str]]) -> list[tuple[str, str]]:
    """`text` cut into (piece, kind) with kind "include", "exclude" or "" (plain), for every front
    end that highlights the project's terms (`screen` in the terminal, `serve` in the browser).
    Case-insensitive, any part of a word matches, longer terms first; a term in both lists counts
    as exclude. The pieces joined give `text` back."""
    kind = {t.casefold(): "include" for t in term_lists.get("include", []) if t}
    kind.update({t.casefold(): "exclude" for t in term_lists.get("exclude", []) if t})
    if not kind or not text:
        return [(text, "")] if text else []
    pattern = re.compile("|".join(re.escape(t) for t in sorted(kind, key=len, reverse=True)), re.IGNORECASE)
    out, at = [], 0
    for m in pattern.finditer(text):
        if m.start() > at:
            out.append((text[at:m.start()], ""))
        out.append((m.group(0), kind[m.group(0).casefold()]))
        at = m.end()
    if at < len(text):
        out.append((text[at:], ""))
    return out


def set_terms(project: Project, include: list[str] | None, exclude: list[str] | None) -> dict[str, list[str]]:
    """Replace the include and/or exclude term lists (None keeps a list as it is)."""
    now = terms(project)
    for name, new in (("include", include), ("exclude", exclude)):
        if new is not None:
            now[name] = [" ".join(t.split()) for t in new if t.strip()]
    project.set_meta(TERMS_META, json.dumps(now, ensure_ascii=False))
    return now


def exclusion_reasons(project: Project) -> dict[int, str]:
    """record id -> the reason of its final 'exclude' label ('' when none was given). Single mode:
    the reason of the latest event; dual mode: of the resolution, else the first reviewer (by
    name) who gave one."""
    mode = project.mode()
    states = project.record_states()
    final = project.final_labels()
    out = {}
    settled_reason = {}
    for e in project.label_events():
        if e.kind != "decision":
            settled_reason[e.record_id] = e.reason
    last_reason = {}
    for e in project.label_events():
        last_reason[e.record_id] = e.reason
    for rid, label in final.items():
        if label != "exclude":
            continue
        if mode == "single":
            out[rid] = last_reason.get(rid, "")
        elif states[rid].settled is not None:
            out[rid] = settled_reason.get(rid, "")
        else:
            out[rid] = next((n[1] for _, n in sorted(states[rid].notes.items()) if n[1]), "")
    return out


def prisma_counts(project: Project) -> dict:
    """PRISMA 2020 counts: identified per source, duplicates removed, screened, included,
    excluded (with reasons: {reason: n}, "no reason given" last), maybe, not screened; in dual
    mode also conflicts and records awaiting the second reviewer."""
    c = project.counts()
    by_reason: dict[str, int] = {}
    for r in exclusion_reasons(project).values():
        by_reason[r or ""] = by_reason.get(r or "", 0) + 1
    ordered = {r: by_reason[r] for r in sorted(by_reason, key=lambda r: (r == "", -by_reason[r], r))}
    if "" in ordered:
        ordered["no reason given"] = ordered.pop("")
    out = {
        "identified_by_source": [{"source": s["name"], "records": s["n_entries"]} for s in project.sources()],
        "identified": c["identified"],
        "duplicates_removed": c["duplicates"],
        "records_after_deduplication": c["records"],
        "screened": c["labelled"],
        "included": c["included"],
        "excluded": c["excluded"],
        "excluded_by_reason": ordered,
        "maybe": c["maybe"],
        "not_screened": c["unlabelled"],
    }
    if c.get("mode") == "dual":
        out["conflicts"], out["awaiting_second"] = c["conflicts"], c["awaiting_second"]
    return out


def reviewer_counts(project: Project) -> dict[str, dict[str, int]]:
    """reviewer -> {"include", "exclude", "maybe", "total"}: each reviewer's current own decisions
    (kind 'decision' events; a later label replaces an earlier one, an undo removes it)."""
    out: dict[str, dict[str, int]] = {}
    for s in project.record_states().values():
        for who, label in s.by_reviewer.items():
            c = out.setdefault(who, {"include": 0, "exclude": 0, "maybe": 0, "total": 0})
            c[label] += 1
            c["total"] += 1
    return dict(sorted(out.items()))


DECISION_COLUMNS = ("event_id", "record_id", "kind", "reviewer", "created_at", "round", "origin", "label", "note",
                    "reason", "doi", "pmid", "title")


def decision_rows(project: Project, reviewer: str | None = None) -> tuple[tuple, list[list]]:
    """(DECISION_COLUMNS, rows): every label event in the order stored - reviewers' decisions,
    resolutions and labels that came with imported files (kind), with time (UTC), round, origin,
    label ('' = the label was undone), note and reason. `reviewer`: only that reviewer's events."""
    events = [e for e in project.label_events() if reviewer is None or e.reviewer == reviewer]
    recs = {r.id: r for r in project.records(sorted({e.record_id for e in events}))}
    rows = [[e.id, e.record_id, e.kind, e.reviewer, e.created_at, e.round_id, e.origin, e.label or "", e.note,
             e.reason, recs[e.record_id].doi, recs[e.record_id].pmid, recs[e.record_id].title] for e in events]
    return DECISION_COLUMNS, rows


def parse_resolution_label(text: str) -> str | None:
    from triage.history import parse_label

    try:
        return parse_label(text)
    except ValueError as e:
        raise LabelError(str(e)) from None


__all__ = ["LABELS", "agreement", "conflicts", "merge_project", "resolve"]
