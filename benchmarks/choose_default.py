"""Choose a preset across datasets, and estimate how well that choice generalises.

    python benchmarks/choose_default.py RESULTS.csv [RESULTS.csv ...] [--presets a,b,c] > choice.md

Reads `triage benchmark` results (one row per dataset x preset x seed; later files replace
earlier rows of the same run) and keeps the datasets where every candidate has every seed.
Score of a preset on a set of datasets: mean WSS@95 + mean recall@10% (seed means per dataset,
overlapping reviews averaged first, `triage.simulate.benchmark.overlap_groups`).

Leave-one-review-out: for each review, the preset with the best score on all *other* reviews is
picked, and its result on the held-out review is recorded. The mean of those held-out results
estimates what the selection rule itself delivers on a review it has not seen; if it is close to
the winner's in-sample figure, the choice is not an artefact of tuning on these datasets.
"""

from __future__ import annotations

import argparse
import csv
import statistics as st
from pathlib import Path
from collections import Counter, defaultdict

from triage.simulate.benchmark import overlap_groups, read_overlaps

OVERLAPS = read_overlaps(Path(__file__).with_name("overlaps.csv"))  # same review: counted once

METRICS = ("wss_95", "recall_10")


def load(paths: list[str]) -> dict[tuple[str, str], dict[int, dict]]:
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if not r.get("error"):
                    runs[(r["preset"], r["dataset"])][int(float(r["seed"]))] = r
    return runs


def review_means(runs, presets: list[str]) -> tuple[list[list[str]], dict]:
    """Overlap groups of the complete datasets; (preset, group index, metric) -> mean."""
    seeds = max(len(v) for v in runs.values())
    datasets = sorted({d for _, d in runs if all(len(runs.get((p, d), {})) == seeds for p in presets)})
    groups = overlap_groups(datasets, OVERLAPS)
    means = {}
    for p in presets:
        for i, g in enumerate(groups):
            for m in METRICS:
                means[(p, i, m)] = st.fmean(st.fmean(float(r[m]) for r in runs[(p, d)].values()) for d in g)
    return groups, means


def score(means, preset: str, idx: list[int]) -> float:
    return sum(st.fmean(means[(preset, i, m)] for i in idx) for m in METRICS)


def report(runs, presets: list[str]) -> str:
    groups, means = review_means(runs, presets)
    all_idx = list(range(len(groups)))
    lines = [f"{len(groups)} reviews ({sum(map(len, groups))} datasets; overlapping ones averaged first).", "",
             "| preset | WSS@95 mean / median | recall@10% mean / median | score |", "|---|---:|---:|---:|"]
    for p in sorted(presets, key=lambda p: -score(means, p, all_idx)):
        w = [means[(p, i, "wss_95")] for i in all_idx]
        r = [means[(p, i, "recall_10")] for i in all_idx]
        lines.append(f"| {p} | {st.fmean(w):.3f} / {st.median(w):.3f} | {st.fmean(r):.3f} / {st.median(r):.3f} "
                     f"| {score(means, p, all_idx):.3f} |")
    picked, held = Counter(), {m: [] for m in METRICS}
    for i in all_idx:
        rest = [j for j in all_idx if j != i]
        best = max(presets, key=lambda p: score(means, p, rest))
        picked[best] += 1
        for m in METRICS:
            held[m].append(means[(best, i, m)])
    winner = max(presets, key=lambda p: score(means, p, all_idx))
    lines += ["", "Leave-one-review-out selection (pick the best-scoring preset on the other reviews, "
              "score it on the held-out one):", "",
              f"- picked: {', '.join(f'{p} {n}x' for p, n in picked.most_common())}",
              f"- held-out WSS@95 {st.fmean(held['wss_95']):.3f}, recall@10% {st.fmean(held['recall_10']):.3f} "
              f"(in-sample winner {winner}: {st.fmean(means[(winner, i, 'wss_95')] for i in all_idx):.3f}, "
              f"{st.fmean(means[(winner, i, 'recall_10')] for i in all_idx):.3f})"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+")
    ap.add_argument("--presets", default=None, help="candidates, comma-separated (default: all in the files)")
    args = ap.parse_args(argv)
    runs = load(args.results)
    presets = args.presets.split(",") if args.presets else sorted({p for p, _ in runs})
    print(report(runs, presets), end="")


if __name__ == "__main__":
    main()
