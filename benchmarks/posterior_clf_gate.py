"""Does the classifier's view of the pool let the posterior counting process stop sooner? (issue #12)

Bin-Hezam & Stevenson (Findings of EMNLP 2023) feed a classifier's predictions on the unscreened
records into a counting process. Tried here as a gate on the registered counting_posterior rule:
at each score snapshot of a simulation history (`triage benchmark --snapshot-every 25`), Platt-
calibrate the scores the last W screened records had when proposed (logistic regression of label
on score), apply it to the pool's scores, and stop early when the classifier expects no more
relevant records than the target allows (`kind`: n5 = pool records with p >= 0.5, sum5 = their
summed p, n2 / sum2 likewise at 0.2, sum_all = summed p of the whole pool) AND the posterior's
P(enough found) is at least `c2`. Otherwise the rule stops where counting_posterior stops.
Reliability (runs reaching the target) and mean cost (share of records screened) per gate.

    python benchmarks/posterior_clf_gate.py --histories H/histories.jsonl [--workers 2] \
        [--out benchmarks/results/stopping_clf_gate.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from posterior_loro import row, table_head, write_out  # noqa: E402
from stopping_eval import TARGETS, _history  # noqa: E402

from triage.history import PRIOR  # noqa: E402
from triage.stopping import posterior, rules  # noqa: E402

WINDOW = 300          # screened records whose scores calibrate the pool's
KINDS = ("n5", "sum5", "n2", "sum2", "sum_all")
GATES = (0.0, 0.3, 0.5, 0.7, 0.9)


def _params(target: float) -> tuple[float, float, float]:
    """(predictive probability, prior_b, spike) of the registered rule at `target`, confidence 0.95."""
    b, sp, c = rules.posterior_params(target)
    return rules.posterior_probability(0.95, c), b, sp


def replay(line: str) -> dict:
    run = json.loads(line)
    h, R, _ = _history(run)
    N = h.n_records
    labels = h.labels.astype(int)
    n_prior = int((h.origins == PRIOR).sum())
    M = N - n_prior
    found = np.concatenate([[0], np.cumsum(labels)])
    proposed = np.array([np.nan if x is None else x for x in run["screen_scores"]], dtype=float)
    out = {"dataset": run["dataset"], "R": R, "N": N}
    base = {t: posterior.first_stop(h, t, *_params(t)) or len(h) for t in TARGETS}
    for t in TARGETS:
        b, sp = _params(t)[1:]
        out[t] = {"posterior": ((base[t] - n_prior) / N, found[base[t]] / R)}
        stops = {}
        for snap in run.get("score_snapshots", []):
            k = int(snap["k"])
            if k >= base[t]:
                break
            seq = labels[n_prior:k]
            if seq.sum() < posterior.MIN_RELEVANT:
                continue
            pool = np.array([x for x in snap["scores"] if x is not None], dtype=float)
            x, y = proposed[max(n_prior, k - WINDOW):k], labels[max(n_prior, k - WINDOW):k]
            x, y = x[~np.isnan(x)], y[~np.isnan(x)]
            if 0 < y.sum() < len(y):
                p = LogisticRegression(C=1e4).fit(x[:, None], y).predict_proba(pool[:, None])[:, 1]
            else:
                p = np.full(len(pool), float(y.mean()) if len(y) else 0.0)
            est = {"n5": (p >= .5).sum(), "sum5": p[p >= .5].sum(), "n2": (p >= .2).sum(),
                   "sum2": p[p >= .2].sum(), "sum_all": p.sum()}
            r, left = int(found[k]), N - k
            allowed = posterior.allowed_left(r, left, t)
            w, seen = posterior.posterior((np.flatnonzero(seq) + 0.5) / M, len(seq) / M, b, sp)
            pe = posterior.enough_probability(w, seen, r, left, t)
            for kind in KINDS:
                for g in GATES:
                    if est[kind] <= allowed and pe >= g:
                        stops.setdefault((kind, g), k)
        for kind in KINDS:
            for g in GATES:
                k = stops.get((kind, g), base[t])
                out[t][f"{kind}_g{g:g}"] = ((k - n_prior) / N, found[k] / R)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--histories", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    lines = [ln for ln in args.histories.read_text(encoding="utf-8").splitlines() if ln.strip()]
    with ProcessPoolExecutor(args.workers) as ex:
        results = list(ex.map(replay, lines, chunksize=1))
    out = ["# counting_posterior gated by the classifier's calibrated pool scores", "",
           f"{args.histories.parent.name}/{args.histories.name}: {len(results)} runs. Produced by "
           "benchmarks/posterior_clf_gate.py (see its docstring). KIND_gG: stop early when the calibrated pool "
           "estimate KIND is within what the target allows and the posterior's P(enough found) >= G.", ""]
    for t in TARGETS:
        out += [f"## Target recall {t:.2f}", "", *table_head(), row("posterior", results, "posterior", t)]
        out += [row(f"{kind}_g{g:g}", results, f"{kind}_g{g:g}", t) for kind in KINDS for g in GATES]
        out.append("")
    write_out(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
