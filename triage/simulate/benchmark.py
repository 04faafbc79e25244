"""Benchmark: datasets x presets x seeds simulations, run in parallel with joblib.

Each task reads its dataset, builds the preset's features (embeddings come from the on-disk
cache, so seeds after the first reuse them) and runs `simulate`. Parallelism is joblib's: local
processes (`jobs`), or a Dask cluster through joblib's "dask" backend when a scheduler address
is given. Results: one row per run (metrics + seconds), a history line per run in the stopping
benchmark's JSON-lines format, and a recall curve per run for plotting.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from triage.errors import BenchmarkError  # noqa: F401  (raised here; re-exported)

SUFFIXES = (".csv", ".tsv", ".ris", ".txt", ".nbib", ".xlsx")
#: Metric columns summarised in the Markdown report: (column, label, higher is better).
SUMMARY_METRICS = (("wss_95", "WSS@95", True), ("recall_10", "recall@10%", True),
                   ("atd", "ATD", False), ("loss", "loss", False))


@dataclass(frozen=True)
class Task:
    dataset: str
    path: str
    preset: str
    seed: int
    prior_included: int = 1
    prior_excluded: int = 1
    cache_dir: str | None = None
    snapshot_every: int = 0
    question: str | None = None  # the review question (see `simulate`), or None
    embeddings_after: int | None = None  # replay the no-waiting policy (see `simulate`)


def read_questions(path: str | Path) -> dict[str, str]:
    """Dataset name -> review question, from a CSV with columns `dataset` and `question`."""
    import csv

    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"dataset", "question"} <= set(reader.fieldnames or ()):
            raise BenchmarkError(f"{path}: needs the columns 'dataset' and 'question' (found {reader.fieldnames})")
        out = {}
        for line, row in enumerate(reader, start=2):
            name, question = (row["dataset"] or "").strip(), (row["question"] or "").strip()
            if not name or not question:
                raise BenchmarkError(f"{path}, line {line}: empty dataset or question")
            out[name] = question
    return out


def parse_seeds(text: str) -> list[int]:
    """'1-5' -> [1, 2, 3, 4, 5]; '1,3,7-8' -> [1, 3, 7, 8]."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, part)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise BenchmarkError(f"bad seed list {text!r}: use e.g. 1-5 or 1,2,7") from None
    if not seeds:
        raise BenchmarkError("no seed given")
    return seeds


def find_datasets(data_dir: str | Path, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Dataset name (file stem) -> path for the readable files in `data_dir`, optionally only
    `names` (each must exist)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise BenchmarkError(f"{data_dir} is not a directory")
    found = {p.stem: p for p in sorted(data_dir.iterdir()) if p.suffix.lower() in SUFFIXES}
    if names:
        names = list(names)
        missing = [n for n in names if n not in found]
        if missing:
            raise BenchmarkError(f"dataset(s) not found in {data_dir}: {', '.join(missing)}")
        found = {n: found[n] for n in names}
    if not found:
        raise BenchmarkError(f"no dataset file ({', '.join(SUFFIXES)}) in {data_dir}")
    return found


def run_task(task: Task) -> dict:
    """Run one simulation; returns {"row": metrics row, "history": JSON-lines record,
    "curve": recall on plot.GRID}. Errors are caught and reported in the row."""
    from triage.learn.presets import load_preset
    from triage.simulate.data import load_labelled
    from triage.simulate.plot import recall_curve
    from triage.simulate.simulate import history_record, simulate

    t0 = time.perf_counter()
    row = {"dataset": task.dataset, "preset": task.preset, "seed": task.seed}
    try:
        data = load_labelled(task.path)
        preset = load_preset(task.preset)
        row["preset"] = preset.name  # a preset file's name, not its path (results travel)
        res = simulate(data.corpus(), data.gold, preset, task.seed, task.prior_included,
                       task.prior_excluded, cache_dir=task.cache_dir,
                       snapshot_every=task.snapshot_every, question=task.question,
                       embeddings_after=task.embeddings_after)
    except Exception as e:  # one failed run must not lose the others: reported in the row
        row.update(error=f"{type(e).__name__}: {e}", seconds=time.perf_counter() - t0)
        return {"row": row, "history": None, "curve": None}
    m = res.metrics
    order = res.history.record_ids[len(res.prior_ids):]
    row.update(m.to_dict())
    row.update(prior_ids=" ".join(str(i) for i in res.prior_ids), question=task.question or "",
               rounds=len(res.round_seconds),
               seconds=res.seconds["total"], seconds_features=res.seconds["features"],
               seconds_loop=res.seconds["loop"], error="")
    curve = recall_curve(data.gold[order], m.records, m.relevant)
    return {"row": row, "history": history_record(res, task.dataset, int(data.gold.sum())), "curve": curve.tolist()}


def run_tasks(tasks: list[Task], jobs: int = 1, scheduler: str | None = None,
              progress: Callable[[dict], None] | None = None) -> Iterator[dict]:
    """Run tasks in parallel, yielding results as they finish (any order). `scheduler`: a
    Dask scheduler address (tcp://host:port); uses joblib's dask backend through a
    `distributed.Client` (needs `pip install triage-screening[dask]`)."""
    from joblib import Parallel, parallel_config

    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise BenchmarkError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
        client = Client(scheduler)
        try:
            with parallel_config(backend="dask"):
                yield from _run(Parallel(n_jobs=-1, return_as="generator_unordered"), tasks, progress)
        finally:
            client.close()
    else:
        yield from _run(Parallel(n_jobs=jobs, return_as="generator_unordered"), tasks, progress)


def _run(parallel, tasks, progress):
    from joblib import delayed

    for out in parallel(delayed(run_task)(t) for t in tasks):
        if progress is not None:
            progress(out)
        yield out


def _stats(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.median(values)


def _fmt(x: float) -> str:
    return "n/a" if x is None or np.isnan(x) else f"{x:.3f}"


def read_overlaps(path: str | Path) -> list[tuple[str, str]]:
    """Pairs of datasets that are the same review or search, from a CSV with columns
    dataset_a, dataset_b (e.g. benchmarks/overlaps.csv, from the datasets' SOURCES.md)."""
    import csv

    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"dataset_a", "dataset_b"} <= set(reader.fieldnames or ()):
            raise BenchmarkError(f"{path}: needs the columns dataset_a and dataset_b (found {reader.fieldnames})")
        return [(r["dataset_a"].strip(), r["dataset_b"].strip()) for r in reader if r["dataset_a"].strip()]


def overlap_groups(datasets: Iterable[str], overlaps: Iterable[tuple[str, ...]] = ()) -> list[list[str]]:
    """Datasets grouped so each review counts once (the `overlaps` pairs share a group)."""
    datasets = list(datasets)
    overlaps = list(overlaps)
    groups, seen = [], set()
    for d in datasets:
        if d in seen:
            continue
        group = [d]
        for pair in overlaps:
            if d in pair:
                group = [x for x in pair if x in datasets]
        seen.update(group)
        groups.append(group)
    return groups


def summary_markdown(rows: list[dict], title: str = "Simulation benchmark",
                     overlaps: Iterable[tuple[str, ...]] = ()) -> str:
    """Per dataset mean and median per preset (over seeds), overall mean/median over datasets
    (each dataset's seed mean counts once), and the same with overlapping datasets averaged
    first (one value per review)."""
    ok = [r for r in rows if not r.get("error")]
    presets = sorted({r["preset"] for r in ok})
    datasets = sorted({r["dataset"] for r in ok})
    seeds = sorted({r["seed"] for r in ok})
    lines = [f"# {title}", "",
             f"{len(ok)} runs ({len(rows) - len(ok)} failed): {len(datasets)} datasets x "
             f"{len(presets)} presets x seeds {', '.join(map(str, seeds))}. Metrics exclude the "
             "prior records (see `triage/simulate/metrics.py`): WSS@95 and recall@10% higher is "
             "better; ATD (mean share screened when a relevant record was found) and ASReview's "
             "normalised loss lower is better.", ""]
    per_ds = {}  # (preset, dataset, metric) -> seed mean
    for metric, label, _ in SUMMARY_METRICS:
        lines += [f"## {label} per dataset (mean / median over seeds)", "",
                  "| dataset | " + " | ".join(presets) + " |", "|---|" + "---:|" * len(presets)]
        for d in datasets:
            cells = []
            for p in presets:
                vals = [r[metric] for r in ok if r["dataset"] == d and r["preset"] == p]
                mean, med = _stats(vals)
                per_ds[(p, d, metric)] = mean
                cells.append(f"{_fmt(mean)} / {_fmt(med)}")
            lines.append(f"| {d} | " + " | ".join(cells) + " |")
        lines.append("")
    groups = overlap_groups(datasets, overlaps)
    lines += ["## Overall (mean / median over datasets of the per-dataset seed means)", "",
              "| preset | " + " | ".join(lab for _, lab, _ in SUMMARY_METRICS)
              + " | " + " | ".join(f"{lab}, overlaps once" for _, lab, _ in SUMMARY_METRICS)
              + " | mean seconds/run |",
              "|---|" + "---:|" * (2 * len(SUMMARY_METRICS) + 1)]
    for p in presets:
        cells = []
        for metric, _, _ in SUMMARY_METRICS:
            cells.append("{} / {}".format(*map(_fmt, _stats([per_ds[(p, d, metric)] for d in datasets]))))
        for metric, _, _ in SUMMARY_METRICS:
            vals = [_stats([per_ds[(p, d, metric)] for d in g])[0] for g in groups]
            cells.append("{} / {}".format(*map(_fmt, _stats(vals))))
        secs = _stats([r["seconds"] for r in ok if r["preset"] == p])[0]
        lines.append(f"| {p} | " + " | ".join(cells) + f" | {secs:.1f} |")
    pairs = "; ".join(" + ".join(g) for g in groups if len(g) > 1) or "none present"
    lines += ["", f"Overlapping datasets averaged first ({len(groups)} reviews from {len(datasets)} "
              f"datasets): {pairs}."]
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines += ["", "## Failed runs", ""] + [f"- {r['dataset']} / {r['preset']} / seed {r['seed']}: "
                                                f"{r['error']}" for r in failed]
    return "\n".join(lines) + "\n"
