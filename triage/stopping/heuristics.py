"""Heuristic stopping rules (no statistical guarantee; `guarantee=False`, said in the summary).

* consecutive_irrelevant: stop after a run of N irrelevant screened records (ASReview practice).
* knee and budget: Cormack, G. V. & Grossman, M. R. (2016). Engineering quality and reliability
  in technology-assisted review. SIGIR '16, 75-84. doi:10.1145/2911451.2911510
* safe: Boetje, J. & van de Schoot, R. (2024). The SAFE procedure: a practical stopping
  heuristic for active learning-based screening in systematic reviews and meta-analyses.
  Systematic Reviews 13:81. doi:10.1186/s13643-024-02502-7

All work on the screened sequence (RANKED + RANDOM in order); relevant PRIOR labels count
toward "relevant found".
"""

from __future__ import annotations

import math

import numpy as np

from triage.stopping.base import ALL_SCREENED, RuleResult, pct, split_prior
from triage.history import RANDOM, History

NO_GUARANTEE = "Heuristic, no statistical guarantee."


def _said(history: History, summary: str) -> str:
    """A rule's summary, unless the pool is empty: then it stops for that reason alone."""
    return ALL_SCREENED if history.n_pool == 0 else summary


def trailing_irrelevant(seq: np.ndarray) -> int:
    """Length of the run of 0s at the end of a 0/1 sequence."""
    ones = np.flatnonzero(seq)
    return int(len(seq) - (ones[-1] + 1)) if ones.size else int(len(seq))


def consecutive_irrelevant(history: History, n: int = 50) -> RuleResult:
    """Stop after the last `n` screened records were all irrelevant (data-driven heuristic used
    with ASReview; default 50). extra = {run, needed}."""
    _, _, seq = split_prior(history)
    run = trailing_irrelevant(seq)
    stop = run >= n or history.n_pool == 0
    summary = _said(history, f"{'Stop' if stop else 'Continue'}: the last {run} screened records were "
                             f"irrelevant (rule: {n}). {NO_GUARANTEE}")
    return RuleResult("consecutive_irrelevant", bool(stop), False, extra={"run": run, "needed": n},
                      assumption=f"After {n} irrelevant records in a row few relevant remain.", summary=summary)


def knee_point(y: np.ndarray) -> tuple[int, float]:
    """(knee rank i in 1..s-1, slope ratio rho) of a gain curve.

    y: cumulative relevant found after 1..s screened records, shape (s,). The knee is the point of
    the curve farthest above the straight line from (0, 0) to (s, y_s) (Satopaa et al.'s
    "Kneedle", as used by Cormack & Grossman 2016); the slope ratio is
    rho = (y_i / i) / ((y_s - y_i + 1) / (s - i)). (0, 0.0) when s < 2.
    """
    s = len(y)
    if s < 2:
        return 0, 0.0
    i = np.arange(1, s)
    dist = y[:-1] * s - i * y[-1]
    j = int(np.argmax(dist))
    knee = j + 1
    yk = float(y[j])
    rho = (yk / knee) / ((float(y[-1]) - yk + 1.0) / (s - knee))
    return knee, float(rho)


def knee(history: History, min_screened: int = 150) -> RuleResult:
    """Cormack & Grossman (2016) knee method: stop when at least `min_screened` (150) records are
    screened and the slope ratio at the knee rho >= 156 - min(relret, 150), relret = relevant
    found (so rho >= 6 once 150 relevant are found; much steeper knees are required before).
    extra = {knee, rho, rho_needed, screened}."""
    _, r_prior, seq = split_prior(history)
    y = np.cumsum(seq)
    s = len(seq)
    relret = r_prior + int(seq.sum())
    k, rho = knee_point(y)
    need = 156 - min(relret, 150)
    stop = (s >= min_screened and rho >= need and relret > 0) or history.n_pool == 0
    summary = _said(history, f"{'Stop' if stop else 'Continue'}: slope ratio at the knee (record {k}) is "
                             f"{rho:.1f}, needs {need} after at least {min_screened} screened (now {s}). {NO_GUARANTEE}")
    return RuleResult("knee", bool(stop), False,
                      extra={"knee": k, "rho": rho, "rho_needed": need, "screened": s},
                      assumption="The gain curve flattens after a knee once most relevant records are found.",
                      summary=summary)


def budget(history: History) -> RuleResult:
    """Cormack & Grossman (2016) budget method: stop when (rho >= 6 at the knee and the records
    screened s >= 10 * N / relret -- the expected cost of drawing a 10-relevant target set) or
    when s >= 0.75 N. extra = {knee, rho, screened, budget}."""
    _, r_prior, seq = split_prior(history)
    y = np.cumsum(seq)
    s = len(seq)
    N = history.n_records
    relret = r_prior + int(seq.sum())
    k, rho = knee_point(y)
    bud = 10.0 * N / relret if relret else math.inf
    stop = (rho >= 6 and s >= bud) or s >= 0.75 * N or history.n_pool == 0
    summary = _said(history, f"{'Stop' if stop else 'Continue'}: slope ratio {rho:.1f} (needs 6), {s} screened "
                             f"of a budget of {bud:.0f} (or 75 % of records). {NO_GUARANTEE}")
    return RuleResult("budget", bool(stop), False,
                      extra={"knee": k, "rho": rho, "screened": s, "budget": None if math.isinf(bud) else bud},
                      assumption="The gain curve flattens after a knee once most relevant records are found.",
                      summary=summary)


def safe(history: History, run: int = 50, min_fraction: float = 0.10, random_fraction: float = 0.01) -> RuleResult:
    """The parts of the SAFE procedure (Boetje & van de Schoot 2024) that are functions of the
    history. SAFE: (S) screen a random training set, (A) apply active learning until all of
    -- at least twice the estimated number of relevant records screened, at least `min_fraction`
    (10 %) of the records screened, and `run` (50) irrelevant records in a row --, (F) switch to a
    different model and screen until another `run` irrelevant in a row, (E) evaluate quality
    (e.g. a second screener checks excluded top-ranked records).

    The estimated number of relevant records comes from the random records (origin RANDOM,
    prevalence x N) when at least `random_fraction` of records were screened at random; otherwise
    relevant found so far is used (a lower estimate: the check is then weaker). Phases F and E are
    reported as items the reviewer must do. extra = {checklist: [{item, met}], ...}.
    """
    _, r_prior, seq = split_prior(history)
    s = len(seq)
    N = history.n_records
    relret = r_prior + int(seq.sum())
    rnd = history.origins == RANDOM
    n_rnd = int(rnd.sum())
    has_random = n_rnd >= max(1, math.ceil(random_fraction * N))
    est_rel = (history.labels[rnd].sum() / n_rnd * N) if has_random else float(relret)
    tail = trailing_irrelevant(seq)
    items = [
        {"item": f"random training set screened (>= {pct(random_fraction)} of records; {n_rnd} so far)", "met": bool(has_random)},
        {"item": f"screened >= 2 x estimated relevant ({s} vs {2 * est_rel:.0f})", "met": bool(s >= 2 * est_rel)},
        {"item": f"screened >= {pct(min_fraction)} of records ({s} of {N})", "met": bool(s >= min_fraction * N)},
        {"item": f"last {run} screened records irrelevant ({tail} so far)", "met": bool(tail >= run)},
        {"item": f"switch to a different model and screen until {run} more irrelevant in a row (manual)", "met": None},
        {"item": "quality check of excluded records by a second screener (manual)", "met": None},
    ]
    stop = all(it["met"] for it in items[1:4]) or history.n_pool == 0
    met = sum(1 for it in items if it["met"])
    summary = _said(history, f"SAFE: {met} of {len(items) - 2} checkable items met; "
                             f"{'phase A may end: switch model and check quality next' if stop else 'keep screening'}. "
                             f"{NO_GUARANTEE}")
    return RuleResult("safe", bool(stop), False,
                      extra={"checklist": items, "estimated_relevant": float(est_rel)},
                      assumption="Conservative combination of heuristics; the model switch and quality check are manual.",
                      summary=summary)
