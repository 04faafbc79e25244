"""Import to the first ranked batch: how long a reviewer waits, per preset (issue #15's goal: the
default preset within 2x the time `tfidf_svm` needs on the same 13,000-record project).

For each preset and repeat, in a fresh project folder, as a reviewer would from a terminal:
    triage init P --preset PRESET --question "..."       (not timed)
    triage import P records.csv                           (timed; with an embedding preset it
                                                           starts the background embedding pass)
    two prior labels, one relevant and one irrelevant     (not timed; `triage label`'s work)
    triage next P -n 20 --out batch.csv                   (timed: trains and ranks)
The records are real benchmark titles and abstracts drawn with replacement and made unique
(`scale.py`'s generator). After each run the background pass is stopped, so runs do not overlap;
presets alternate within each repeat.

    python benchmarks/first_batch.py --data-dir ../shared/data/benchmarks --workdir WORK_DIR/first_batch \
        [--records 13000] [--repeats 3] [--presets hybrid_svm,tfidf_svm] [--out benchmarks/results/first_batch.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
QUESTION = "Which studies evaluate the intervention or exposure named in the review protocol?"


def run(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t0


def add_priors(project_dir: Path, gold: np.ndarray, rng: np.random.Generator) -> None:
    from triage.store.project import Project

    with Project.open(project_dir) as p:
        ids = p.record_ids()
        rel = rng.choice(np.flatnonzero(gold[:len(ids)] == 1))
        irr = rng.choice(np.flatnonzero(gold[:len(ids)] == 0))
        p.add_labels([(int(ids[rel]), "include"), (int(ids[irr]), "exclude")], reviewer="benchmark", origin="prior")


def stop_background(project_dir: Path) -> str:
    """Kill the project's background embedding pass if one runs; its state at that moment."""
    from triage.features import background as bg

    status = bg.read_status(project_dir / "cache") or {}
    if status.get("state") == "running" and status.get("pid"):
        try:
            os.kill(int(status["pid"]), signal.SIGTERM)
        except ProcessLookupError:
            pass
    return f"{status.get('done', 0)}/{status.get('total', '?')} embedded" if status else "no pass"


def round_features(project_dir: Path) -> str:
    from triage.store.project import Project

    with Project.open(project_dir, readonly=True) as p:
        rounds = p.rounds()
        return rounds[-1].params.get("features", "?") if rounds else "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--records", type=int, default=13_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--presets", default="hybrid_svm,tfidf_svm")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "first_batch.md")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from scale import stage_generate

    args.workdir.mkdir(parents=True, exist_ok=True)
    stage_generate(SimpleNamespace(seed=args.seed, data_dir=args.data_dir, records=args.records, workdir=args.workdir))
    gold = np.load(args.workdir / "gold.npy")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    triage = [sys.executable, "-m", "triage"]
    presets = args.presets.split(",")
    rows: dict[str, list[dict]] = {p: [] for p in presets}
    for rep in range(args.repeats):
        for preset in presets:
            proj = args.workdir / f"p_{preset}_{rep}"
            shutil.rmtree(proj, ignore_errors=True)
            run(triage + ["init", str(proj), "--preset", preset, "--question", QUESTION, "--seed", str(args.seed)], env)
            t_import = run(triage + ["import", str(proj), str(args.workdir / "records.csv")], env)
            add_priors(proj, gold, np.random.default_rng([args.seed, rep]))
            t_next = run(triage + ["next", str(proj), "-n", "20", "--out", str(proj / "batch.csv")], env)
            bg_state = stop_background(proj)
            row = {"import": t_import, "next": t_next, "total": t_import + t_next, "features": round_features(proj),
                   "background": bg_state}
            rows[preset].append(row)
            print(json.dumps({"preset": preset, "repeat": rep} | row), flush=True)
            shutil.rmtree(proj, ignore_errors=True)

    med = {p: {k: float(np.median([r[k] for r in rs])) for k in ("import", "next", "total")} for p, rs in rows.items()}
    ref = presets[-1]
    lines = ["# Import to the first ranked batch", "",
             f"{args.records:,} records, {args.repeats} repeats per preset (median wall seconds), "
             f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}. "
             "Produced by benchmarks/first_batch.py.", "",
             f"| preset | import s | next -n 20 s | import to first batch s | x {ref} | first round's features |",
             "|---|---:|---:|---:|---:|---|"]
    for p in presets:
        lines.append(f"| {p} | {med[p]['import']:.1f} | {med[p]['next']:.1f} | {med[p]['total']:.1f} | "
                     f"{med[p]['total'] / med[ref]['total']:.2f} | {rows[p][0]['features']} |")
    lines += ["", "Runs (wall seconds):", ""]
    for p, rs in rows.items():
        for i, r in enumerate(rs):
            lines.append(f"- {p} #{i + 1}: import {r['import']:.1f}, next {r['next']:.1f}, total {r['total']:.1f}; "
                         f"background pass when stopped: {r['background']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
