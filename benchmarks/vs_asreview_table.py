"""One table: ASReview (compare_asreview.py's CSVs) next to triage presets (`triage benchmark`
results CSVs), over the datasets where every tool has every seed.

    python benchmarks/vs_asreview_table.py --compare A.csv [B.csv ...] \
        --results R1.csv [R2.csv ...] --reference "asreview-3.0.8 elas_u4" > table.md

Same priors and seeds in every column (`draw_priors(gold, 1, 1, seed)`), metrics from
`triage.simulate.metrics` (priors excluded). Per dataset the seeds are averaged first; then:
mean / median over datasets, the mean with overlapping reviews counted once (SOURCES.md pairs,
`benchmarks/overlaps.csv`), and each tool's paired difference to the reference tool
with a bootstrap 95 % interval over datasets (seeded) and its win / loss count. Seconds:
ASReview and `triage elas_u4` from the comparison run (whole command lines); presets from the
benchmark (features + loop inside one process).
"""

from __future__ import annotations

import argparse
import csv
import statistics as st
from pathlib import Path
from collections import defaultdict

import numpy as np

from triage.simulate.benchmark import overlap_groups, read_overlaps

OVERLAPS = read_overlaps(Path(__file__).with_name("overlaps.csv"))  # same review: counted once

METRICS = ("wss_95", "recall_10", "atd", "loss")
LOWER_IS_BETTER = {"atd", "loss"}


def load(compare: list[str], results: list[str]) -> dict[tuple[str, str], dict[int, dict]]:
    """(tool, dataset) -> seed -> row; later files replace earlier rows of the same run."""
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for path in compare:
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                r["seconds"] = r["wall_seconds"]
                runs[(r["tool"], r["dataset"])][int(r["seed"])] = r
    for path in results:
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if not r.get("error"):
                    runs[(f"triage {r['preset']} (benchmark)", r["dataset"])][int(float(r["seed"]))] = r
    return runs


def bootstrap_ci(diffs: list[float], rng: np.random.Generator, n: int = 10_000) -> tuple[float, float]:
    d = np.asarray(diffs)
    means = d[rng.integers(0, len(d), size=(n, len(d)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def table(runs, reference: str, seed: int = 0, tools: list[str] | None = None) -> str:
    tools = sorted(tools or {t for t, _ in runs}, key=lambda t: (t != reference, "benchmark" in t, t))
    seeds = max(len(v) for v in runs.values())
    datasets = sorted({d for _, d in runs if all(len(runs.get((t, d), {})) == seeds for t in tools)})
    if not datasets:
        raise SystemExit(f"no dataset has all {seeds} seeds for every tool: {', '.join(tools)}")
    per = {(t, d, m): st.fmean(float(r[m]) for r in runs[(t, d)].values())
           for t in tools for d in datasets for m in METRICS + ("seconds",)}
    groups = overlap_groups(datasets, OVERLAPS)
    out = [f"{len(datasets)} datasets x {seeds} seeds ({len(groups)} distinct reviews).", "",
           "| tool / preset | " + " | ".join(f"{m} mean / median" for m in METRICS)
           + " | wss_95, recall_10: overlaps once | seconds per run (mean) |",
           "|---|" + "---:|" * (len(METRICS) + 2)]
    for t in tools:
        cells = [f"{st.fmean(v):.3f} / {st.median(v):.3f}"
                 for v in ([per[(t, d, m)] for d in datasets] for m in METRICS)]
        once = [st.fmean(st.fmean(per[(t, d, m)] for d in g) for g in groups) for m in ("wss_95", "recall_10")]
        secs = st.fmean(per[(t, d, "seconds")] for d in datasets)
        out.append(f"| {t} | " + " | ".join(cells) + f" | {once[0]:.3f}, {once[1]:.3f} | {secs:.1f} |")
    rng = np.random.default_rng(seed)
    out += ["", f"Paired difference to {reference} over datasets: mean [bootstrap 95 % CI], datasets better / worse.", "",
            "| tool / preset | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for t in tools:
        if t == reference:
            continue
        cells = []
        for m in METRICS:
            diffs = [per[(t, d, m)] - per[(reference, d, m)] for d in datasets]
            lo, hi = bootstrap_ci(diffs, rng)
            sign = -1 if m in LOWER_IS_BETTER else 1
            better = sum(sign * x > 1e-9 for x in diffs)
            worse = sum(sign * x < -1e-9 for x in diffs)
            cells.append(f"{st.fmean(diffs):+.3f} [{lo:+.3f}, {hi:+.3f}], {better}/{worse}")
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    out += ["", f"Per dataset, WSS@95 and recall@10% (seed means); the reference is {reference}.", "",
            "| dataset | " + " | ".join(tools) + " |", "|---|" + "---:|" * len(tools)]
    for d in datasets:
        out.append(f"| {d} | " + " | ".join(f"{per[(t, d, 'wss_95')]:.3f}, {per[(t, d, 'recall_10')]:.3f}"
                                            for t in tools) + " |")
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", nargs="+", required=True, help="compare_asreview.py CSVs")
    ap.add_argument("--results", nargs="*", default=[], help="triage benchmark results.csv files")
    ap.add_argument("--reference", default="asreview-3.0.8 elas_u4")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    ap.add_argument("--tools", default=None, help="only these tools, comma-separated (names as in the table)")
    args = ap.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",")] if args.tools else None
    print(table(load(args.compare, args.results), args.reference, args.seed, tools), end="")


if __name__ == "__main__":
    main()
