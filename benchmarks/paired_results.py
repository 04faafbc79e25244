"""Paired comparison of two or more `triage benchmark` results.csv files of the same preset
(e.g. the default with fp32 vs int8 embeddings), over the datasets where every file has every seed.

    python benchmarks/paired_results.py --results "fp32=benchmarks/results/default/results.csv" \
        "int8=OUT/results.csv" --reference fp32 > table.md

Reuses vs_asreview_table.table: seed means per dataset, mean / median over datasets, paired
difference to the reference with a seeded bootstrap 95 % CI over datasets, datasets better / worse.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_asreview_table import table  # noqa: E402


def load(labelled: list[str]) -> dict[tuple[str, str], dict[int, dict]]:
    """(label, dataset) -> seed -> row, from LABEL=path arguments (rows with an error skipped)."""
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for item in labelled:
        label, _, path = item.partition("=")
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if not r.get("error"):
                    runs[(label, r["dataset"])][int(float(r["seed"]))] = r
    return runs


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", nargs="+", required=True, help="LABEL=results.csv")
    ap.add_argument("--reference", required=True, help="the LABEL differences are taken to")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = ap.parse_args(argv)
    runs = load(args.results)
    # only datasets present in every file
    labels = sorted({t for t, _ in runs})
    common = {d for _, d in runs if all((t, d) in runs for t in labels)}
    runs = {k: v for k, v in runs.items() if k[1] in common}
    print(table(runs, args.reference, args.seed, labels), end="")


if __name__ == "__main__":
    main()
