"""The stopping report: every stopping rule side by side, the gain curve and one plain sentence.

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

import numpy as np

from triage.stopping import CertificationSample, RuleResult, evaluate_all, make_rule
from triage.stopping.base import pct, split_prior
from triage.stopping.rules import DEFAULT_DESCRIPTION
from triage.history import PRIOR, History

RULE_ORDER = ("default", "statistical", "statistical_midp", "random_sample", "quantci", "knee", "budget", "safe",
              "consecutive_irrelevant")


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


def build_report(history: History, pool_scores: np.ndarray | None = None, target: float = 0.95,
                 confidence: float = 0.95, sample: CertificationSample | None = None, question: str = "",
                 recent_relevant: list[dict] | None = None) -> StoppingReport:
    """A report from a History (+ optional pool probabilities of shape (n_pool,) and a sample)."""
    results = evaluate_all(history, pool_scores, target, confidence, sample)
    results["statistical_midp"] = make_rule("statistical_midp", target, confidence)(history, pool_scores)
    n_prior, _, seq = split_prior(history)
    return StoppingReport(target, confidence, history.n_records, len(history), len(seq), history.n_relevant,
                          results, np.cumsum(history.labels).astype(np.int64), history.origins == PRIOR,
                          question, list(recent_relevant or []))


# -- sentences --------------------------------------------------------------------------------
def recall_sentence(results: dict[str, RuleResult], confidence: float) -> str:
    """e.g. 'You have found an estimated 93–97 % of the relevant records (95 % confidence: at least 91 %).'

    The estimate range comes from the model-based or sample-based rules (quantci, random_sample),
    the confidence bound from the exact statistical rule (falling back to the default rule)."""
    bound = results.get("statistical") or results.get("default")
    lower = bound.recall_lower if bound is not None else None
    est = None
    for name in ("random_sample", "quantci"):
        r = results.get(name)
        if r is not None and r.recall_estimate is not None:
            lo = r.recall_lower if r.recall_lower is not None else r.recall_estimate
            hi = r.recall_upper if r.recall_upper is not None else r.recall_estimate
            est = (lo, hi)
            break
    conf = pct(confidence)
    if est is None and lower is None:
        return "No relevant record found yet: recall cannot be estimated."
    if est is None:
        return f"With {conf} confidence you have found at least {pct(lower)} of the relevant records."
    a, b = round(100 * est[0]), round(100 * est[1])
    rng = f"{a} %" if a == b else f"{a}–{b} %"
    tail = f" ({conf} confidence: at least {pct(lower)})" if lower is not None else ""
    return f"You have found an estimated {rng} of the relevant records{tail}."


def one_line_summary(history: History, scores: np.ndarray | None = None, target: float = 0.95,
                     confidence: float = 0.95) -> str:
    """One line for after each `triage screen` / `triage label` round.

    scores: pool probabilities (shape (n_pool,)) or None. Evaluates only the default rule (and
    QuantCI when scores are given), so it is cheap enough to call every round."""
    if history.n_records == 0:
        return NO_RECORDS
    d = make_rule("default", target, confidence)(history, scores)
    results = {"default": d, "statistical": make_rule("statistical", target, confidence)(history, scores)}
    if scores is not None:
        results["quantci"] = make_rule("quantci", target, confidence)(history, scores)
    n_prior, _, seq = split_prior(history)
    head = f"{history.n_relevant} relevant in {len(seq)} screened of {history.n_records}"
    if d.stop:
        return f"{head}. Stopping rule: you may stop ({pct(target)} recall reached with {pct(confidence)} confidence)."
    more = d.extra.get("more_irrelevant_needed")
    more_txt = f"; about {more} more irrelevant in a row would allow stopping" if more else ""
    return f"{head}. {recall_sentence(results, confidence)} Keep screening{more_txt}."


# -- rendering --------------------------------------------------------------------------------
def _rows(report: StoppingReport) -> list[dict]:
    rows = []
    for name in RULE_ORDER:
        r = report.results.get(name)
        if r is None:
            continue
        if r.recall_lower is not None and r.recall_upper is not None:
            est = f"{pct(r.recall_lower)}–{pct(r.recall_upper)}"
        elif r.recall_lower is not None:
            est = f">= {pct(r.recall_lower)}"
        elif r.recall_estimate is not None:
            est = pct(r.recall_estimate)
        else:
            est = "—"
        rows.append({"rule": name, "decision": "stop" if r.stop else "continue",
                     "guarantee": "yes" if r.guarantee else "no", "recall": est,
                     "confidence": pct(r.confidence) if r.confidence is not None and r.guarantee else "—",
                     "assumption": r.assumption, "summary": r.summary})
    return rows


NO_RECORDS = "No records yet: import your search exports first (triage import)."


def _headline(report: StoppingReport) -> str:
    if report.n_records == 0:  # every rule "stops" on an empty pool; say what is really the matter
        return NO_RECORDS
    d = report.results["default"]
    verdict = "You may stop screening." if d.stop else "Keep screening."
    return f"{verdict} {recall_sentence(report.results, report.confidence)}"


def render_markdown(report: StoppingReport) -> str:
    """Markdown for the terminal (user text is shown as given)."""
    lines = ["# Stopping report", ""]
    if report.question:
        lines += [f"Review question: {report.question}", ""]
    lines += [f"**{_headline(report)}**", "",
              f"{report.n_relevant} relevant records found; {report.n_screened} screened "
              f"({report.n_labelled - report.n_screened} prior labels) of {report.n_records} records; "
              f"target recall {pct(report.target)}, confidence {pct(report.confidence)}.",
              f"Default rule: {DEFAULT_DESCRIPTION}.", "",
              "| rule | decision | guarantee | recall | confidence | assumption |", "|---|---|---|---|---|---|"]
    for r in _rows(report):
        lines.append(f"| {r['rule']} | {r['decision']} | {r['guarantee']} | {r['recall']} | {r['confidence']} | "
                     f"{r['assumption'].replace('|', '/')} |")
    lines += ["", "## What each rule says", ""]
    lines += [f"- **{r['rule']}**: {r['summary']}" for r in _rows(report)]
    safe = report.results.get("safe")
    if safe is not None:
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
        "headline": _headline(report), "default_rule": DEFAULT_DESCRIPTION,
        "rules": {name: r.to_dict() for name, r in report.results.items()},
        "gain_curve": report.gain.tolist(),
    }, indent=2, default=_json_default)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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
    stat = report.results.get("statistical") or report.results.get("default")
    if stat is not None and stat.recall_lower:
        ax.axhline(report.n_relevant / stat.recall_lower, ls="--", color="#7f8c8d",
                   label=f"relevant in total, {pct(report.confidence)} upper bound")
    if report.n_relevant:
        ax.axhline(report.n_relevant / report.target, ls=":", color="#27ae60",
                   label=f"total at which recall = {pct(report.target)}")
    ax.set_xlim(0, report.n_records)
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
{question}
<p class=head>{e(_headline(report))}</p>
<p>{report.n_relevant} relevant records found; {report.n_screened} screened ({report.n_labelled - report.n_screened}
prior labels) of {report.n_records} records; target recall {e(pct(report.target))}, confidence
{e(pct(report.confidence))}. Default rule: {e(DEFAULT_DESCRIPTION)}.</p>
<img alt="gain curve" src="data:image/png;base64,{png}">
<h2>Stopping rules</h2>
<table><tr><th>rule</th><th>decision</th><th>guarantee</th><th>recall</th><th>confidence</th><th>assumption</th>
<th>summary</th></tr>
{rows}
</table>
{checklist}
<h2>Latest relevant records</h2><ul>{recent}</ul>
</body></html>
"""
