"""`triage simulate` and `triage benchmark`: parse, call triage.simulate, render."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click
import numpy as np

from triage.cli.main import cli
from triage.errors import TriageError


def default_cache_dir() -> Path:
    """Embedding cache shared by simulations: $TRIAGE_CACHE/features, else ~/.cache/triage/features."""
    env = os.environ.get("TRIAGE_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "triage"
    return root / "features"


def _ids(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter("use row numbers separated by commas, e.g. 0,17", param_hint="--prior-ids") from None


def _clean(x):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def _write_history(res, gold, path: Path) -> None:
    from triage.history import ORIGIN_NAMES
    from triage.io.output import write_output
    from triage.io.writers import table_text

    h = res.history
    found = np.cumsum(h.labels.astype(np.int64))
    write_output(path, table_text(
        ["position", "row", "label", "origin", "round", "relevant_found"],
        ([i, int(row), int(lab), ORIGIN_NAMES[int(org)], int(rnd), int(found[i - 1])]
         for i, (row, lab, org, rnd) in enumerate(zip(h.record_ids, h.labels, h.origins, h.rounds), start=1))))


@cli.command("simulate")
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--preset", default=None, help="Model preset name or TOML file (default: the default preset).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for priors and every round.")
@click.option("--prior-included", type=int, default=1, show_default=True, help="Relevant priors drawn.")
@click.option("--prior-excluded", type=int, default=1, show_default=True, help="Irrelevant priors drawn.")
@click.option("--prior-ids", default=None, help="Prior records by row number (0 = first record), e.g. 0,17.")
@click.option("--batch-size", type=int, default=None, help="Records labelled per round (default: preset's).")
@click.option("--stop-after", type=int, default=None,
              help="Screen this many records (default: stop at the last relevant record).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Write history.csv, metrics.json and recall.png here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Feature cache folder; embeddings go to its embeddings/ subfolder "
                   "(default: $TRIAGE_CACHE/features or ~/.cache/triage/features).")
@click.option("--question", default=None,
              help="The review question, used as a live project uses it: cold-start ranking and a "
                   "relevant training record in every round.")
@click.option("--embeddings-after", type=click.IntRange(min=0), default=None,
              help="Replay live screening's no-waiting policy: rank with the preset's TF-IDF part until "
                   "this many records are screened, as while the background embedding pass runs.")
def simulate_cmd(data, preset, seed, prior_included, prior_excluded, prior_ids, batch_size, stop_after,
                 out, as_json, cache_dir, question, embeddings_after):
    """Replay a fully labelled DATA file (any format `triage import` reads) with its labels as
    the reviewer, and report how early the relevant records were found."""
    from triage.learn.presets import load_preset
    from triage.simulate.data import load_labelled
    from triage.simulate.simulate import SimulationError, simulate
    from triage.simulate.stops import stopping_summary

    p = load_preset(preset)
    ds = load_labelled(data)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    try:
        res = simulate(ds.texts, ds.gold, p, seed, prior_included, prior_excluded, _ids(prior_ids),
                       batch_size, "last_relevant" if stop_after is None else stop_after, cache_dir=cache,
                       question=question, embeddings_after=embeddings_after, snapshot_every=25)
    except SimulationError as e:
        raise TriageError(str(e)) from e
    m = res.metrics
    stopping = stopping_summary(res.history, ds.gold, snapshots=res.snapshots, screen_scores=res.screen_scores,
                                probabilistic=res.probabilistic)
    result = {"dataset": ds.name, "preset": p.name, "seed": seed, "question": question or None,
              "prior_ids": res.prior_ids.tolist(), "batch_size": res.batch_size,
              **m.to_dict(), "seconds": res.seconds, "rounds": len(res.round_seconds),
              "stopping": stopping}
    result = _clean(result)
    if out:
        from triage.io.output import write_output
        from triage.simulate.plot import plot_recall

        outd = Path(out)
        outd.mkdir(parents=True, exist_ok=True)
        _write_history(res, ds.gold, outd / "history.csv")
        write_output(outd / "metrics.json", json.dumps(result, indent=2) + "\n")
        order = res.history.record_ids[len(res.prior_ids):]
        write_output(outd / "recall.png", lambda tmp: plot_recall(ds.gold[order], m.records, m.relevant, tmp,
                                                                  title=f"{ds.name} - {p.name}, seed {seed}"))
    if as_json:
        click.echo(json.dumps(result))
        return
    _print_table(result, out)


def _print_table(r: dict, out) -> None:
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f} %"

    def num(x):
        return "n/a" if x is None else str(x)

    click.echo(f"{r['dataset']}: {r['records']} records, {r['relevant']} relevant (priors excluded: "
               f"{len(r['prior_ids'])}); preset {r['preset']}, seed {r['seed']}")
    rows = [("screened", num(r["screened"])), ("relevant found", num(r["found"])),
            ("recall @ 5 / 10 / 20 %", " / ".join(pct(r[k]) for k in ("recall_5", "recall_10", "recall_20"))),
            ("WSS @ 95 / 100 %", f"{pct(r['wss_95'])} / {pct(r['wss_100'])}"),
            ("ATD", pct(r["atd"])), ("loss", "n/a" if r["loss"] is None else f"{r['loss']:.3f}"),
            ("records for 80/90/95/100 %", " / ".join(num(r[f"n_for_{k}"]) for k in (80, 90, 95, 100)))]
    d = r["stopping"].get("default", {})
    if d.get("screened") is not None:
        rows.append(("default stopping rule", f"stops after {d['screened']} (recall {pct(d['recall'])})"))
    else:
        rows.append(("default stopping rule", "did not stop before the run ended"))
    s = r["seconds"]
    rows.append(("seconds (features + loop)", f"{s['features']:.1f} + {s['loop']:.1f}"))
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        click.echo(f"  {a:<{width}}  {b}")
    if out:
        click.echo(f"Wrote history.csv, metrics.json, recall.png to {out}")


@cli.command("benchmark")
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False), required=True,
              help="Folder of fully labelled datasets (one file per dataset).")
@click.option("--datasets", default=None, help="Only these datasets (file names without extension), comma-separated.")
@click.option("--presets", default=None, help="Presets, comma-separated (default: the default preset).")
@click.option("--seeds", default="1-5", show_default=True, help="Seeds: 1-5 or 1,2,7.")
@click.option("--prior-included", type=int, default=1, show_default=True,
              help="Relevant priors drawn per run (as `triage simulate --prior-included`).")
@click.option("--prior-excluded", type=int, default=1, show_default=True,
              help="Irrelevant priors drawn per run (as `triage simulate --prior-excluded`).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Parallel processes (local).")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786): run on that cluster.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Feature cache folder (embeddings in its embeddings/ subfolder), e.g. CACHE_DIR.")
@click.option("--snapshot-every", type=int, default=0, show_default=True,
              help="Keep the round's scores of every unlabelled record (probabilities or SVM margins) every "
                   "N screened records in histories.jsonl, for replaying score-based stopping rules "
                   "(each record's score when it was proposed is always kept).")
@click.option("--questions", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CSV (dataset,question): simulate each listed dataset with its review question, as "
                   "`triage simulate --question`; datasets not listed run without one.")
@click.option("--embeddings-after", type=click.IntRange(min=0), default=None,
              help="Replay the no-waiting policy: TF-IDF rounds until this many records are screened.")
@click.option("--overlaps", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CSV (dataset_a,dataset_b) of datasets that are the same review: the summary also "
                   "averages them first, so each review counts once (e.g. benchmarks/overlaps.csv).")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder.")
def benchmark_cmd(data_dir, datasets, presets, seeds, prior_included, prior_excluded, jobs, scheduler,
                  cache_dir, snapshot_every, questions, embeddings_after, overlaps, out):
    """Simulate every dataset x preset x seed; write results.csv, summary.md, curves.png and
    histories.jsonl to OUT."""
    from tqdm import tqdm

    from triage.io.output import write_output
    from triage.io.writers import table_text
    from triage.learn.presets import DEFAULT_PRESET, load_preset
    from triage.simulate.benchmark import (BenchmarkError, Task, find_datasets, parse_seeds, read_questions,
                                           read_overlaps, run_tasks, summary_markdown)
    from triage.simulate.plot import plot_curves

    names = [d.strip() for d in datasets.split(",")] if datasets else None
    found = find_datasets(data_dir, names)
    preset_names = [p.strip() for p in (presets or DEFAULT_PRESET).split(",") if p.strip()]
    for pn in preset_names:
        load_preset(pn)  # fail early on a misspelt preset
    cache = str(Path(cache_dir) if cache_dir else default_cache_dir())
    qs = read_questions(questions) if questions else {}
    unknown = sorted(set(qs) - set(found))
    if unknown and not names:
        raise BenchmarkError(f"{questions}: no dataset named {', '.join(unknown)} in {data_dir}")
    tasks = [Task(d, str(path), pn, s, prior_included, prior_excluded, cache, snapshot_every, qs.get(d),
                  embeddings_after)
             for d, path in found.items() for pn in preset_names for s in parse_seeds(seeds)]
    outd = Path(out)
    outd.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    with tqdm(total=len(tasks), desc="simulations", unit="run") as bar, \
            open(outd / "histories.jsonl", "w", encoding="utf-8") as hist:
        for res in run_tasks(tasks, jobs=jobs, scheduler=scheduler, progress=lambda _: bar.update(1)):
            rows.append(res["row"])
            if res["history"] is not None:
                hist.write(json.dumps(res["history"]) + "\n")
                curves.setdefault(res["row"]["preset"], []).append(res["curve"])
    rows.sort(key=lambda r: (r["dataset"], r["preset"], r["seed"]))
    fields = list(dict.fromkeys(k for r in rows for k in r))
    write_output(outd / "results.csv", table_text(fields, ([_clean(r).get(k, "") for k in fields] for r in rows)))
    pairs = read_overlaps(overlaps) if overlaps else ()
    write_output(outd / "summary.md", summary_markdown(rows, overlaps=pairs))
    if curves:
        write_output(outd / "curves.png", lambda tmp: plot_curves(
            {p: np.mean(c, axis=0) for p, c in curves.items()}, tmp, title=f"{len(found)} datasets x seeds {seeds}"))
    n_err = sum(1 for r in rows if r.get("error"))
    click.echo(f"{len(rows) - n_err} runs done, {n_err} failed; wrote results.csv, summary.md, "
               f"curves.png, histories.jsonl to {outd}")
