"""Evaluate the stopping rules on simulation histories (or synthetic rankings until they exist).

Usage:
    python benchmarks/stopping_eval.py --histories runs.jsonl [--out benchmarks/results/stopping.md]
    python benchmarks/stopping_eval.py --synthetic 100 --seed 0     # synthetic rankings

Input format (JSON lines, one simulation run per line):
    {"dataset": str, "seed": int, "n_records": int,
     "order":   [row indices in labelling order, PRIOR labels first],
     "labels":  [gold 0/1 of those rows, in that order],
     "origins": [0 prior / 1 ranked / 2 random, per entry],
     "n_relevant": int,          # optional: relevant records in the whole dataset
                                 #   (default: sum(labels), i.e. the run reached the last relevant record)
     "pool_scores": optional     # calibrated P(relevant) per row index (for quantci), either one list of
                                 #   n_records floats, or [{"k": int, "probs": [n_records floats]}, ...]
                                 #   snapshots from the model trained on the first k entries (the latest
                                 #   snapshot with k_snap <= k is used at prefix k); "pool_probabilities"
                                 #   takes precedence when present. A final-pool-only list (the engine's
                                 #   `history_record`) cannot be replayed: quantci is skipped for that run.
     other keys (e.g. "preset") are ignored}

Replay. Simulations stop at the last relevant record, so every record after the labelled
sequence is irrelevant: when n_relevant == sum(labels) the sequence is extended with the
remaining records as irrelevant RANKED decisions (exact for every rule that reads only labels;
quantci keeps using the last snapshot). A rule that never fires even then stops at n_records.
When the run did not reach every relevant record (n_relevant > sum(labels)) nothing is extended
and a rule that never fires counts as stopping at the end of the labelled sequence.

Measures per rule and target (0.95 and 0.90, confidence 0.95):
    reliability  share of runs whose recall at the stop reaches the target (Clopper–Pearson 95 % CI)
    cost         share of records screened at the stop (RANKED + RANDOM, certification samples included)
    excess       cost minus the oracle's (the first point where the target recall is reached)
    recall       median recall at the stop.

`sample_on_run50`: when 50 irrelevant records in a row are first seen, draw the certification
sample that would certify the target if it held no relevant record (`certification_sample_size`),
label it (cost), and stop if `random_sample` certifies; otherwise fall back to the statistical
rule's stop (sample records screened later in the ranking are not paid twice). Approximate in one
respect: the fall-back replays the original sequence, as if the sample had not left the pool.

Synthetic rankings (--synthetic): n_records in [1000, 6000], prevalence in [0.5 %, 4 %]; record
scores ~ N(0, 1) for irrelevant, N(d, 1) for relevant with d ~ U(2, 4) ("easy") or, for a share
~ U(0, 0.3) of relevant records, d ~ U(0.5, 1.5) ("hard"); labelling order = descending score
after one relevant and one irrelevant prior; pool_scores from a deliberately misspecified model
that ignores the hard records (so quantci sees realistic over-confidence). A static ranking is
not active learning: these figures rank the rules, the SYNERGY simulations decide.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import norm

from triage.stopping import CertificationSample, certification_sample_size, first_stop, make_rule, random_sample
from triage.stopping.dist import clopper_pearson
from triage.history import PRIOR, RANDOM, RANKED, History

TARGETS = (0.95, 0.90)
CONFIDENCE = 0.95
RULES = ("default", "statistical", "statistical_midp", "consecutive_irrelevant", "knee", "budget", "safe", "quantci",
         "statistical|quantci", "sample_on_run50")  # quantci before statistical|quantci (it reuses both)


def synthetic_run(seed: int) -> dict:
    rng = np.random.default_rng([seed, 7])
    N = int(rng.integers(1000, 6001))
    prev = rng.uniform(0.005, 0.04)
    R = max(5, int(rng.binomial(N, prev)))
    hard_share = rng.uniform(0.0, 0.3)
    hard = rng.random(R) < hard_share
    d = np.where(hard, rng.uniform(0.5, 1.5), rng.uniform(2.0, 4.0))
    d_easy = float(d[~hard].mean()) if (~hard).any() else 3.0
    gold = np.zeros(N, dtype=np.int8)
    gold[:R] = 1
    score = rng.normal(0, 1, N)
    score[:R] += d
    perm = rng.permutation(N)                      # row indices are shuffled
    gold, score = gold[perm], score[perm]
    rel, irr = np.flatnonzero(gold), np.flatnonzero(gold == 0)
    priors = [int(rng.choice(rel)), int(rng.choice(irr))]
    rest = np.setdiff1d(np.arange(N), priors)
    rest = rest[np.argsort(-score[rest], kind="stable")]
    order = np.concatenate([priors, rest])
    labels = gold[order]
    last = int(np.flatnonzero(labels)[-1]) + 1
    pi = R / N
    l1, l0 = pi * norm.pdf(score - d_easy), (1 - pi) * norm.pdf(score)
    probs = l1 / (l1 + l0)
    return {"dataset": f"synthetic-{seed}", "seed": seed, "n_records": N, "order": order[:last].tolist(),
            "labels": labels[:last].tolist(), "origins": [0, 0] + [1] * (last - 2), "n_relevant": R,
            "pool_scores": probs.tolist()}


def _scores_at(run: dict, order: np.ndarray):
    """k -> pool probabilities, or None when the run has no usable per-prefix probabilities.

    A list of floats shorter than n_records is the simulation engine's final-pool snapshot
    (`pool_probabilities` / `pool_scores` of the sorted unlabelled rows after the last label):
    it only describes the end of the run, where every relevant record is found, so replaying
    quantci on it would be meaningless -- such runs skip quantci."""
    ps = run.get("pool_probabilities", run.get("pool_scores"))
    if ps is None or not len(ps):
        return None
    N = run["n_records"]
    if isinstance(ps[0], dict):
        snaps = sorted((int(s["k"]), np.asarray(s["probs"], dtype=float)) for s in ps)
    elif len(ps) == N:
        snaps = [(0, np.asarray(ps, dtype=float))]
    else:
        return None
    if any(np.nanmin(p) < 0 or np.nanmax(p) > 1 for _, p in snaps):
        return None  # scores, not probabilities
    ks = [k for k, _ in snaps]

    def at(k: int) -> np.ndarray | None:
        i = int(np.searchsorted(ks, k, side="right")) - 1
        if i < 0:
            return None
        mask = np.ones(N, dtype=bool)
        mask[order[:k]] = False
        return snaps[i][1][mask]
    return at


def replay_run(run: dict) -> dict:
    """{target: {rule: (stop_k, screened_cost, recall)}, plus 'oracle'} for one run."""
    N = int(run["n_records"])
    order = np.asarray(run["order"], dtype=np.int64)
    labels = np.asarray(run["labels"], dtype=np.int8)
    origins = np.asarray(run["origins"], dtype=np.int8)
    R = int(run.get("n_relevant", int(labels.sum())))
    if R == int(labels.sum()) and len(order) < N:   # extend: everything left is irrelevant
        rest = np.setdiff1d(np.arange(N), order)
        order = np.concatenate([order, rest])
        labels = np.concatenate([labels, np.zeros(len(rest), dtype=np.int8)])
        origins = np.concatenate([origins, np.full(len(rest), RANKED, dtype=np.int8)])
    L = len(order)
    h = History(order, labels, origins, np.zeros(L, dtype=np.int32), N)
    found = np.concatenate([[0], np.cumsum(labels)])
    screened = np.concatenate([[0], np.cumsum(origins != PRIOR)])
    scores_at = _scores_at(run, order)
    out: dict = {"n_records": N}
    fixed = {}  # rules that do not depend on the target are replayed once
    for name in ("consecutive_irrelevant", "knee", "budget", "safe"):
        k = first_stop(h, name)
        fixed[name] = L if k is None else k
    for target in TARGETS:
        need = math.ceil(target * R - 1e-9)
        oracle = int(np.argmax(found >= need))
        res = {"oracle": (oracle, screened[oracle] / N, found[oracle] / R)}
        stat_k = None
        for name in RULES:
            if name in ("quantci", "statistical|quantci") and scores_at is None:
                continue
            if name == "sample_on_run50":
                res[name] = _sample_strategy(h, run, target, stat_k, found, screened, R)
                continue
            if name == "statistical|quantci":  # = first_stop(any_of(...)) with quantci checked every 10
                k = min(res["statistical"][0], res["quantci"][0])
            elif name in fixed:
                k = fixed[name]
            else:
                k = first_stop(h, make_rule(name, target, CONFIDENCE), scores_at,
                               check_every=10 if name == "quantci" else 1)
                k = L if k is None else k
            if name == "statistical":
                stat_k = k
            res[name] = (k, screened[k] / N, found[k] / R)
        out[target] = res
    return out


def _sample_strategy(h: History, run: dict, target: float, stat_k: int, found, screened, R: int):
    N = h.n_records
    k0 = first_stop(h, "consecutive_irrelevant")
    if k0 is None or k0 >= len(h):
        return (stat_k, screened[stat_k] / N, found[stat_k] / R)
    pool = N - k0
    n = certification_sample_size(pool, int(found[k0]), target, CONFIDENCE)
    if not n or n >= pool:
        return (stat_k, screened[stat_k] / N, found[stat_k] / R)
    rng = np.random.default_rng([int(run["seed"]), 99])
    pos = k0 + rng.choice(len(h) - k0, size=n, replace=False)       # positions of sampled pool records
    sample = CertificationSample(h.record_ids[pos], pool, k0)
    hk = h.at(k0).append(h.record_ids[pos], h.labels[pos], RANDOM, -1)
    if random_sample(hk, sample, target, CONFIDENCE).stop:
        return (k0 + n, (screened[k0] + n) / N, (found[k0] + int(h.labels[pos].sum())) / R)
    later = pos >= stat_k
    return (stat_k, (screened[stat_k] + int(later.sum())) / N,
            (found[stat_k] + int(h.labels[pos[later]].sum())) / R)


def per_dataset(results: list[dict], datasets: list[str], rules=("statistical", "statistical_midp", "default"),
                target: float = 0.95) -> str:
    """Markdown table: per dataset, runs reaching the target / runs and mean cost, per rule."""
    names = sorted(set(datasets))
    lines = [f"## Per dataset, target {target:.2f}: runs reaching the target / runs, mean cost", "",
             "| dataset | records | " + " | ".join(rules) + " | oracle cost |",
             "|---|---|" + "---|" * (len(rules) + 1)]
    for d in names:
        rs = [r for r, ds in zip(results, datasets) if ds == d]
        cells = []
        for name in rules:
            rows = [r[target][name] for r in rs if name in r[target]]
            ok = sum(1 for _, _, rec in rows if rec >= target - 1e-12)
            cells.append(f"{ok}/{len(rows)}, {np.mean([c for _, c, _ in rows]):.0%}" if rows else "—")
        oc = np.mean([r[target]["oracle"][1] for r in rs])
        lines.append(f"| {d} | {rs[0]['n_records']} | " + " | ".join(cells) + f" | {oc:.0%} |")
    return "\n".join(lines) + "\n"


def summarise(results: list[dict]) -> str:
    lines = ["# Stopping rules: reliability and cost", ""]
    for target in TARGETS:
        lines += [f"## Target recall {target:.2f} (confidence {CONFIDENCE:.2f}), {len(results)} runs", "",
                  "| rule | runs | reliability (95 % CI) | mean cost | median cost | mean excess over oracle | median recall |",
                  "|---|---|---|---|---|---|---|"]
        names = ["oracle"] + [n for n in RULES if any(n in r[target] for r in results)]
        for name in names:
            rows = [r[target][name] for r in results if name in r[target]]
            ok = sum(1 for _, _, rec in rows if rec >= target - 1e-12)
            lo, hi = clopper_pearson(ok, len(rows), 0.95)
            cost = np.array([c for _, c, _ in rows])
            exc = np.array([c - r[target]["oracle"][1] for r, (_, c, _) in
                            zip([r for r in results if name in r[target]], rows)])
            rec = np.array([x for _, _, x in rows])
            lines.append(f"| {name} | {len(rows)} | {ok / len(rows):.1%} ({lo:.1%}–{hi:.1%}) | {cost.mean():.1%} | "
                         f"{np.median(cost):.1%} | {exc.mean():+.1%} | {np.median(rec):.3f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--histories", type=Path, help="JSON lines of simulation runs (format in the docstring)")
    src.add_argument("--synthetic", type=int, help="number of synthetic runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "stopping.md")
    args = ap.parse_args(argv)
    if args.histories:
        runs = [json.loads(line) for line in args.histories.read_text().splitlines() if line.strip()]
        source = f"simulation histories from {args.histories.name}"
    else:
        runs = [synthetic_run(args.seed * 100003 + i) for i in range(args.synthetic)]
        source = f"{args.synthetic} synthetic rankings (seed {args.seed}; see benchmarks/stopping_eval.py)"
    with ProcessPoolExecutor(args.workers) as ex:
        results = list(ex.map(replay_run, runs, chunksize=1))
    text = summarise(results) + "\n" + per_dataset(results, [r["dataset"] for r in runs])
    text = text.replace("# Stopping rules: reliability and cost\n",
                        f"# Stopping rules: reliability and cost\n\nSource: {source}. Cost = share of records "
                        f"screened (certification samples included); excess = cost minus the oracle's.\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
