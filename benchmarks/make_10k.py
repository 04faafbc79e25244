"""Write a 10,000-record labelled dataset for the speed goal ("simulate a 10,000-record review
at least 10x faster than asreview simulate"): Hall_2012 (8,903 records, the largest benchmark
review, software fault prediction) plus the first irrelevant records of Radjenovic_2013_dedup
(software metrics, another software-engineering search) as extra irrelevant records.

    python benchmarks/make_10k.py --data-dir ../shared/data/benchmarks --out WORK_DIR/d10k

Writes OUT/Hall_2012_10k.csv (record_id, title, abstract, doi, label_included). Only speed is
read from runs on it; its recall figures are not used anywhere.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

TOTAL = 10_000


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    csv.field_size_limit(1 << 30)
    src = Path(args.data_dir)
    with open(src / "Hall_2012.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(src / "Radjenovic_2013_dedup.csv", newline="", encoding="utf-8") as f:
        extra = [r for r in csv.DictReader(f) if r["label_included"].strip() == "0"]
    fields = ["record_id", "title", "abstract", "doi", "label_included"]
    out_rows = [{k: r.get(k, "") for k in fields} for r in rows]
    for i, r in enumerate(extra[: TOTAL - len(out_rows)]):
        out_rows.append({**{k: r.get(k, "") for k in fields}, "record_id": f"radjenovic-{r['record_id'] or i}"})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "Hall_2012_10k.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(out_rows)
    print(f"{len(out_rows)} records ({sum(r['label_included'] == '1' for r in out_rows)} relevant) "
          f"-> {out / 'Hall_2012_10k.csv'}")


if __name__ == "__main__":
    main()
