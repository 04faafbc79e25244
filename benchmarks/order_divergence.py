"""Where do triage's `elas_u4` and ASReview's labelling orders first differ, and why?

    python benchmarks/order_divergence.py WORK_DIR [WORK_DIR ...] [--data-dir DIR] > divergence.md

Reads the run files compare_asreview.py leaves in its --work-dir (DATASET_sSEED.asreview and
DATASET_sSEED_elas_u4/history.csv) and reports, per run, the first position where the two orders
differ, and whether the two records picked there tie: triage's ELAS u4 model, retrained on the
labels both tools share up to that point, gives them scores equal within the SVM solver's
precision (1e-4 relative: liblinear stops at tolerance 1e-4, and its random coordinate order
moves scores by about that much). Records with the same text, or with no term in common with
the labelled ones, tie exactly; each tool breaks ties its own way. After such a tie the two tools train
on different records and may drift apart without either being wrong.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compare_asreview import DATA_DIR, asreview_order  # noqa: E402

from triage.features.matrix import build_features  # noqa: E402
from triage.engine import round_rng  # noqa: E402
from triage.learn.presets import load_preset  # noqa: E402
from triage.learn.round import run_round  # noqa: E402
from triage.history import History  # noqa: E402
from triage.simulate.data import load_labelled  # noqa: E402


def tied(X, gold, prefix: list[int], i: int, j: int, preset) -> bool:
    """Do records i and j score the same (1e-4 relative) after training on `prefix`?"""
    n = X.shape[0]
    hist = History.from_lists(prefix, gold[prefix], [1] * len(prefix), [0] * len(prefix), n)
    scores = run_round(X, hist, preset, round_rng(0, 0)).scores
    scale = max(1.0, float(abs(scores[i])), float(abs(scores[j])))
    return abs(float(scores[i]) - float(scores[j])) <= 1e-4 * scale


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work_dirs", nargs="+", type=Path)
    ap.add_argument("--data-dir", default=DATA_DIR, type=Path)
    args = ap.parse_args(argv)
    preset = load_preset("elas_u4")
    X_of, gold_of = {}, {}
    rows, seen = [], set()
    for work in args.work_dirs:
        for f in sorted(work.glob("*_s*.asreview")):
            m = re.fullmatch(r"(.+)_s(\d+)\.asreview", f.name)
            if (m[1], m[2]) in seen:  # a run repeated in another work dir counts once
                continue
            # compare_asreview.py names the run folder after the preset; "_triage" is its older name
            hist = next((h for h in (work / f"{m[1]}_s{m[2]}_{d}" / "history.csv" for d in ("elas_u4", "triage"))
                         if h.exists()), None)
            if hist is None:
                continue
            if m[1] not in X_of:
                data = load_labelled(args.data_dir / f"{m[1]}.csv")
                X_of[m[1]], gold_of[m[1]] = build_features(data.texts, preset.features), data.gold
            a, _ = asreview_order(f)
            with open(hist, newline="", encoding="utf-8") as h:
                t = [int(r["row"]) for r in csv.DictReader(h)]
            k = next((i for i, (x, y) in enumerate(zip(a, t)) if x != y), None)
            tie = None if k is None else tied(X_of[m[1]], gold_of[m[1]], a[:k], a[k], t[k], preset)
            rows.append((m[1], int(m[2]), len(a), k, tie))
            seen.add((m[1], m[2]))
    same = sum(k is None for *_, k, _ in rows)
    ties = sum(bool(tie) for *_, tie in rows)
    print(f"{len(rows)} runs: identical orders {same}; first difference at two records with the same "
          f"score {ties}; elsewhere {len(rows) - same - ties}.\n")
    print("| dataset | seed | labelled | first difference at | tied scores there |\n|---|---:|---:|---:|---|")
    for name, seed, n, k, tie in rows:
        if k is not None:
            print(f"| {name} | {seed} | {n} | {k} | {'yes' if tie else 'no'} |")


if __name__ == "__main__":
    main()
