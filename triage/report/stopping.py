"""The stopping report: the default rule's verdict in one sentence, then every other rule in a
table, the gain curve and the report's provenance (date, project, preset, triage version).

Renders only: all numbers come from `triage.stopping.evaluate_all` (and the history itself).
Formats: Markdown (terminal), JSON, and one self-contained HTML file (all user text escaped,
the plot embedded as a base64 PNG). matplotlib is imported lazily with the Agg backend.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from triage import __version__
from triage.stopping import CertificationSample, RuleInputs, RuleResult, evaluate_all, make_rule
from triage.stopping.base import pct, split_prior
from triage.stopping.rules import DEFAULT_DESCRIPTION, RULE_ORDER
from triage.history import PRIOR, History

#: Said in every report: the same records are counted differently by other commands.
MAYBE_NOTE = ("Records labelled maybe count as relevant here and in `triage screen` (a maybe is kept until "
              "decided); `triage status` and `triage prisma` count them separately.")


@dataclass(frozen=True)
class StoppingReport:
    """Everything a stopping report shows (no computation happens while rendering).

    gain: cumulative relevant after each history entry, shape (len(history),).
    prior: bool per history entry, True for PRIOR labels.
    recent_relevant: the latest relevant records as {"id", "title", "abstract"} (user text, unescaped).
    """

    target: float
    confidence: float
    n_records: int
    n_labelled: int
    n_screened: int
    n_relevant: int
    results: dict[str, RuleResult]
    gain: np.ndarray
    prior: np.ndarray
    question: str = ""
    recent_relevant: list[dict] = field(default_factory=list)
    date: str = ""             # when the report was made (ISO 8601, UTC)
    project: str = ""          # project name
    preset: str = ""           # the model preset that ranked the records
    version: str = __version__  # triage version
    n_maybe: int | None = None  # records labelled maybe (counted as relevant), when known


def build_report(history: History, inputs: RuleInputs | np.ndarray | None = None, target: float = 0.95,
                 confidence: float = 0.95, sample: CertificationSample | None = None, question: str = "",
                 recent_relevant: list[dict] | None = None, date: str | None = None, project: str = "",
                 preset: str = "", n_maybe: int | None = None) -> StoppingReport:
    """A report from a History, the model's scores (`RuleInputs`, or a bare array of pool
    probabilities of shape (n_pool,)) and an optional certification sample. `date` defaults to
    now (UTC); project, preset and n_maybe are shown as given."""
    results = evaluate_all(history, inputs, target, confidence, sample)
    n_prior, _, seq = split_prior(history)
    if date is None:
        date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return StoppingReport(target, confidence, history.n_records, len(history), len(seq), history.n_relevant,
                          results, np.cumsum(history.labels).astype(np.int64), history.origins == PRIOR,
                          question, list(recent_relevant or []), date, project, preset, __version__, n_maybe)


# -- sentences --------------------------------------------------------------------------------
def recall_sentence(result: RuleResult, confidence: float) -> str:
    """What ONE rule says about recall, e.g. 'The default rule estimates that you have found 88 %
    of the relevant records (95 % bounds: 81–96 %).' Never mixes two rules' numbers."""
    conf = pct(result.confidence if result.confidence is not None else confidence)  # the rule's own level
    est, lo, hi = result.recall_estimate, result.recall_lower, result.recall_upper
    who = f"The {result.name} rule"
    if est is not None:
        if lo is not None and hi is not None:
            a, b = round(100 * lo), round(100 * hi)
            bounds = f" ({conf} bounds: {a}–{b} %)" if a != b else f" ({conf} bounds: {a} %)"
        elif lo is not None:
            bounds = f" ({conf} confidence: at least {pct(lo)})"
        else:
            bounds = ""
        return f"{who} estimates that you have found {pct(est)} of the relevant records{bounds}."
    if lo is not None and round(100 * lo) >= 1:
        return f"{who} shows with {conf} confidence that you have found at least {pct(lo)} of the relevant records."
    if lo is not None:  # a bound of "at least 0 %" says nothing: say what is true instead
        return f"{who} cannot yet bound recall from below: too few records screened for its test."
    return "No relevant record found yet: recall cannot be estimated." if result.extra.get("r_seen", 1) == 0 else (
        f"{who} cannot estimate recall yet.")


def screen_more(result: RuleResult) -> int | None:
    """'Screen about N more records' for a rule that says continue (None when it has no number)."""
    if result.stop:
        return None
    n = result.extra.get("screen_more")
    if n is None:
        n = result.extra.get("more_irrelevant_needed")
    return None if n is None else int(n)


def default_sentence(report: "StoppingReport") -> str:
    """The report's lead: the default rule's verdict, estimate, interval, how many more records
    to screen when it says continue, and its assumption - the default rule alone."""
    if report.n_records == 0:
        return NO_RECORDS
    d = report.results["default"]
    verdict = "You may stop screening." if d.stop else "Keep screening."
    parts = [verdict, recall_sentence(d, report.confidence)]
    n = screen_more(d)
    if n:
        parts.append(f"Screen about {n} more records.")
    if not d.stop and d.recall_estimate is None and d.summary:
        parts.append(d.summary)
    if d.assumption:
        parts.append(f"Assumption: {d.assumption}")
    return " ".join(parts)


def one_line_summary(history: History, scores: RuleInputs | np.ndarray | None = None, target: float = 0.95,
                     confidence: float = 0.95) -> str:
    """One line for after each `triage screen` / `triage label` round: the default rule only.

    scores: RuleInputs (or pool probabilities of shape (n_pool,)) or None."""
    if history.n_records == 0:
        return NO_RECORDS
    d = make_rule("default", target, confidence)(history, scores)
    n_prior, _, seq = split_prior(history)
    head = f"{history.n_relevant} relevant in {len(seq)} screened of {history.n_records}"
    if d.stop:
        return f"{head}. You may stop screening. {recall_sentence(d, confidence)}"
    n = screen_more(d)
    more_txt = f" Screen about {n} more records." if n else ""
    return f"{head}. {recall_sentence(d, confidence)} Keep screening.{more_txt}"


# -- rendering --------------------------------------------------------------------------------
def _rows(report: StoppingReport) -> list[dict]:
    """Table rows of every rule but the default (which leads the report); none for a project
    without records (every rule would 'stop' on its empty pool)."""
    if report.n_records == 0:
        return []
    rows = []
    names = [n for n in RULE_ORDER if n in report.results] + [n for n in report.results if n not in RULE_ORDER]
    for name in names:
        r = report.results[name]
        if name == "default":
            continue
        if r.recall_lower is not None and r.recall_upper is not None:
            est = f"{pct(r.recall_lower)}–{pct(r.recall_upper)}"
        elif r.recall_lower is not None:
            est = f">= {pct(r.recall_lower)}"
        elif r.recall_estimate is not None:
            est = pct(r.recall_estimate)
        else:
            est = "—"
        n = screen_more(r)
        decision = "stop" if r.stop else (f"continue (about {n} more)" if n else "continue")
        rows.append({"rule": name, "decision": decision,
                     "guarantee": "yes" if r.guarantee else "no", "recall": est,
                     "confidence": pct(r.confidence) if r.confidence is not None and r.guarantee else "—",
                     "assumption": r.assumption, "summary": r.summary})
    return rows


NO_RECORDS = "No records yet: import your search exports first (triage import)."


def _headline(report: StoppingReport) -> str:
    return default_sentence(report)


def _provenance(report: StoppingReport) -> str:
    bits = [f"Date: {report.date or 'n/a'}", f"project: {report.project or 'n/a'}",
            f"preset: {report.preset or 'n/a'}", f"triage {report.version}"]
    return "; ".join(bits) + "."


def _counts(report: StoppingReport) -> str:
    maybe = f" (including {report.n_maybe} maybe)" if report.n_maybe else ""
    return (f"{report.n_relevant} relevant records found{maybe}; {report.n_screened} screened "
            f"({report.n_labelled - report.n_screened} prior labels) of {report.n_records} records; "
            f"target recall {pct(report.target)}, confidence {pct(report.confidence)}.")


def render_markdown(report: StoppingReport) -> str:
    """Markdown for the terminal (user text is shown as given)."""
    lines = ["# Stopping report", "", _provenance(report), ""]
    if report.question:
        lines += [f"Review question: {report.question}", ""]
    lines += [f"**{_headline(report)}**", "", _counts(report), f"Default rule: {DEFAULT_DESCRIPTION}.",
              MAYBE_NOTE, ""]
    rows = _rows(report)
    if rows:
        lines += ["## Other rules", "",
                  "| rule | decision | guarantee | recall | confidence | assumption |", "|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['rule']} | {r['decision']} | {r['guarantee']} | {r['recall']} | {r['confidence']} | "
                         f"{r['assumption'].replace('|', '/')} |")
        lines += ["", "## What each rule says", ""]
        d = report.results.get("default")
        if d is not None:
            lines.append(f"- **default**: {d.summary}")
        lines += [f"- **{r['rule']}**: {r['summary']}" for r in rows]
    safe = report.results.get("safe")
    if safe is not None and rows:
        lines += ["", "## SAFE checklist", ""]
        for it in safe.extra["checklist"]:
            mark = {True: "[x]", False: "[ ]", None: "[?]"}[it["met"]]
            lines.append(f"- {mark} {it['item']}")
    return "\n".join(lines) + "\n"


def render_json(report: StoppingReport) -> str:
    """Machine-readable report (all rules' RuleResult fields)."""
    return json.dumps({
        "target": report.target, "confidence": report.confidence, "n_records": report.n_records,
        "n_labelled": report.n_labelled, "n_screened": report.n_screened, "n_relevant": report.n_relevant,
        "headline": _headline(report), "default_rule": DEFAULT_DESCRIPTION, "maybe_note": MAYBE_NOTE,
        "date": report.date, "project": report.project, "preset": report.preset, "version": report.version,
        "n_maybe": report.n_maybe,
        "rules": {name: r.to_dict() for name, r in report.results.items()},
        "gain_curve": report.gain.tolist(),
    }, indent=2, default=_json_default)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def gain_axis_top(report: StoppingReport) -> float:
    """Upper y-limit of the gain curve: room for the curve and the target line, not for a wide
    upper bound (which would squash the curve to the bottom of the chart)."""
    top = max(float(report.gain.max()) if len(report.gain) else 0.0,
              report.n_relevant / report.target if report.n_relevant else 0.0)
    return max(1.0, 1.15 * top)


def gain_curve_png(report: StoppingReport) -> bytes:
    """The gain curve (relevant found vs records labelled) with the knee, the target and the
    bounds on the total number of relevant records, as PNG bytes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    x = np.arange(1, len(report.gain) + 1)
    ax.plot(x, report.gain, color="#1f5fa8", lw=1.6, label="relevant found")
    n_prior = int(report.prior.sum())
    knee = report.results.get("knee")
    if knee is not None and knee.extra.get("knee"):
        kx = n_prior + int(knee.extra["knee"])
        if 0 < kx <= len(report.gain):
            ax.plot([kx], [report.gain[kx - 1]], "o", color="#c0392b", label=f"knee (rho {knee.extra['rho']:.1f})")
    top = gain_axis_top(report)
    d = report.results.get("default")
    if d is not None and d.recall_lower and report.n_relevant:
        bound = report.n_relevant / d.recall_lower
        label = f"relevant in total, default rule's {pct(report.confidence)} upper bound ({bound:.0f})"
        if bound <= top:
            ax.axhline(bound, ls="--", color="#7f8c8d", label=label)
        else:  # drawn at the top edge: stretching the axis would flatten the real curve
            ax.plot([], [], ls="--", color="#7f8c8d", label=label + ", above the chart")
    if report.n_relevant:
        ax.axhline(report.n_relevant / report.target, ls=":", color="#27ae60",
                   label=f"total at which recall = {pct(report.target)}")
    ax.set_xlim(0, max(report.n_records, 1))
    ax.set_ylim(0, top)
    ax.set_xlabel("records labelled")
    ax.set_ylabel("relevant records found")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def render_html(report: StoppingReport) -> str:
    """One self-contained HTML page. Every piece of user or rule text goes through html.escape."""
    e = html.escape
    png = base64.b64encode(gain_curve_png(report)).decode("ascii")
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{e(r[c])}</td>" for c in ("rule", "decision", "guarantee", "recall", "confidence",
                                                        "assumption", "summary")) + "</tr>"
        for r in _rows(report))
    recent = "\n".join(f"<li><b>{e(r['title'])}</b><br><span class=abs>{e(r['abstract'][:600])}</span></li>"
                       for r in report.recent_relevant)
    checklist = ""
    safe = report.results.get("safe")
    if safe is not None:
        items = "".join(f"<li>{ {True: '&#9745;', False: '&#9744;', None: '?'}[it['met']] } {e(it['item'])}</li>"
                        for it in safe.extra["checklist"])
        checklist = f"<h2>SAFE checklist</h2><ul>{items}</ul>"
    question = f"<p>Review question: {e(report.question)}</p>" if report.question else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Stopping report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:90%}}td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top}}
.head{{font-size:120%;font-weight:bold}}.abs{{color:#555;font-size:90%}}</style></head><body>
<h1>Stopping report</h1>
<p>{e(_provenance(report))}</p>
{question}
<p class=head>{e(_headline(report))}</p>
<p>{e(_counts(report))} Default rule: {e(DEFAULT_DESCRIPTION)}.</p>
<p>{e(MAYBE_NOTE)}</p>
<img alt="gain curve" src="data:image/png;base64,{png}">
<h2>Other rules</h2>
<table><tr><th>rule</th><th>decision</th><th>guarantee</th><th>recall</th><th>confidence</th><th>assumption</th>
<th>summary</th></tr>
{rows}
</table>
{checklist}
<h2>Latest relevant records</h2><ul>{recent}</ul>
</body></html>
"""
