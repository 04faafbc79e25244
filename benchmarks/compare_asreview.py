"""Run ASReview 3 (ELAS u4) and triage on the same datasets, priors and seeds; compare.

ASReview lives in its own virtualenv (never a dependency of triage):

    python3 -m venv ASREVIEW_VENV && ASREVIEW_VENV/bin/pip install asreview==3.0.8   # then ASREVIEW=ASREVIEW_VENV/bin/asreview

For every dataset x seed: the prior rows are drawn once with triage's rule
(`triage.simulate.simulate.draw_priors`: 1 relevant + 1 irrelevant, `default_rng(seed)`) and
given to both tools by row number. Both stop at the last relevant record (ASReview's default
when `--n-stop` is not given; triage's default `stop="last_relevant"`). Both runs are timed as
whole command lines (interpreter start, reading, features, loop, writing), and each tool's
labelling order is scored with the SAME function, `triage.simulate.metrics.metrics_from_order`
(priors excluded from N and R for both).

    asreview simulate DATA --ai elas_u4 --prior-idx I J --seed S --output RUN.asreview
    triage simulate DATA --preset P --prior-ids I,J --seed S --out RUN_DIR --cache-dir C

Usage:
    python benchmarks/compare_asreview.py --datasets Donners_2021 --seeds 1 \
        --out benchmarks/results/vs_asreview/OUT
    python benchmarks/compare_asreview.py --datasets Hall_2012 --presets tfidf_svm,hybrid_svm \
        --triage-cache cold --out OUT        # speed: features computed inside the timed command
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from triage.simulate.benchmark import find_datasets, parse_seeds
from triage.simulate.data import load_labelled
from triage.simulate.metrics import metrics_from_order
from triage.simulate.simulate import draw_priors

#: ASReview's command: $ASREVIEW (e.g. ASREVIEW_VENV/bin/asreview), else `asreview` on the PATH.
DEFAULT_ASREVIEW = os.environ.get("ASREVIEW", "asreview")
#: The labelled datasets: ../shared/data/benchmarks beside the repository.
DATA_DIR = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks")
METRICS = ("wss_95", "wss_100", "recall_10", "atd", "loss", "n_for_95", "n_for_100")


def asreview_order(project: Path) -> tuple[list[int], int]:
    """(dataset rows in labelling order, priors first; number of records) from a .asreview file
    (a zip holding results.db: `results` in insertion order, `record` maps record_id -> row)."""
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(project) as z:
            z.extract("results.db", tmp)
        con = sqlite3.connect(Path(tmp) / "results.db")
        try:
            row_of = dict(con.execute("SELECT record_id, dataset_row FROM record"))
            ids = [r for (r,) in con.execute("SELECT record_id FROM results ORDER BY rowid")]
        finally:
            con.close()
    return [int(row_of[i]) for i in ids], len(row_of)


def timed(cmd: list[str], work: Path) -> tuple[float, float]:
    """Run a command; (wall seconds, CPU seconds of the command and its children). CPU time is
    the fairer speed figure on a shared machine: other jobs stretch wall time, not CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_asreview(exe: str, data: Path, priors: list[int], seed: int, work: Path):
    """(labelling order, wall s, CPU s, number of records) of one `asreview simulate`."""
    out = work / f"{data.stem}_s{seed}.asreview"
    out.unlink(missing_ok=True)
    cmd = [exe, "simulate", str(data), "--ai", "elas_u4", "--prior-idx", *map(str, priors),
           "--seed", str(seed), "--output", str(out)]
    wall, cpu = timed(cmd, work)
    order, n = asreview_order(out)
    return order, wall, cpu, n


def run_triage(data: Path, priors: list[int], seed: int, work: Path, preset: str,
               cache: str = "cold", warm_dir: Path | None = None):
    """(labelling order, wall s, CPU s) of one `triage simulate`. cache="cold": a new, empty
    feature cache (TF-IDF and embeddings computed inside the timed command, as on a first run);
    "warm": the cache `warm_dir` (default WORK/triage_cache), filled by an untimed run first if
    needed (as after a review's import, when its embeddings exist)."""
    out = work / f"{data.stem}_s{seed}_{preset}{'_warm' if cache == 'warm' else ''}"  # one folder per run
    exe = shutil.which("triage") or str(Path(sys.executable).parent / "triage")
    if cache == "warm":
        cache_dir = warm_dir or work / "triage_cache"
    else:
        cache_dir = work / f"cache_{data.stem}_s{seed}"
        shutil.rmtree(cache_dir, ignore_errors=True)
    cmd = [exe, "simulate", str(data), "--preset", preset, "--prior-ids", ",".join(map(str, priors)),
           "--seed", str(seed), "--out", str(out), "--cache-dir", str(cache_dir)]
    if cache == "warm":
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    wall, cpu = timed(cmd, work)
    if cache == "cold":
        shutil.rmtree(cache_dir, ignore_errors=True)
    with open(out / "history.csv", newline="", encoding="utf-8") as f:
        order = [int(r["row"]) for r in csv.DictReader(f)]
    return order, wall, cpu


def compare(datasets: dict[str, Path], seeds: list[int], exe: str, work: Path, presets: list[str],
            cache: str = "cold", on_row=None, warm_dir: Path | None = None) -> list[dict]:
    """ASReview and every triage preset on every dataset x seed; `on_row(row)` is called as each
    row is ready. A preset may carry its own cache mode: "hybrid_svm@warm". `same_order`: this
    tool's labelling order equals ASReview's."""
    rows = []
    for name, path in datasets.items():
        gold = load_labelled(path).gold
        for seed in seeds:
            priors = draw_priors(gold, 1, 1, seed).tolist()
            runs, a_order = [], None
            if exe:  # exe="" runs triage only (its rows can join ASReview's from another run)
                a_order, a_wall, a_cpu, a_n = run_asreview(exe, path, priors, seed, work)
                if a_n != len(gold):
                    raise SystemExit(f"{name}: ASReview read {a_n} records, triage {len(gold)}")
                if sorted(a_order[:2]) != sorted(priors):
                    raise SystemExit(f"{name}: ASReview's first labels {a_order[:2]} are not the priors {priors}")
                runs.append(("asreview-3.0.8 elas_u4", a_order, a_wall, a_cpu))
            for item in presets:
                preset, _, mode = item.partition("@")
                mode = mode or cache
                t_order, t_wall, t_cpu = run_triage(path, priors, seed, work, preset, mode, warm_dir)
                runs.append((f"triage {preset}" + (" (warm cache)" if mode == "warm" else ""), t_order, t_wall, t_cpu))
            for tool, order, wall, cpu in runs:
                m = metrics_from_order(order, gold, priors).to_dict()
                rows.append({"dataset": name, "seed": seed, "tool": tool, "priors": " ".join(map(str, priors)),
                             **m, "same_order": a_order == order if a_order is not None else "", "wall_seconds": round(wall, 2),
                             "cpu_seconds": round(cpu, 2)})
                if on_row is not None:
                    on_row(rows[-1])
            print(f"{name} seed {seed}: " + ", ".join(f"{t} {w:.1f} s" for t, _, w, _ in runs), file=sys.stderr)
    return rows


def _mean(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and np.isnan(x))]
    return statistics.fmean(xs) if xs else float("nan")


def markdown(rows: list[dict]) -> str:
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    cols = METRICS + ("wall_seconds",) + (("cpu_seconds",) if all("cpu_seconds" in r for r in rows) else ())
    lines = ["# triage vs ASReview 3 (ELAS u4): same datasets, priors and seeds", "",
             f"Seeds {', '.join(map(str, seeds))}; priors 1 relevant + 1 irrelevant drawn with "
             "triage's `draw_priors(gold, 1, 1, seed)` and passed to both tools by row number; both stop "
             "at the last relevant record. Metrics from each tool's labelling order with "
             "`triage.simulate.metrics` (priors excluded). Wall seconds: the whole command line. "
             "Values are means over seeds. Labelling orders identical to ASReview's: "
             f"{sum(r['same_order'] is True for r in rows if not r['tool'].startswith('asreview'))} of "
             f"{sum(not r['tool'].startswith('asreview') for r in rows)} triage runs.", "",
             "| dataset | tool | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for d in datasets:
        for t in tools:
            sel = [r for r in rows if r["dataset"] == d and r["tool"] == t]
            lines.append(f"| {d} | {t} | " + " | ".join(f"{_mean([r[c] for r in sel]):.3f}" for c in cols) + " |")
    lines += ["", "## Mean over datasets", "", "| tool | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for t in tools:
        per_d = [[_mean([r[c] for r in rows if r["dataset"] == d and r["tool"] == t]) for c in cols] for d in datasets]
        lines.append(f"| {t} | " + " | ".join(f"{_mean([v[i] for v in per_d]):.3f}" for i in range(len(cols))) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--datasets", default=None, help="comma-separated names (default: all in --data-dir)")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--asreview", default=DEFAULT_ASREVIEW,
                    help="the asreview executable of its own venv; \"\" runs only triage (a long dataset's "
                         "seeds can then be split over processes: --presets \"\" for ASReview alone)")
    ap.add_argument("--presets", "--preset", default="elas_u4", help="triage presets to compare, comma-separated")
    ap.add_argument("--triage-cache", choices=("cold", "warm"), default="cold",
                    help="cold: each triage command starts with an empty feature cache; warm: features "
                         "cached by an untimed run first; per preset: NAME@cold / NAME@warm")
    ap.add_argument("--warm-cache-dir", default=None, help="feature cache for warm runs (default: WORK/triage_cache)")
    ap.add_argument("--work-dir", default=None, help="where project files go (default: a temporary folder)")
    ap.add_argument("--out", default="benchmarks/results/vs_asreview/OUT",
                    help="writes OUT.csv (one row per tool x dataset x seed) and OUT.md")
    args = ap.parse_args(argv)
    names = [d for d in args.datasets.split(",")] if args.datasets else None
    datasets = find_datasets(args.data_dir, names)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, open(out.with_suffix(".csv"), "w", newline="", encoding="utf-8") as f:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        writer = None

        def on_row(row):  # rows reach the CSV as they finish: an interrupted run keeps them
            nonlocal writer
            if writer is None:
                writer = csv.DictWriter(f, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
            f.flush()

        rows = compare(datasets, parse_seeds(args.seeds), args.asreview, work,
                       [p.strip() for p in args.presets.split(",") if p.strip()], args.triage_cache, on_row,
                       Path(args.warm_cache_dir) if args.warm_cache_dir else None)
    out.with_suffix(".md").write_text(markdown(rows), encoding="utf-8")
    print(json.dumps({"rows": len(rows), "csv": str(out.with_suffix(".csv")), "md": str(out.with_suffix(".md"))}))


if __name__ == "__main__":
    main()
