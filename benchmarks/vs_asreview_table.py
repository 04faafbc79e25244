"""One table: ASReview (from compare_asreview.py's CSV) next to triage presets (from
`triage benchmark` results CSVs), over the datasets where every column has all seeds.

    python benchmarks/vs_asreview_table.py COMPARE.csv RESULTS.csv [RESULTS.csv ...] > table.md

Same priors and seeds in every column (`draw_priors(gold, 1, 1, seed)`), metrics from
`triage.simulate.metrics` (priors excluded). Seconds: ASReview and `triage elas_u4` from the
comparison run (whole command lines); presets from the benchmark (simulation only).
"""

from __future__ import annotations

import csv
import statistics as st
import sys
from collections import defaultdict

METRICS = ("wss_95", "recall_10", "atd", "loss")


def main() -> None:
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    with open(sys.argv[1], newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            r["seconds"] = r["wall_seconds"]
            runs[(r["tool"], r["dataset"])][int(r["seed"])] = r
    for path in sys.argv[2:]:
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if not r.get("error"):
                    runs[(f"triage {r['preset']} (benchmark)", r["dataset"])][int(float(r["seed"]))] = r
    tools = sorted({t for t, _ in runs}, key=lambda t: (not t.startswith("asreview"), t))
    seeds = max(len(v) for v in runs.values())
    datasets = sorted({d for _, d in runs if all(len(runs.get((t, d), {})) == seeds for t in tools)})
    print(f"{len(datasets)} datasets x {seeds} seeds: {', '.join(datasets)}\n")
    print("| tool / preset | " + " | ".join(f"{m} mean / median" for m in METRICS) + " | seconds per run (mean) |")
    print("|---|" + "---:|" * (len(METRICS) + 1))
    for t in tools:
        cells = []
        for m in METRICS:
            per = [st.mean(float(r[m]) for r in runs[(t, d)].values()) for d in datasets]
            cells.append(f"{st.mean(per):.3f} / {st.median(per):.3f}")
        secs = st.mean(float(r["seconds"]) for d in datasets for r in runs[(t, d)].values())
        print(f"| {t} | " + " | ".join(cells) + f" | {secs:.1f} |")


if __name__ == "__main__":
    main()
