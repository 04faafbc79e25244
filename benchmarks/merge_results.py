"""Merge `triage benchmark` result folders (one per preset, or reruns) into one table.

    python benchmarks/merge_results.py OUT_DIR RESULTS_DIR [RESULTS_DIR ...]

Reads every RESULTS_DIR/results.csv; a later folder's successful run replaces an earlier failed
or identical (dataset, preset, seed) run. Writes OUT_DIR/results.csv and OUT_DIR/summary.md
(`triage.simulate.benchmark.summary_markdown`), plus a head-to-head table: for each pair of
presets, on how many datasets (seed means of WSS@95) one beats the other.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from triage.simulate.benchmark import read_overlaps, summary_markdown


def _num(v: str):
    if v in ("", None):
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def read_rows(folders: list[Path]) -> list[dict]:
    runs: dict[tuple, dict] = {}
    for folder in folders:
        with open(folder / "results.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                key = (row["dataset"], row["preset"], row["seed"])
                if row.get("error") and key in runs and not runs[key].get("error"):
                    continue
                runs[key] = row
    rows = []
    for row in runs.values():
        out = {k: (_num(v) if k not in ("dataset", "preset", "prior_ids", "error") else v) for k, v in row.items()}
        out["seed"] = int(float(row["seed"]))
        rows.append(out)
    return rows


def head_to_head(rows: list[dict], metric: str = "wss_95") -> str:
    per: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if not r.get("error") and r.get(metric) is not None:
            per.setdefault((r["preset"], r["dataset"]), []).append(r[metric])
    means = {k: sum(v) / len(v) for k, v in per.items()}
    presets = sorted({p for p, _ in means})
    datasets = sorted({d for _, d in means})
    lines = [f"## Head to head: datasets where the row preset's mean {metric} beats the column's", "",
             "| | " + " | ".join(presets) + " |", "|---|" + "---:|" * len(presets)]
    for a in presets:
        cells = []
        for b in presets:
            common = [d for d in datasets if (a, d) in means and (b, d) in means]
            wins = sum(means[(a, d)] > means[(b, d)] for d in common)
            cells.append("" if a == b else f"{wins}/{len(common)}")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    out, folders = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    rows = read_rows(folders)
    out.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    text = summary_markdown(rows, overlaps=read_overlaps(Path(__file__).with_name("overlaps.csv"))) + "\n" + head_to_head(rows) + "\n" + head_to_head(rows, "recall_10")
    (out / "summary.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
