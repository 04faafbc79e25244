"""Draw data/van_de_Schoot_2018_sample.csv from the SYNERGY file shipped in asreview-makita.

Usage:
    pip download --no-deps --no-binary :all: asreview-makita==0.9 -d WORK_DIR
    tar xzf WORK_DIR/asreview_makita-0.9.tar.gz -C WORK_DIR
    python data/make_sample.py WORK_DIR/asreview_makita-0.9/examples/basic_example/data/van_de_Schoot_2018.csv

Keeps every included record and a seeded random sample of excluded ones (500 in total), in the
source file's order. record_id is the record's 0-based row index in the source file (ASReview's
numbering); DOIs lose their https://doi.org/ prefix.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

import numpy as np

DOI_PREFIX = "https://doi.org/"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="van_de_Schoot_2018.csv from the asreview-makita sdist")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("van_de_Schoot_2018_sample.csv"))
    ap.add_argument("--total", type=int, default=500)
    ap.add_argument("--seed", type=int, default=2018)
    args = ap.parse_args()

    with open(args.source, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    included = [i for i, r in enumerate(rows) if r["label_included"] == "1"]
    excluded = [i for i, r in enumerate(rows) if r["label_included"] == "0"]
    assert len(included) + len(excluded) == len(rows), "labels other than 0/1 in the source"
    rng = np.random.default_rng(args.seed)
    drawn = rng.choice(len(excluded), size=args.total - len(included), replace=False)
    keep = sorted(included + [excluded[j] for j in drawn])
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["record_id", "title", "abstract", "doi", "label_included"])
        for i in keep:
            r = rows[i]
            doi = r["doi"][len(DOI_PREFIX):] if r["doi"].startswith(DOI_PREFIX) else r["doi"]
            w.writerow([i, r["title"], r["abstract"], doi, r["label_included"]])
    sha = hashlib.sha256(args.source.read_bytes()).hexdigest()
    print(f"source sha256 {sha}: {len(rows)} records, {len(included)} included; "
          f"wrote {len(keep)} ({len(included)} included, {len(keep) - len(included)} excluded) to {args.out}")


if __name__ == "__main__":
    main()
