"""Stopping rules on simulation histories: reliability, cost, and an honest leave-one-review-out
choice of the default rule.

Usage (one command; each --histories file is one setting, e.g. without and with the question):
    python benchmarks/stopping_eval.py --histories H1/histories.jsonl [H2/histories.jsonl ...] \
        [--out benchmarks/results/stopping.md] [--workers 2]

Histories come from `triage benchmark --snapshot-every 25 ...` (histories.jsonl, one run a line):
    dataset, seed, n_records, n_relevant, order (row indices, priors first), labels, origins,
    probabilistic, screen_scores (per history entry, the score when proposed; null for priors),
    score_snapshots [{"k": history length, "scores": one per row, null for labelled rows}].
Older files with "pool_scores" [{"k", "probs"}] snapshots are read as probabilistic snapshots.

Replay. A simulation stops at the last relevant record, so everything after it is irrelevant:
the sequence is extended with the remaining records as irrelevant decisions (exact for rules
reading labels). Rules reading scores use the latest snapshot taken at or before the prefix,
restricted to the prefix's pool (after the run's end: the last snapshot). Every rule is
consulted at check points every `step` screened records, step = min(50, max(1, N // 100)) (a
round's batch in live use); the statistical tests are replayed at every record. A rule that
never stops stops when every record is screened.

Measures per rule, target (0.95, 0.90; confidence 0.95) and setting:
    reliability  share of runs whose recall at the stop reaches the target, with the two-sided
                 95 % Clopper-Pearson interval
    cost         share of records screened at the stop (priors not counted); mean and median
    excess       cost minus the oracle's (the first prefix that reaches the target)
    by band      reliability per prevalence band (< 2 %, 2-10 %, > 10 % relevant) and per pool
                 size (< 1,000, 1,000-3,000, > 3,000 records)

Leave-one-review-out selection: for each review (overlapping datasets, OVERLAPS in
triage/simulate/benchmark.py, held out together) the candidate with the LOWEST MEAN COST among
those whose reliability on the other reviews' runs is >= 0.95 overall AND in every prevalence
band is chosen and applied to the
held-out review's runs; "LORO-selected" pools those held-out results. The candidates are the
posterior counting process (post_bB_sS_cC: Beta(1, B) prior of the even share, prior
probability S that the ranking finds every relevant record, predictive probability C),
the counting-process rules (rate model x over-dispersion), their classifier variants, QuantCI, and
each of those gated by the exact (or mid-p) test's lower bound (gate 0.5-0.9), plus the statistical
rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from triage.history import PRIOR, RANKED, History
from triage.simulate.benchmark import overlap_groups
from triage.stopping import RuleInputs, first_stop, make_rule
from triage.stopping import posterior
from triage.stopping.base import split_prior
from triage.stopping.counting import count_quantile, fit_rate, rate_integral, window_points
from triage.stopping.dist import clopper_pearson
from triage.stopping.quantci import pool_probabilities
from triage.stopping.statistical import statistical_replay

TARGETS = (0.95, 0.90)
CONFIDENCE = 0.95
RELIABILITY = 0.95           # selection constraint on the training reviews
REFERENCE = ("statistical", "statistical_midp", "statistical_knee", "consecutive_irrelevant", "knee", "budget",
             "safe")
CP_MODELS = ("exponential", "power")  # hyperbolic: see --hyperbolic (3 parameters, ~10x slower to fit)
CLF_MODELS = ("exponential", "power")
DISPERSIONS = (1.0, 2.0, 4.0)
MIN_RELEVANT = 10
N_WINDOWS = 10
GATES = (0.5, 0.6, 0.7, 0.8, 0.9)
#: Posterior counting process (triage/stopping/posterior.py): Beta(1, b) prior of the even share x
#: prior probability that the ranking finds every relevant record (phi = 0) x predictive probability.
POST_PRIOR_BS = (5.0, 10.0, 20.0, 40.0, 80.0)
POST_SPIKES = (0.0, 0.25, 0.5, 0.75, 0.9)
POST_CONFS = (0.8, 0.9, 0.95)
POST_PRIORS = [(b, sp) for b in POST_PRIOR_BS for sp in POST_SPIKES]
PREV_BANDS = (("< 2 %", 0.0, 0.02), ("2-10 %", 0.02, 0.10), ("> 10 %", 0.10, 1.01))
SIZE_BANDS = (("< 1,000", 0, 1000), ("1,000-3,000", 1000, 3000), ("> 3,000", 3000, 10**9))


#: The reference rules replayed with --posterior-only (those with a vectorised replay).
FAST_REFERENCE = ("statistical", "statistical_midp", "statistical_knee", "consecutive_irrelevant")


def post_name(prior_b: float, spike: float, conf: float) -> str:
    return f"post_b{prior_b:g}_s{spike:g}_c{conf:g}"


POST_PARAMS = {post_name(b, sp, c): (b, sp, c) for b, sp in POST_PRIORS for c in POST_CONFS}


def oracle_index(found: np.ndarray, R: int, target: float) -> int:
    """History length at which the cumulative relevant count `found` (found[k] after k records)
    first reaches the target recall of R: the oracle stopping point."""
    return int(np.argmax(found >= int(np.ceil(target * R - 1e-9))))


def check_step(n_records: int) -> int:
    """Screened records between two consultations of a rule: 1 % of the records, 1 to 50."""
    return min(50, max(1, n_records // 100))


def load_runs(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _history(run: dict):
    N = int(run["n_records"])
    order = np.asarray(run["order"], dtype=np.int64)
    labels = np.asarray(run["labels"], dtype=np.int8)
    origins = np.asarray(run["origins"], dtype=np.int8)
    R = int(run.get("n_relevant", int(labels.sum())))
    L0 = len(order)
    if R == int(labels.sum()) and len(order) < N:
        rest = np.setdiff1d(np.arange(N), order)
        order = np.concatenate([order, rest])
        labels = np.concatenate([labels, np.zeros(len(rest), dtype=np.int8)])
        origins = np.concatenate([origins, np.full(len(rest), RANKED, dtype=np.int8)])
    return History(order, labels, origins, np.zeros(len(order), dtype=np.int32), N), R, L0


def _inputs_at(run: dict, h: History):
    """k -> RuleInputs of h.at(k) from the run's snapshots, or None when it has none."""
    N = h.n_records
    if run.get("score_snapshots"):
        snaps = [(int(s["k"]), s["scores"]) for s in run["score_snapshots"]]
        prob = bool(run.get("probabilistic", False))
    elif run.get("pool_scores") and isinstance(run["pool_scores"][0], dict):
        snaps = [(int(s["k"]), s["probs"]) for s in run["pool_scores"]]
        prob = True
    else:
        return None
    snaps.sort(key=lambda t: t[0])
    ks = [k for k, _ in snaps]
    arrs = [np.array([np.nan if v is None else v for v in a], dtype=float) for _, a in snaps]
    ss = run.get("screen_scores")
    screen = np.full(len(h), np.nan)
    if ss is not None:
        screen[:len(ss)] = [np.nan if v is None else v for v in ss]

    def at(k: int):
        i = int(np.searchsorted(ks, k, side="right")) - 1
        if i < 0:
            return None
        mask = np.ones(N, dtype=bool)
        mask[h.record_ids[:k]] = False
        sc = arrs[i][mask]
        if np.isnan(sc).any():  # rows the snapshot did not score (should not happen)
            sc = np.where(np.isnan(sc), np.nanmin(arrs[i]), sc)
        return RuleInputs(sc, prob, screen[:k])
    return at


def _done(first_est: dict, base: str) -> bool:
    """Whether every dispersion of estimate `base` has stopped at every target."""
    return all(v is not None for t in first_est for e, v in first_est[t].items() if e.startswith(base + "_d"))


def replay_run(run: dict, posterior_only: bool = False) -> dict:
    """{"n_records", "prevalence", target: {candidate: (k, cost, recall)}} for one run.
    posterior_only: of the estimates, only the posterior counting process (no curve fits, no
    calibration), and only FAST_REFERENCE of the reference rules; the gates are always replayed."""
    h, R, _ = _history(run)
    N, L = h.n_records, len(h)
    n_prior = int((h.origins == PRIOR).sum())
    found = np.concatenate([[0], np.cumsum(h.labels)])
    screened = np.concatenate([[0], np.cumsum(h.origins != PRIOR)])
    step = check_step(N)
    checks = list(range(n_prior + step, L + 1, step))
    if not checks or checks[-1] != L:
        checks.append(L)
    inputs_at = _inputs_at(run, h)
    out: dict = {"n_records": N, "prevalence": R / N, "dataset": run["dataset"], "seed": run["seed"]}
    stops: dict[float, dict[str, int]] = {t: {} for t in TARGETS}

    for name in (FAST_REFERENCE if posterior_only else REFERENCE):
        for t in TARGETS:
            k = first_stop(h, make_rule(name, t, CONFIDENCE))
            stops[t][name] = L if k is None else k
    gate_ok = {g: statistical_replay(h, g, CONFIDENCE) for g in GATES}
    gate_mid = {g: statistical_replay(h, g, CONFIDENCE, mid_p=True) for g in GATES}
    k_end = max(stops[t]["statistical"] for t in TARGETS)   # every gated rule stops by then

    # estimates at check points: (stop per target) for every candidate estimate
    est_names = list(POST_PARAMS)
    if not posterior_only:
        est_names += ([f"cp_{m[:3]}_d{d:g}" for m in CP_MODELS for d in DISPERSIONS]
                      + [f"cpclf_{m[:3]}_d{d:g}" for m in CLF_MODELS for d in DISPERSIONS] + ["quantci"])
    est_stop = {t: {e: np.zeros(L + 1, dtype=bool) for e in est_names} for t in TARGETS}
    first_est = {t: {e: None for e in est_names} for t in TARGETS}
    for k in checks:
        hk = h.at(k)
        n_p, r_prior, seq = split_prior(hk)
        r, s, pool = int(hk.n_relevant), len(seq), hk.n_pool
        M = N - n_p
        inp = inputs_at(k) if inputs_at is not None else None
        probs = pool_probabilities(hk, inp)[0] if inp is not None and pool and not posterior_only else None
        mus: dict[str, float | None] = {}
        past = k > k_end
        p_enough: dict[tuple, float] = {}  # (prior_b, spike, target) -> P(left <= allowed)
        if int(seq.sum()) >= posterior.MIN_RELEVANT and pool:
            like = posterior.log_likelihood((np.flatnonzero(seq) + 0.5) / M, s / M)   # one per check point
            for b, sp in POST_PRIORS:
                if past and all(first_est[t][post_name(b, sp, c)] is not None for t in TARGETS for c in POST_CONFS):
                    continue
                w, seen = posterior.posterior(None, s / M, b, sp, likelihood=like)
                for t in TARGETS:
                    p_enough[(b, sp, t)] = posterior.enough_probability(w, seen, r, pool, t)
        if int(seq.sum()) >= MIN_RELEVANT and pool and not posterior_only:
            x, y = window_points(seq, N_WINDOWS)
            for m in CP_MODELS:
                if past and _done(first_est, f"cp_{m[:3]}"):
                    continue
                p = fit_rate(m, x, y, M)
                mus[f"cp_{m[:3]}"] = None if p is None else float(min(max(rate_integral(m, p, s / M, 1.0) * M, 0), pool))
            if probs is not None:
                x, y = window_points(np.concatenate([seq, np.sort(probs)[::-1]]), N_WINDOWS)
                for m in CLF_MODELS:
                    if past and _done(first_est, f"cpclf_{m[:3]}"):
                        continue
                    p = fit_rate(m, x, y, M)
                    mus[f"cpclf_{m[:3]}"] = (None if p is None else
                                             float(min(max(rate_integral(m, p, s / M, 1.0) * M, 0), pool)))
        for t in TARGETS:
            for e in est_names:
                if first_est[t][e] is not None and past:
                    continue
                if e.startswith("post_"):
                    b, sp, c = POST_PARAMS[e]
                    ok = pool == 0 or p_enough.get((b, sp, t), 0.0) >= c
                elif e == "quantci":
                    if probs is None:
                        ok = pool == 0
                    else:
                        from scipy.stats import norm
                        z = float(norm.ppf(1 - (1 - CONFIDENCE) / 2))
                        hi = probs.sum() + z * np.sqrt((probs * (1 - probs)).sum())
                        ok = r > 0 and r / (r + hi) >= t
                else:
                    base, d = e.rsplit("_d", 1)
                    mu = mus.get(base)
                    if pool == 0:
                        ok = True
                    elif mu is None:
                        ok = False
                    else:
                        U = min(count_quantile(mu, CONFIDENCE, float(d)), pool)
                        ok = r > 0 and r >= t * (r + U) - 1e-9
                est_stop[t][e][k] = ok
                if ok and first_est[t][e] is None:
                    first_est[t][e] = k
        if past and all(first_est[t][e] is not None for t in TARGETS for e in est_names):
            break
    for t in TARGETS:
        for e in est_names:
            stops[t][e] = L if first_est[t][e] is None else first_est[t][e]
            ex_k = stops[t]["statistical"]
            for g in GATES:
                if g > t:
                    continue
                both = np.flatnonzero(est_stop[t][e] & gate_ok[g])
                kg = int(both[0]) if both.size else L
                stops[t][f"{e}+gate{g:g}"] = min(kg, ex_k)
                both = np.flatnonzero(est_stop[t][e] & gate_mid[g])
                kg = int(both[0]) if both.size else L
                stops[t][f"{e}+midgate{g:g}"] = min(kg, ex_k)
    for t in TARGETS:
        oracle = oracle_index(found, R, t)
        res = {"oracle": (oracle, screened[oracle] / N, found[oracle] / R)}
        for name, k in stops[t].items():
            res[name] = (int(k), screened[k] / N, found[k] / R)
        out[t] = res
    return out


#: The registered rule whose table row is checked against its own code (`_default_check`).
CHECKED_RULE = "counting_posterior"


def default_candidate(target: float) -> str:
    """The candidate name of the registered counting_posterior rule at `target` (triage/stopping/rules.py)."""
    from triage.stopping import rules

    return post_name(*rules.posterior_params(target))


def _default_check(args) -> dict:
    """Check the candidate table against the registered default rule's own code: at the stop k
    the table gives, `make_rule("default")` must say stop, and at the check point before it
    continue. Returns {target: (agrees_at_k, agrees_before)}."""
    run, res = args
    h, _, _ = _history(run)
    N = h.n_records
    step = check_step(N)
    inputs_at = _inputs_at(run, h)
    out = {}
    for t in TARGETS:
        k = res[t][default_candidate(t)][0]
        rule = make_rule(CHECKED_RULE, t, CONFIDENCE)
        at_k = rule(h.at(k), inputs_at(k) if inputs_at else None).stop
        exact_k = res[t]["statistical"][0]
        prev = max(k - step, 0) if k != exact_k else k - 1
        before = prev <= 0 or not rule(h.at(prev), inputs_at(prev) if inputs_at else None).stop
        out[t] = (bool(at_k), bool(before))
    return out


# -- statistics -------------------------------------------------------------------------------
def _ok(rec: float, t: float) -> bool:
    return rec >= t - 1e-12


def stats(rows: list[tuple[dict, tuple]], t: float) -> dict:
    """rows: (run result, (k, cost, recall)) pairs -> summary numbers."""
    n = len(rows)
    ok = sum(_ok(x[2], t) for _, x in rows)
    lo, hi = clopper_pearson(ok, n, 0.95)
    cost = np.array([x[1] for _, x in rows])
    exc = np.array([x[1] - r[t]["oracle"][1] for r, x in rows])
    out = {"n": n, "ok": ok, "rel": ok / n if n else float("nan"), "lo": lo, "hi": hi,
           "mean": float(cost.mean()), "median": float(np.median(cost)), "excess": float(exc.mean())}
    for label, a, b in PREV_BANDS:
        sub = [(r, x) for r, x in rows if a <= r["prevalence"] < b]
        out[f"prev {label}"] = (sum(_ok(x[2], t) for _, x in sub), len(sub))
    for label, a, b in SIZE_BANDS:
        sub = [(r, x) for r, x in rows if a <= r["n_records"] < b]
        out[f"size {label}"] = (sum(_ok(x[2], t) for _, x in sub), len(sub))
    return out


def _reliable(runs: list[dict], c: str, t: float) -> bool:
    """Reliability >= RELIABILITY over `runs` and within every prevalence band of them."""
    oks = np.array([_ok(r[t][c][2], t) for r in runs])
    if oks.mean() < RELIABILITY:
        return False
    prev = np.array([r["prevalence"] for r in runs])
    for _, a, b in PREV_BANDS:
        band = (prev >= a) & (prev < b)
        if band.any() and oks[band].mean() < RELIABILITY:
            return False
    return True


def loro(results: list[dict], t: float, candidates: list[str]) -> tuple[list[tuple[dict, tuple]], Counter]:
    """Leave-one-review-out: per held-out review, the cheapest candidate (mean cost) with
    reliability >= RELIABILITY on the other reviews' runs, overall and in every prevalence band;
    returns the held-out rows and the choices."""
    groups = overlap_groups(sorted({r["dataset"] for r in results}))
    held, chosen = [], Counter()
    for g in groups:
        train = [r for r in results if r["dataset"] not in g]
        test = [r for r in results if r["dataset"] in g]
        best, best_cost = None, np.inf
        for c in candidates:
            if not _reliable(train, c, t):
                continue
            cost = np.mean([r[t][c][1] for r in train])
            if cost < best_cost:
                best, best_cost = c, cost
        best = best or "statistical"
        chosen[best] += len(test)
        held += [(r, r[t][best]) for r in test]
    return held, chosen


def table(named_rows: list[tuple[str, list]], t: float) -> list[str]:
    bands = [f"prev {b[0]}" for b in PREV_BANDS] + [f"size {b[0]}" for b in SIZE_BANDS]
    lines = ["| rule | runs | reliability (95 % CI) | mean cost | median cost | excess over oracle | "
             + " | ".join(bands) + " |", "|---|---|---|---|---|---|" + "---|" * len(bands)]
    for name, rows in named_rows:
        s = stats(rows, t)
        cells = [f"{s[b][0]}/{s[b][1]}" if s[b][1] else "—" for b in bands]
        lines.append(f"| {name} | {s['n']} | {s['rel']:.1%} ({s['lo']:.1%}–{s['hi']:.1%}) | {s['mean']:.1%} | "
                     f"{s['median']:.1%} | {s['excess']:+.1%} | " + " | ".join(cells) + " |")
    return lines


def summarise(setting: str, results: list[dict], default_rows: list[dict] | None, top: int = 12) -> str:
    lines = [f"## {setting}", ""]
    for t in TARGETS:
        names = [n for n in results[0][t] if n != "oracle"]
        cands = [n for n in names if n not in REFERENCE or n == "statistical"]
        held, chosen = loro(results, t, cands)
        s_held = stats(held, t)
        lines += [f"### Target recall {t:.2f} (confidence {CONFIDENCE:.2f}), {len(results)} runs", "",
                  f"Leave-one-review-out selection (lowest mean cost with reliability >= {RELIABILITY:.2f} on the "
                  f"training reviews, overall and in every prevalence band): held-out reliability {s_held['rel']:.1%} (Clopper-Pearson 95 % "
                  f"{s_held['lo']:.1%}–{s_held['hi']:.1%}), mean cost {s_held['mean']:.1%}. Chosen (runs): "
                  + ", ".join(f"{c} ({n})" for c, n in chosen.most_common()) + ".", ""]
        if default_rows is not None:
            agree = sum(d[t][0] and d[t][1] for d in default_rows)
            lines += [f"The registered {CHECKED_RULE} rule, replayed by its own code at the table's stop and the check "
                      f"point before it, agrees with the table on {agree} of {len(default_rows)} runs.", ""]
        rows = [("oracle", [(r, r[t]["oracle"]) for r in results]), ("LORO-selected", held)]
        dname = default_candidate(t)
        rows.append((f"{CHECKED_RULE} = {dname}", [(r, r[t][dname]) for r in results]))
        rows += [(n, [(r, r[t][n]) for r in results]) for n in REFERENCE if n in results[0][t]]
        reliable = sorted((n for n in cands if n not in REFERENCE),
                          key=lambda n: (not _reliable(results, n, t), np.mean([r[t][n][1] for r in results])))
        ungated = [n for n in cands if "+gate" not in n and n not in REFERENCE]
        shown = list(dict.fromkeys(reliable[:top] + ungated))
        rows += [(n, [(r, r[t][n]) for r in results]) for n in shown]
        lines += table(rows, t)
        lines += ["", f"(Candidates shown: the {top} cheapest with in-sample reliability >= {RELIABILITY:.2f} overall and per "
                      "prevalence band, "
                      "then every ungated estimate. Band cells: runs reaching the target / runs.)", ""]
    return "\n".join(lines)


def _unjson(rows: list[dict]) -> list[dict]:
    """Replay results read back from JSON: target keys to floats, stops to tuples."""
    out = []
    for r in rows:
        d = {}
        for k, v in r.items():
            try:
                t = float(k)
            except ValueError:
                d[k] = v
                continue
            d[t] = {name: tuple(x) for name, x in v.items()}
        out.append(d)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--histories", type=Path, nargs="+", required=True,
                    help="histories.jsonl files (one setting each), from triage benchmark --snapshot-every")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hyperbolic", action="store_true", help="also fit the hyperbolic rate (slow)")
    ap.add_argument("--posterior-only", action="store_true",
                    help="replay only the posterior counting process and FAST_REFERENCE (fast)")
    ap.add_argument("--no-default-check", action="store_true",
                    help="skip replaying the registered default rule by its own code")
    ap.add_argument("--cache", type=Path, default=None,
                    help="folder keeping each file's replay results (JSON): a rerun re-summarises without replaying")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "stopping.md")
    args = ap.parse_args(argv)
    if args.hyperbolic:
        global CP_MODELS
        CP_MODELS = CP_MODELS + ("hyperbolic",)
    parts = ["# Stopping rules: reliability, cost and leave-one-review-out selection", "",
             "Cost = share of records screened at the stop (priors not counted); excess = cost minus the oracle's. "
             "cp = counting process (rate model exp/pow/hyp, d = over-dispersion, 1 = Poisson), cpclf = with the "
             "classifier's pool probabilities (margins Platt-scaled), +gateG = also needs the exact test's recall "
             "bound >= G (or the exact test alone at the target), +midgateG the same with the mid-p test's bound. Produced by benchmarks/stopping_eval.py.", ""]
    for path in args.histories:
        runs = load_runs(path)
        cached = None
        if args.cache is not None:
            import hashlib
            key = hashlib.sha256(path.read_bytes()).hexdigest()[:16] + ("_post" if args.posterior_only else "")
            cached = args.cache / f"replay_{key}.json"
        if cached is not None and cached.exists():
            results = _unjson(json.loads(cached.read_text()))
        else:
            with ProcessPoolExecutor(args.workers) as ex:
                results = list(ex.map(partial(replay_run, posterior_only=args.posterior_only), runs, chunksize=1))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps([{str(k): v for k, v in r.items()} for r in results]))
        with ProcessPoolExecutor(args.workers) as ex:
            default_rows = (None if args.no_default_check else
                            list(ex.map(_default_check, list(zip(runs, results)), chunksize=1)))
        setting = f"{path.parent.name}/{path.name}: {len(runs)} runs, {len({r['dataset'] for r in runs})} datasets"
        parts.append(summarise(setting, results, default_rows))
        print(parts[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
