"""Does the review question help? Simulate with and without it as a synthetic relevant record.

    python benchmarks/question_anchor.py [--data-dir DIR] [--preset hybrid_svm] [--seeds 1-5] \
        [--jobs 2] [--cache-dir C] --out benchmarks/results/question

The labelled datasets carry no question, so one is derived by a fixed rule from SOURCES.md:
the Cochrane review title for CLEF TAR (its "Theme" after "diagnostic test accuracy: "), the
review's title for SYNERGY, "PTSD trajectories after trauma" for the two van de Schoot sets
(their cited papers are methods papers), and "Drug class review: comparative effectiveness and
safety of <class>" for Cohen 2006. Scenarios, each through `simulate_matrix` (the live round code):

  P   1 relevant + 1 irrelevant random priors (the ASReview benchmark protocol)
  PA  the same priors, plus the question as a relevant training record (`run_round(question_row=)`)
  C   no priors: ranked by similarity to the question until both classes are labelled (live cold start)
  CA  no priors, cold start, plus the question as a relevant training record

Writes OUT/results.csv (one row per dataset x seed x scenario) and OUT/questions.csv.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics as st
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from triage.features.matrix import build_features_with_question
from triage.learn.presets import load_preset
from triage.simulate.benchmark import find_datasets, overlap_groups, parse_seeds, read_overlaps
from triage.simulate.data import load_labelled
from triage.simulate.simulate import simulate_matrix

sys.path.insert(0, str(Path(__file__).parent))
from vs_asreview_table import bootstrap_ci  # noqa: E402

OVERLAPS = read_overlaps(Path(__file__).with_name("overlaps.csv"))  # same review: counted once
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks"
SCENARIOS = (("P", 1, False), ("PA", 1, True), ("C", 0, False), ("CA", 0, True))
METRICS = ("records", "relevant", "wss_95", "recall_10", "atd", "loss", "n_for_80", "n_for_95")


def questions(sources_md: Path) -> dict[str, str]:
    """Dataset name -> question, by the rule in the module docstring."""
    text = sources_md.read_text(encoding="utf-8")
    out = {}
    for sec in re.split(r"\n### ", text.split("## Per dataset", 1)[1])[1:]:
        name = sec.split("\n", 1)[0].strip()
        theme = re.search(r"- Theme: (.+)", sec)
        review = re.search(r"- Review: .*?\(\d{4}[a-z]?\)\.\s+(.+?[.?])(?:\s|$)", sec)
        if name.startswith("CLEF") and theme and ": " in theme[1]:
            out[name] = theme[1].split(": ", 1)[1].strip()
        elif name.startswith("Cohen_2006_"):
            drug = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.removeprefix("Cohen_2006_"))
            out[name] = f"Drug class review: comparative effectiveness and safety of {drug.replace('Opiods', 'opioids')}"
        elif name.startswith("van_de_Schoot"):
            out[name] = "PTSD trajectories after trauma"
        elif review:
            out[name] = review[1].rstrip(".")
    return out


def run_dataset(path: Path, question: str, preset_name: str, seeds: list[int], cache_dir) -> list[dict]:
    data = load_labelled(path)
    preset = load_preset(preset_name)
    X, question_row = build_features_with_question(data.texts, question, preset.features, cache_dir)
    rows = []
    for seed in seeds:
        for scenario, n_prior, use_question_row in SCENARIOS:
            res = simulate_matrix(X, data.gold, preset, seed, n_prior, n_prior,
                                  question_row=question_row if use_question_row else None, final_scores=False,
                                  texts=data.texts, question=question if n_prior == 0 else "")
            m = res.metrics.to_dict()
            rows.append({"dataset": path.stem, "seed": seed, "scenario": scenario,
                         **{k: m[k] for k in METRICS}, "seconds": round(res.seconds["loop"], 2)})
    return rows


def summary(rows: list[dict]) -> str:
    """Markdown: mean / median over datasets of seed means, and paired differences."""
    per = defaultdict(list)
    for r in rows:
        per[(r["scenario"], r["dataset"])].append(r)
    ds = sorted({r["dataset"] for r in rows})

    def m(s, d, k):
        return st.fmean(float(r[k]) for r in per[(s, d)])

    out = [f"{len(ds)} datasets x seeds {sorted({int(r['seed']) for r in rows})}.", "",
           "| scenario | WSS@95 mean / median | recall@10% mean / median | ATD mean |", "|---|---:|---:|---:|"]
    for s, *_ in SCENARIOS:
        w = [m(s, d, "wss_95") for d in ds]
        r10 = [m(s, d, "recall_10") for d in ds]
        out.append(f"| {s} | {st.fmean(w):.3f} / {st.median(w):.3f} | {st.fmean(r10):.3f} / {st.median(r10):.3f} "
                   f"| {st.fmean(m(s, d, 'atd') for d in ds):.3f} |")
    out += ["", "Paired over datasets (seed means): mean difference [bootstrap 95 % CI], datasets better / worse "
            "(by more than 0.001; for ATD lower is better).", "",
            "| comparison | WSS@95 | recall@10% | ATD |", "|---|---:|---:|---:|"]
    for a, b in (("P", "PA"), ("C", "CA")):
        cells = []
        for k in ("wss_95", "recall_10", "atd"):
            d = [m(b, x, k) - m(a, x, k) for x in ds]
            lo, hi = bootstrap_ci(d, np.random.default_rng(0))
            sign = -1 if k == "atd" else 1
            cells.append(f"{st.fmean(d):+.3f} [{lo:+.3f}, {hi:+.3f}], "
                         f"{sum(sign * v > 0.001 for v in d)}/{sum(sign * v < -0.001 for v in d)}")
        out.append(f"| {b} vs {a} | " + " | ".join(cells) + " |")
    groups = overlap_groups(ds, OVERLAPS)
    once = {k: [st.fmean(m(b, x, k) - m(a, x, k) for x in g) for g in groups for a, b in [("P", "PA")]]
            for k in ("wss_95", "recall_10")}
    out += ["", f"Each review once ({len(groups)} reviews, overlapping datasets averaged first), PA vs P: "
            f"WSS@95 {st.fmean(once['wss_95']):+.3f}, recall@10% {st.fmean(once['recall_10']):+.3f}."]
    out += ["", "Per dataset, WSS@95 (seed means):", "", "| dataset | " + " | ".join(s for s, *_ in SCENARIOS) + " |",
            "|---|" + "---:|" * len(SCENARIOS)]
    for d in ds:
        out.append(f"| {d} | " + " | ".join(f"{m(s, d, 'wss_95'):.3f}" for s, *_ in SCENARIOS) + " |")
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--preset", default="hybrid_svm")
    ap.add_argument("--seeds", default="1-5")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--datasets", default=None, help="only these, comma-separated")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--summary-only", action="store_true", help="rewrite OUT/summary.md from OUT/results.csv")
    args = ap.parse_args(argv)
    if args.summary_only:
        with open(args.out / "results.csv", newline="", encoding="utf-8") as f:
            (args.out / "summary.md").write_text(summary(list(csv.DictReader(f))), encoding="utf-8")
        return
    qs = questions(args.data_dir / "SOURCES.md")
    paths = find_datasets(args.data_dir)
    names = [n for n in (args.datasets.split(",") if args.datasets else sorted(paths)) if n in qs]
    missing = sorted(set(paths) - set(qs))
    if missing:
        print(f"no question for {missing}: skipped", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "questions.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("dataset", "question"), *((n, qs[n]) for n in names)])
    seeds = parse_seeds(args.seeds)
    # largest datasets first, so the two workers finish together
    names.sort(key=lambda n: -paths[n].stat().st_size)
    parts = Parallel(n_jobs=args.jobs, verbose=5)(
        delayed(run_dataset)(paths[n], qs[n], args.preset, seeds, args.cache_dir) for n in names)
    rows = sorted((r for part in parts for r in part), key=lambda r: (r["dataset"], r["seed"], r["scenario"]))
    with open(args.out / "results.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (args.out / "summary.md").write_text(summary(rows), encoding="utf-8")
    print(summary(rows))


if __name__ == "__main__":
    main()
