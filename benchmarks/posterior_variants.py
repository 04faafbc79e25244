"""Variants of the posterior stopping rule (issue #12) and bounds on what its family can reach, on
simulation histories, with posterior_loro.py's check points, bands and selection:

* the rule's own candidates (b x spike x C) chosen by leave-one-review-out: reproduces
  posterior_loro.py's held-out row, the baseline for the rest;
* `--tail-a`: the share of relevant records the ranking cannot find spread as a decaying power law
  (1 - a) t^-a instead of evenly, `a` with a uniform prior on the given grid (0 = the rule's model);
* two regimes: one candidate while fewer than X relevant records (or a share r / N < X) are
  found, another after; the pair, with X, chosen by leave-one-review-out;
* the per-band bound: in each true prevalence band the cheapest candidate reliable there, chosen
  on all runs (in sample, and a rule cannot know the band: no candidate of the family beats it);
* gap rules, in sample: stop after max(a, f M) or max(a, c s / (r + 1)) irrelevant records in a
  row (s screened, r relevant among them, M records after the priors).

    python benchmarks/posterior_variants.py --histories H/histories.jsonl HQ/histories.jsonl \
        [--tail-a 0,0.25,0.5,0.7,0.85] [--train-reliability 0.97] --out benchmarks/results/stopping_posterior_variants.md
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from posterior_loro import _floats, write_out  # noqa: E402
from stopping_eval import (POST_CONFS, POST_PRIORS, PREV_BANDS, RELIABILITY, TARGETS, _history,  # noqa: E402
                           check_step, load_runs, oracle_index, post_name)

from triage.history import PRIOR  # noqa: E402
from triage.simulate.benchmark import overlap_groups  # noqa: E402
from triage.stopping import posterior  # noqa: E402
from triage.stopping.dist import clopper_pearson  # noqa: E402

#: Two-regime switch points: relevant records found (r >= X) or their share of all records (r / N >= X).
SWITCH_R = (10, 20, 40)
SWITCH_SHARE = (0.02, 0.05, 0.10)
GAP_A = ((50, 100, 200, 300, 500, 800), (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3))
GAP_B = ((50, 100, 200), (2, 3, 4, 6, 8, 10, 15, 20))


def likelihood(positions: np.ndarray, tau: float, tail_a: tuple[float, ...]):
    """posterior.log_likelihood over (k, phi) for each tail exponent, the (a, k) axes flattened
    into the first (a uniform prior on the a grid; `posterior.posterior` adds phi's prior)."""
    parts = [posterior.log_likelihood(positions, tau, a) for a in tail_a]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def replay(run: dict, tail_a: tuple[float, ...] = (0.0,)) -> dict:
    """One run: at every check point the posterior's P(enough found) for each (b, spike) prior and
    target (shape checks x priors x targets), the relevant records found, and the run of
    irrelevant records at the end of the screened sequence."""
    h, R, _ = _history(run)
    N, L = h.n_records, len(h)
    n_prior = int((h.origins == PRIOR).sum())
    labels = h.labels.astype(int)
    found = np.concatenate([[0], np.cumsum(labels)])
    M = N - n_prior
    ks = np.array(list(range(n_prior + check_step(N), L, check_step(N))) + [L])
    P = np.zeros((len(ks), len(POST_PRIORS), len(TARGETS)))
    for i, k in enumerate(ks):
        seq = labels[n_prior:k]
        r, pool = int(found[k]), N - k
        if pool == 0:
            P[i:] = 1.0
            break
        if seq.sum() < posterior.MIN_RELEVANT:
            continue
        like = likelihood((np.flatnonzero(seq) + 0.5) / M, len(seq) / M, tail_a)
        cdf = [posterior.enough_cdf(like[1].ravel(), r, pool, t) for t in TARGETS]
        for j, bs in enumerate(POST_PRIORS):
            w, _ = posterior.posterior(None, len(seq) / M, *bs, likelihood=like)
            P[i, j] = [1.0 if c is None else float((w * c).sum()) for c in cdf]
    ones = np.flatnonzero(labels[n_prior:])
    s = ks - n_prior
    before = np.searchsorted(ones, s) - 1                       # index of the last relevant before s
    trail = s - np.where(before >= 0, ones[np.clip(before, 0, None)] + 1, 0)
    oracle = {t: oracle_index(found, R, t) for t in TARGETS}
    return {"dataset": run["dataset"], "R": R, "N": N, "n_prior": n_prior, "ks": ks, "found": found[ks],
            "found_end": int(found[L]), "L": L, "P": P, "trail": trail, "r_seq": before + 1,
            "oracle": {t: ((o - n_prior) / N, found[o] / R) for t, o in oracle.items()}}


class Table:
    """Every candidate's cost and success on every run at one target: rows = runs, columns =
    candidates (`add` appends columns from per-run stop indices)."""

    def __init__(self, runs: list[dict], target: float):
        self.runs, self.t = runs, target
        self.names: list[str] = []
        self.cost: list[np.ndarray] = []
        self.ok: list[np.ndarray] = []

    def add(self, names: list[str], stop_masks) -> None:
        """stop_masks(run) -> (len(names), checks) booleans; the first True is the stop (the
        whole history when none)."""
        cost = np.zeros((len(self.runs), len(names)))
        ok = np.zeros((len(self.runs), len(names)), bool)
        for i, run in enumerate(self.runs):
            m = stop_masks(run)
            n = m.shape[1]
            idx = np.where(m.any(1), m.argmax(1), n)
            k = np.append(run["ks"], run["L"])[idx]
            cost[i] = (k - run["n_prior"]) / run["N"]
            ok[i] = np.append(run["found"], run["found_end"])[idx] / run["R"] >= self.t - 1e-12
        self.names += names
        self.cost.append(cost)
        self.ok.append(ok)

    def arrays(self):
        return np.hstack(self.cost), np.hstack(self.ok)


def reliable(ok: np.ndarray, rows: np.ndarray, setting: np.ndarray, band: np.ndarray,
             level: float = RELIABILITY) -> np.ndarray:
    """Per column: reliability >= level over `rows` of each setting, overall and in every
    prevalence band present (posterior_loro.reliable, vectorised over candidates)."""
    good = np.ones(ok.shape[1], bool)
    for s in np.unique(setting[rows]):
        m = rows & (setting == s)
        good &= ok[m].mean(0) >= level
        for b in np.unique(band[m]):
            good &= ok[m & (band == b)].mean(0) >= level
    return good


def choose(cost, ok, rows, setting, band, allowed, level: float = RELIABILITY) -> int | None:
    """The cheapest allowed column reliable on `rows` (posterior_loro.choose); None when none is."""
    good = reliable(ok, rows, setting, band, level) & allowed
    if not good.any():
        return None
    mean = cost[rows].mean(0)
    mean[~good] = np.inf
    return int(np.argmin(mean))


def summary(label: str, cost: np.ndarray, ok: np.ndarray, oracle: np.ndarray, band: np.ndarray, note: str) -> str:
    lo, hi = clopper_pearson(int(ok.sum()), len(ok), 0.95)
    bands = " | ".join(f"{int(ok[band == b].sum())}/{int((band == b).sum())}" for b in range(len(PREV_BANDS)))
    return (f"| {label} | {ok.mean():.1%} ({lo:.1%}–{hi:.1%}) | {cost.mean():.1%} | {np.median(cost):.1%} | "
            f"{(cost - oracle).mean():+.1%} | {bands} | {note} |")


def evaluate(runs: list[dict], t: float, setting: np.ndarray, level: float = RELIABILITY) -> list[str]:
    """The target's table: LORO of single candidates and of two-regime pairs, the per-band bound
    and the gap rules in sample; `level`: the reliability the LORO selection requires on the
    training reviews (the bounds always use RELIABILITY)."""
    ti = TARGETS.index(t)
    singles = [(j, c) for j in range(len(POST_PRIORS)) for c in POST_CONFS]
    single_names = [post_name(*POST_PRIORS[j], c) for j, c in singles]
    tab = Table(runs, t)

    def masks(run):
        return np.stack([run["P"][:, j, ti] >= c for j, c in singles])

    tab.add(single_names, masks)
    regimes = [("r", x) for x in SWITCH_R] + [("r/N", x) for x in SWITCH_SHARE]
    for kind, x in regimes:
        def pair_masks(run, kind=kind, x=x):
            m = masks(run)
            late = (run["found"] if kind == "r" else run["found"] / run["N"]) >= x
            return ((m[:, None, :] & ~late) | (m[None, :, :] & late)).reshape(-1, m.shape[1])
        tab.add([f"{a} then {b} at {kind} >= {x:g}" for a in single_names for b in single_names], pair_masks)
    gap_names, gap_fns = [], []
    for a in GAP_A[0]:
        for f in GAP_A[1]:
            gap_names.append(f"gap max({a}, {f:g} M)")
            gap_fns.append(lambda run, a=a, f=f: (run["trail"] >= max(a, f * (run["N"] - run["n_prior"])))
                           & (run["r_seq"] >= 1))
    for a in GAP_B[0]:
        for c in GAP_B[1]:
            gap_names.append(f"gap max({a}, {c} s / (r + 1))")
            gap_fns.append(lambda run, a=a, c=c: run["trail"] >= np.maximum(a, c * (run["ks"] - run["n_prior"])
                                                                             / (run["r_seq"] + 1)))
    tab.add(gap_names, lambda run: np.stack([fn(run) for fn in gap_fns]))
    cost, ok = tab.arrays()
    names = np.array(tab.names)
    n_single, n_pairs = len(singles), len(regimes) * len(singles) ** 2
    kind = np.array(["single"] * n_single + ["pair"] * n_pairs + ["gap"] * len(gap_names))
    prev = np.array([r["R"] / r["N"] for r in runs])
    band = np.array([next(i for i, (_, a, b) in enumerate(PREV_BANDS) if a <= p < b) for p in prev])
    datasets = np.array([r["dataset"] for r in runs])
    oracle = np.array([r["oracle"][t][0] for r in runs])
    everyone = np.ones(len(runs), bool)
    lines = []
    for label, allowed in [("single candidate (the rule's selection)", kind == "single"),
                           ("two regimes (single candidates included)", kind != "gap")]:
        hc, hok, chosen = np.zeros(len(runs)), np.zeros(len(runs), bool), {}
        for g in overlap_groups(sorted(set(datasets))):
            test = np.isin(datasets, g)
            best = choose(cost, ok, ~test, setting, band, allowed, level)
            hc[test], hok[test] = (1.0, True) if best is None else (cost[test, best], ok[test, best])
            key = "screen everything (none reliable)" if best is None else names[best]
            chosen[key] = chosen.get(key, 0) + int(test.sum())
        top = ", ".join(f"{c} ({n})" for c, n in sorted(chosen.items(), key=lambda x: -x[1])[:2])
        lines.append(summary(f"LORO, {label}, held out", hc, hok, oracle, band, f"chosen: {top}"))
        best = choose(cost, ok, everyone, setting, band, allowed, level)
        if best is not None:
            lines.append(summary(f"in sample, {label}", cost[:, best], ok[:, best], oracle, band, names[best]))
    # Per-band bound: each band's cheapest single candidate reliable in that band (every setting).
    bc, bok, picks = np.zeros(len(runs)), np.zeros(len(runs), bool), []
    for b in range(len(PREV_BANDS)):
        rows = band == b
        best = choose(cost, ok, rows, setting, band, kind == "single")
        bc[rows], bok[rows] = (1.0, True) if best is None else (cost[rows, best], ok[rows, best])
        picks.append(f"{PREV_BANDS[b][0]}: {'none' if best is None else names[best]}")
    lines.append(summary("per-band bound (true band known, in sample)", bc, bok, oracle, band, "; ".join(picks)))
    best = choose(cost, ok, everyone, setting, band, kind == "gap")
    if best is not None:
        lines.append(summary("gap rules, best in sample", cost[:, best], ok[:, best], oracle, band, names[best]))
    lines.append(summary("oracle", oracle, np.ones(len(runs), bool), oracle, band, ""))
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--histories", type=Path, nargs="+", required=True,
                    help="one histories.jsonl per setting (the selection requires reliability in each)")
    ap.add_argument("--tail-a", default="0", help="comma-separated power-law tail exponents in [0, 1) "
                                                  "(default 0: the rule's even share)")
    ap.add_argument("--train-reliability", type=float, default=RELIABILITY,
                    help="reliability the selection requires on the training reviews (a margin against overfitting)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    tail_a = _floats(args.tail_a)
    runs, setting = [], []
    with ProcessPoolExecutor(args.workers) as ex:
        for path in args.histories:
            got = list(ex.map(partial(replay, tail_a=tail_a), load_runs(path), chunksize=1))
            runs += got
            setting += [f"{path.parent.name}/{path.name}"] * len(got)
    setting = np.array(setting)
    lines = ["# Posterior stopping rule: variants and bounds (issue #12)", "",
             f"{', '.join(dict.fromkeys(setting))}: {len(runs)} runs, {len({r['dataset'] for r in runs})} datasets. "
             f"Tail exponents a: {', '.join(f'{a:g}' for a in tail_a)} (0 = the rule's even share). "
             f"The selection requires reliability >= {args.train_reliability:g} on the training reviews. "
             "Produced by benchmarks/posterior_variants.py.", ""]
    for t in TARGETS:
        lines += [f"## Target recall {t:.2f}", "",
                  "| rule | reliability (CP 95 %) | mean cost | median | excess | "
                  + " | ".join(f"prev {b[0]}" for b in PREV_BANDS) + " | chosen |",
                  "|---|---|---|---|---|" + "---|" * len(PREV_BANDS) + "---|",
                  *evaluate(runs, t, setting, args.train_reliability), ""]
    write_out(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
