"""Speed and scale of a live project, stage by stage, each stage in its own process so that
its peak memory (max RSS) is measured alone.

    python benchmarks/scale.py --records 1000000 --workdir WORK_DIR/triage-scale   # import, features, rank
    python benchmarks/scale.py --records 100000 --labels 2000 --workdir WORK_DIR/triage-100k

Records are real titles/abstracts drawn with replacement from the benchmark datasets
(--data-dir), each made unique by a numbered suffix so de-duplication keeps them all.
Stages: generate (CSV) -> import (`triage import`) -> features (TF-IDF + embedder, cached in the
project) -> label (N labels drawn with the gold labels) -> rank (`triage.service.rank`, timed with
features cached, repeated). Prints a Markdown table; `--out FILE` appends it to FILE.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def stage_generate(args) -> dict:
    rng = np.random.default_rng(args.seed)
    titles, abstracts, gold = [], [], []
    for f in sorted(Path(args.data_dir).glob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                titles.append(row["title"])
                abstracts.append(row["abstract"])
                gold.append(int(row["label_included"]))
    pick = rng.integers(0, len(titles), size=args.records)
    out = Path(args.workdir) / "records.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "abstract", "year"])
        for i, j in enumerate(pick):
            w.writerow([f"{titles[j]} [{i}]", abstracts[j], 2000 + i % 25])
    np.save(Path(args.workdir) / "gold.npy", np.asarray(gold, dtype=np.int8)[pick])
    return {"file_mb": round(out.stat().st_size / 2**20, 1)}


def stage_import(args) -> dict:
    from click.testing import CliRunner

    from triage.cli.main import cli

    proj = Path(args.workdir) / "project"
    runner = CliRunner()
    r = runner.invoke(cli, ["init", str(proj), "--seed", str(args.seed)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["import", str(proj), str(Path(args.workdir) / "records.csv"), "--json"])
    assert r.exit_code == 0, r.output
    return {}


def _preset(args):
    from triage.learn.presets import load_preset

    return load_preset(args.preset)


def stage_features(args) -> dict:
    from triage.service import project_engine
    from triage.store.project import Project

    with Project.open(Path(args.workdir) / "project") as p:
        X, _ = project_engine(p, args.preset).features()
        return {"shape": list(X.shape)}


def stage_label(args) -> dict:
    """Label `--labels` records: every relevant one among a random draw, as a reviewer would."""
    from triage.store.project import Project

    gold = np.load(Path(args.workdir) / "gold.npy")
    rng = np.random.default_rng(args.seed)
    with Project.open(Path(args.workdir) / "project") as p:
        ids = p.record_ids()
        pick = rng.choice(len(ids), size=args.labels, replace=False)
        items = [(int(ids[i]), "include" if gold[i] else "exclude") for i in pick]
        p.add_labels(items, reviewer="benchmark", origin="ranked")
    return {"labels": args.labels, "relevant": int(gold[pick].sum())}


def stage_rank(args) -> dict:
    """Features come from the project cache (built by the features stage); rank 3 times."""
    from triage.engine import round_rng
    from triage.learn.round import run_round
    from triage.service import project_engine, project_history, rank
    from triage.store.project import Project

    with Project.open(Path(args.workdir) / "project") as p:
        preset = _preset(args)
        t = time.perf_counter()
        engine = project_engine(p, args.preset)
        X, _ = engine.features()
        load = time.perf_counter() - t
        h = project_history(p, engine.corpus)
        rounds = []
        for r in range(3):
            t = time.perf_counter()
            run_round(X, h, preset, round_rng(args.seed, r))
            rounds.append(time.perf_counter() - t)
        del engine, X, h  # rank builds its own features: do not hold two
        t = time.perf_counter()
        rank(p, args.preset)
        full = time.perf_counter() - t
    return {"features_from_cache_s": round(load, 2), "retrain_rerank_s": [round(x, 3) for x in rounds],
            "rank_project_s": round(full, 2)}


STAGES = {"generate": stage_generate, "import": stage_import, "features": stage_features,
          "label": stage_label, "rank": stage_rank}


def run_stage_in_child(name: str, argv: list[str]) -> dict:
    """Run one stage in a fresh interpreter; wall time and peak RSS of that process alone."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--stage", name, *argv], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"stage {name} failed ({status}):\n{out}")
    info = json.loads(out.strip().splitlines()[-1])
    info.update(stage=name, seconds=round(time.perf_counter() - t, 1), max_rss_gb=round(usage.ru_maxrss / 2**20, 2))
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--labels", type=int, default=2000)
    ap.add_argument("--preset", default="static_hybrid")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data" / "benchmarks"))
    ap.add_argument("--stages", default="generate,import,features,label,rank")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="append the Markdown table to this file")
    args = ap.parse_args()
    if args.stage:  # child process
        print(json.dumps(STAGES[args.stage](args)))
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    argv = [a for a in sys.argv[1:] if not a.startswith("--out") and a != args.out]
    rows = []
    for name in args.stages.split(","):
        rows.append(run_stage_in_child(name, argv))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    lines = [f"### {args.records:,} records, {args.labels:,} labels, preset `{args.preset}`",
             "", f"`python benchmarks/scale.py {' '.join(argv)}` — {os.cpu_count()} cores, "
             f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}", "",
             "| stage | wall s | peak RSS GB | details |", "|---|---:|---:|---|"]
    for r in rows:
        details = {k: v for k, v in r.items() if k not in ("stage", "seconds", "max_rss_gb")}
        lines.append(f"| {r['stage']} | {r['seconds']} | {r['max_rss_gb']} | {json.dumps(details)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
