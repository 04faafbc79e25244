"""The posterior counting process (triage/stopping/posterior.py) on simulation histories: every
(prior_b, spike, predictive probability) candidate's reliability and cost, and the leave-one-review-out
choice among them, next to the current default rule. A fast, focused companion of
stopping_eval.py (same histories, check points, bands, selection rule and overlap groups; the
candidates are evaluated with the rule's own posterior and predictive functions).

    python benchmarks/posterior_loro.py --histories H/histories.jsonl [HQ/histories.jsonl] [--workers 2] \
        --out benchmarks/results/stopping_posterior_hybrid_svm.md
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stopping_eval import (POST_CONFS, POST_PRIOR_BS, POST_PRIORS, POST_SPIKES, PREV_BANDS,  # noqa: E402
                           RELIABILITY, SIZE_BANDS, TARGETS, _history, check_step, load_runs, oracle_index,
                           post_name)

from triage.history import PRIOR  # noqa: E402
from triage.simulate.benchmark import overlap_groups  # noqa: E402
from triage.stopping import first_stop, make_rule  # noqa: E402
from triage.stopping import posterior  # noqa: E402
from triage.stopping.dist import clopper_pearson  # noqa: E402

#: Reference rules replayed beside the candidates: the exact test and its mid-p variant, and
#: statistical_knee (the default before counting_posterior).
REFERENCE = ("statistical", "statistical_midp", "statistical_knee")


def replay(run: dict, reference: tuple[str, ...] = REFERENCE, priors=POST_PRIORS, confs=POST_CONFS) -> dict:
    """{dataset, R, N, target: {name: (cost, recall)}} for one run; `reference`: the reference
    rules replayed too (slow: the statistical tests at every record); `priors`: (b, spike) pairs
    and `confs`: predictive probabilities of the candidates."""
    h, R, _ = _history(run)
    N, L = h.n_records, len(h)
    n_prior = int((h.origins == PRIOR).sum())
    labels = h.labels.astype(int)
    found = np.concatenate([[0], np.cumsum(labels)])
    screened = np.concatenate([[0], np.cumsum(h.origins != PRIOR)])
    step, M = check_step(N), N - n_prior
    stops: dict[tuple, int] = {}
    keys = [(b, sp, t, c) for b, sp in priors for t in TARGETS for c in confs]
    for k in list(range(n_prior + step, L, step)) + [L]:
        seq = labels[n_prior:k]
        r, pool = int(found[k]), N - k
        if pool == 0:
            for key in keys:
                stops.setdefault(key, k)
            break
        if seq.sum() < posterior.MIN_RELEVANT:
            continue
        positions = (np.flatnonzero(seq) + 0.5) / M
        # One likelihood and one predictive CDF per check point; each prior only reweights them.
        like = posterior.log_likelihood(positions, len(seq) / M)
        cdf = {t: posterior.enough_cdf(like[1].ravel(), r, pool, t) for t in TARGETS}
        for bs in priors:
            if all(bs + (t, c) in stops for t in TARGETS for c in confs):
                continue
            w, _ = posterior.posterior(None, len(seq) / M, *bs, likelihood=like)
            for t in TARGETS:
                p = 1.0 if cdf[t] is None else float((w * cdf[t]).sum())
                for c in confs:
                    if p >= c:
                        stops.setdefault(bs + (t, c), k)
        if len(stops) == len(keys):
            break
    out = {"dataset": run["dataset"], "R": R, "N": N}
    for t in TARGETS:
        o = oracle_index(found, R, t)
        # screen_all: the whole history, what the selection falls back to when no candidate is
        # reliable and the statistical rule was not replayed (--no-reference)
        res = {"oracle": (screened[o] / N, found[o] / R), "screen_all": (screened[L] / N, found[L] / R)}
        for b, sp in priors:
            for c in confs:
                k = stops.get((b, sp, t, c), L)
                res[post_name(b, sp, c)] = (screened[k] / N, found[k] / R)
        for name in reference:
            k = first_stop(h, make_rule(name, t, 0.95))
            k = L if k is None else k
            res[name] = (screened[k] / N, found[k] / R)
        out[t] = res
    return out


def _ok(rows, name, t):
    return np.array([r[t][name][1] >= t - 1e-12 for r in rows])


def reliable(rows, name, t) -> bool:
    ok = _ok(rows, name, t)
    if ok.mean() < RELIABILITY:
        return False
    prev = np.array([r["R"] / r["N"] for r in rows])
    return all(ok[(prev >= a) & (prev < b)].mean() >= RELIABILITY for _, a, b in PREV_BANDS
               if ((prev >= a) & (prev < b)).any())


def choose(train: list, t: float, cands: list) -> str:
    """The cheapest candidate (mean cost over `train`) reliable in every setting's runs of `train`
    (`reliable`); when none is, the exact statistical rule, or screening everything if that rule
    was not replayed."""
    settings = sorted({r["setting"] for r in train})
    ok = [c for c in cands if all(reliable([r for r in train if r["setting"] == s], c, t) for s in settings)]
    if ok:
        return min(ok, key=lambda c: np.mean([r[t][c][0] for r in train]))
    return "statistical" if "statistical" in train[0][t] else "screen_all"


def loro(results, t, cands):
    """Leave one review out (overlapping datasets together): choose on the other reviews' runs of
    every setting, apply to the held-out review's runs. Returns (held-out rows, {choice: runs})."""
    held, chosen = [], {}
    for g in overlap_groups(sorted({r["dataset"] for r in results})):
        train = [r for r in results if r["dataset"] not in g]
        test = [r for r in results if r["dataset"] in g]
        best = choose(train, t, cands)
        chosen[best] = chosen.get(best, 0) + len(test)
        held += [{"R": r["R"], "N": r["N"], "setting": r["setting"],
                  t: {"held": r[t][best], "oracle": r[t]["oracle"]}} for r in test]
    return held, chosen


def row(name, rows, key, t) -> str:
    """Reliability (Clopper-Pearson 95 %), mean and median cost, mean excess over the oracle, and
    runs reaching the target per prevalence band and per pool size."""
    ok = _ok(rows, key, t)
    lo, hi = clopper_pearson(int(ok.sum()), len(ok), 0.95)
    cost = np.array([r[t][key][0] for r in rows])
    excess = cost - np.array([r[t]["oracle"][0] if "oracle" in r[t] else np.nan for r in rows])
    prev = np.array([r["R"] / r["N"] for r in rows])
    size = np.array([r["N"] for r in rows])
    bands = " | ".join(f"{int(ok[m].sum())}/{int(m.sum())}" for m in
                       [(prev >= a) & (prev < b) for _, a, b in PREV_BANDS]
                       + [(size >= a) & (size < b) for _, a, b in SIZE_BANDS])
    exc = f"{np.nanmean(excess):+.1%}" if not np.isnan(excess).all() else "-"
    return (f"| {name} | {ok.mean():.1%} ({lo:.1%}–{hi:.1%}) | {cost.mean():.1%} | {np.median(cost):.1%} | {exc} | "
            f"{bands} |")


def table_head() -> list[str]:
    """Header rows of the tables `row` fills."""
    return ["| rule | reliability (CP 95 %) | mean cost | median cost | excess | "
            + " | ".join(f"prev {b[0]}" for b in PREV_BANDS) + " | " + " | ".join(f"N {b[0]}" for b in SIZE_BANDS)
            + " |", "|---|---|---|---|---|" + "---|" * (len(PREV_BANDS) + len(SIZE_BANDS))]


def write_out(path: Path, lines: list[str]) -> None:
    """Write the report (creating its folder) and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--histories", type=Path, nargs="+",
                    help="one histories.jsonl per setting (e.g. without and with the review question); the "
                         "selection requires reliability in each")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--raw", type=Path, help="also pickle the per-run stops here (for combined analyses)")
    ap.add_argument("--from-raw", type=Path, help="tables from a --raw pickle instead of replaying")
    ap.add_argument("--bs", help="comma-separated prior b values (default: stopping_eval's grid)")
    ap.add_argument("--spikes", help="comma-separated spike values (default: stopping_eval's grid)")
    ap.add_argument("--confs", help="comma-separated predictive probabilities (default: stopping_eval's grid)")
    ap.add_argument("--no-reference", action="store_true",
                    help="candidates only: skip the reference rules (most of the time)")
    args = ap.parse_args(argv)
    if not args.histories and not args.from_raw:
        ap.error("give --histories (or --from-raw)")
    reference = () if args.no_reference else REFERENCE
    bs = _floats(args.bs) if args.bs else POST_PRIOR_BS
    spikes = _floats(args.spikes) if args.spikes else POST_SPIKES
    priors = [(b, sp) for b in bs for sp in spikes]
    confs = _floats(args.confs) if args.confs else POST_CONFS
    results = []
    if args.from_raw:
        import pickle
        results = pickle.loads(args.from_raw.read_bytes())
    else:
        one = partial(replay, reference=reference, priors=priors, confs=confs)
        with ProcessPoolExecutor(args.workers) as ex:
            for path in args.histories:
                setting = f"{path.parent.name}/{path.name}"
                results += [dict(r, setting=setting) for r in ex.map(one, load_runs(path), chunksize=1)]
    settings = list(dict.fromkeys(r["setting"] for r in results))
    if args.raw:
        import pickle
        args.raw.write_bytes(pickle.dumps(results))
    cands = [post_name(b, sp, c) for b, sp in priors for c in confs if post_name(b, sp, c) in results[0][TARGETS[0]]]
    lines = ["# Posterior counting process: candidates and leave-one-review-out choice", "",
             f"{', '.join(settings)}: {len(results)} runs, "
             f"{len({r['dataset'] for r in results})} datasets. post_bB_sS_cC = Beta(1, B) prior of the share of "
             "relevant records the ranking cannot find, prior probability S that it finds them all (phi = 0), "
             "predictive probability C. Produced by "
             "benchmarks/posterior_loro.py.", ""]
    for t in TARGETS:
        held, chosen = loro(results, t, cands)
        lines += [f"## Target recall {t:.2f}", "",
                  "Leave-one-review-out: per held-out review, the cheapest candidate (mean cost over every "
                  f"setting) with reliability >= {RELIABILITY:.2f} on the other reviews' runs of each setting, "
                  "overall and in every prevalence band. Chosen (held-out runs): "
                  + ", ".join(f"{c} ({n})" for c, n in sorted(chosen.items(), key=lambda x: -x[1]))
                  + f". Chosen on all reviews: **{choose(results, t, cands)}**.", ""]
        for s in settings + (["all settings"] if len(settings) > 1 else []):
            rs = results if s == "all settings" else [r for r in results if r["setting"] == s]
            hs = held if s == "all settings" else [r for r in held if r["setting"] == s]
            lines += [f"### {s} ({len(rs)} runs)", "", *table_head(),
                      row("oracle", rs, "oracle", t), row("**LORO-selected (held out)**", hs, "held", t)]
            lines += [row(n, rs, n, t) for n in REFERENCE if n in rs[0][t]]
            lines += [row(c, rs, c, t) for c in cands]
            lines.append("")
    write_out(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
