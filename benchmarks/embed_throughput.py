"""Embedding throughput (records/s) and fidelity of each embedder option, CPU only.

Every option embeds the same N title+abstract records (drawn with default_rng(seed) from all
benchmark CSVs); fidelity is the cosine of each record's vector to the reference, MiniLM fp32
torch at 256 word pieces (today's vectors), reported as mean and min. Options: torch fp32/bf16,
ONNX Runtime fp32/int8 (the current ONNX_RECIPE), maximum length 256 vs 128 word pieces, 1 vs 2
threads, ONNX batch sizes; `--extra-onnx LABEL=DIR` adds an existing ONNX export folder (e.g.
one of an older recipe, kept under CACHE_DIR/onnx) at batch sizes 1 and 32. Besides records/s
(wall time) it reports records per CPU-second (process CPU time of all threads), the cost of an
option, robust to other jobs on the machine. Timings exclude model loading and the one-off ONNX
export (one warm-up batch first). Options run in rounds; `--repeat-best 2` then re-runs the two
fastest options meeting the cosine bar (or `--repeat 4,13` those options) `--rounds` times,
interleaved, so a change in machine load hits both alike; each run is also reported as a ratio
to the reference's run of the same round. `uptime` is printed before and after each option
(other jobs may share the CPU) and goes into the report.

    python benchmarks/embed_throughput.py --data-dir DATA_DIR --n 200 --repeat-best 2 \\
        [--extra-onnx v1=CACHE_DIR/onnx/<folder>] --out benchmarks/results/features.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from warm_cache import dataset_texts  # noqa: E402

from triage.features.embed import (OnnxEmbedder, SentenceTransformerEmbedder, cpu_flags,  # noqa: E402
                                   native_bf16, resolve_precision, torch_cpu_capability)

COSINE_BAR = 0.99


def sample_texts(data_dir: Path, n: int, seed: int = 0) -> list[str]:
    """n texts (title + abstract, abstract non-empty) drawn uniformly from all benchmark CSVs."""
    texts = [t for p in sorted(data_dir.glob("*.csv")) for t in dataset_texts(p) if "\n" in t]
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.choice(len(texts), size=n, replace=False)]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def load1() -> float:
    return os.getloadavg()[0]


def options(extra_onnx: dict[str, Path] | None = None) -> list[tuple[str, callable]]:
    """(name, factory) of every option; the factory builds the embedder (exporting once).
    extra_onnx: label -> an existing ONNX export folder (model.onnx, tokenizer.json,
    triage_onnx.json), run at batch sizes 1 and 32 with 2 threads."""
    def torch_(precision, length, threads):
        return lambda: SentenceTransformerEmbedder(precision=precision, max_length=length, threads=threads)

    def onnx_(quantize, length, threads, batch=1):
        return lambda: OnnxEmbedder(quantize=quantize, max_length=length, threads=threads, batch_size=batch)

    def folder_(label, path, batch):
        def make():
            meta = json.loads((path / "triage_onnx.json").read_text())
            emb = OnnxEmbedder(quantize=bool(meta.get("quantize")), threads=2, batch_size=batch)
            emb.path = path  # run that export instead of the current recipe's
            emb.model_id = (f"ort:{meta.get('base')}@{meta.get('base_hash')}:"
                            f"{'int8' if meta.get('quantize') else 'fp32'}:{meta.get('recipe')} ({label})")
            return emb
        return make

    opts = [
        ("torch fp32, len 256, 2 threads (reference)", torch_("fp32", 256, 2)),
        ("torch bf16, len 256, 2 threads", torch_("bf16", 256, 2)),
        ("torch fp32, len 128, 2 threads", torch_("fp32", 128, 2)),
        ("onnx fp32, len 256, 2 threads", onnx_(False, 256, 2)),
        ("onnx int8, len 256, 2 threads", onnx_(True, 256, 2)),
        ("onnx int8, len 256, 1 thread", onnx_(True, 256, 1)),
        ("onnx int8, len 128, 2 threads", onnx_(True, 128, 2)),
        ("torch fp32, len 256, 1 thread", torch_("fp32", 256, 1)),
        ("onnx fp32, len 256, 1 thread", onnx_(False, 256, 1)),
        ("onnx int8, len 128, 1 thread", onnx_(True, 128, 1)),
        ("onnx int8, len 256, 2 threads, batch 8", onnx_(True, 256, 2, 8)),
        ("onnx int8, len 256, 2 threads, batch 32", onnx_(True, 256, 2, 32)),
        ("onnx fp32, len 256, 2 threads, batch 32", onnx_(False, 256, 2, 32)),
    ]
    for label, path in (extra_onnx or {}).items():
        opts += [(f"{label}, len 256, 2 threads, batch {b}", folder_(label, Path(path), b)) for b in (1, 32)]
    return opts


def run_option(embedder, texts: list[str]) -> tuple[float, np.ndarray, float, float]:
    """(records/s, vectors, 1-min load average, records per CPU-second) for one pass over `texts`.

    Records per CPU-second (process CPU time, all threads) is what an option costs, and it is far
    less sensitive than wall time to other jobs on the machine; with 1 thread it equals records/s
    on one idle core."""
    import torch
    if getattr(embedder, "threads", None):
        torch.set_num_threads(int(embedder.threads))
    embedder.embed(texts[:8])  # warm-up (loads the model)
    t, c = time.perf_counter(), time.process_time()
    x = embedder.embed(texts)
    rate = len(texts) / (time.perf_counter() - t)
    return rate, x, load1(), len(texts) / (time.process_time() - c)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated option numbers (0 = reference, always run)")
    ap.add_argument("--repeat-best", type=int, default=2, help="re-run the K fastest options meeting the bar")
    ap.add_argument("--repeat", default="", help="comma-separated option numbers to re-run instead of the best")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved re-runs (order reversed every other)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--note", default="", help="free text added to the report")
    ap.add_argument("--extra-onnx", action="append", default=[], metavar="LABEL=DIR",
                    help="also run an existing ONNX export folder (repeatable)")
    args = ap.parse_args(argv)
    extra = dict(e.split("=", 1) for e in args.extra_onnx)

    import torch
    texts = sample_texts(args.data_dir, args.n, args.seed)
    lengths = np.array([len(t) for t in texts])
    opts = options({k: Path(v) for k, v in extra.items()})
    chosen = sorted({0} | {int(i) for i in args.only.split(",") if i.strip()}) if args.only else range(len(opts))
    print(f"start: {uptime()}", flush=True)
    embedders, rates, loads, vecs, cpu = {}, {}, {}, {}, {}
    for i in chosen:
        name, make = opts[i]
        embedders[i] = make()
        rate, vecs[i], load, per_cpu = run_option(embedders[i], texts)
        rates[i], loads[i], cpu[i] = [rate], [load], [per_cpu]
        print(f"{name:45s} {rate:7.1f} rec/s  {per_cpu:7.1f} rec/CPU-s  load {load:.1f}  ({uptime()})", flush=True)
    ref = vecs[0]
    cos = {i: np.sum(vecs[i] * ref, axis=1) for i in vecs}
    passing = sorted((i for i in vecs if i != 0 and cos[i].mean() >= COSINE_BAR), key=lambda i: -cpu[i][0])
    best = [int(i) for i in args.repeat.split(",") if i.strip()] or passing[: args.repeat_best]
    for r in range(args.rounds if best else 0):  # interleaved repeats of the best options + the reference
        for i in ([0] + best) if r % 2 == 0 else (best[::-1] + [0]):
            rate, _, load, per_cpu = run_option(embedders[i], texts)
            rates[i].append(rate)
            loads[i].append(load)
            cpu[i].append(per_cpu)
            print(f"repeat {r}: {opts[i][0]:45s} {rate:7.1f} rec/s  {per_cpu:7.1f} rec/CPU-s  load {load:.1f}",
                  flush=True)
    print(f"end: {uptime()}", flush=True)

    rows = []
    for i in vecs:
        med = float(np.median(rates[i]))
        med_cpu = float(np.median(cpu[i]))
        rows.append((opts[i][0], embedders[i].model_id, med, med_cpu, med_cpu / float(np.median(cpu[0])),
                     " / ".join(f"{v:.1f}" for v in rates[i]),
                     " / ".join(f"{v:.1f} (x{v / r:.2f})" for v, r in zip(cpu[i], cpu[0])),
                     " / ".join(f"{v:.1f}" for v in loads[i]),
                     cos[i].mean(), cos[i].min()))
    for row in rows:
        print(f"{row[0]:45s} median {row[2]:6.1f} rec/s {row[3]:6.1f} rec/CPU-s x{row[4]:.2f}  "
              f"cos mean {row[8]:.4f} min {row[9]:.4f}")

    if args.out:
        cpu_name = subprocess.run(["sh", "-c", "lscpu | grep 'Model name' | sed 's/.*: *//'"],
                                  capture_output=True, text=True).stdout.strip()
        flags = cpu_flags()
        bf16_flags = sorted(f for f in flags if "bf16" in f) or ["none"]
        import onnxruntime
        lines = [
            "# Features layer: embedding throughput and fidelity",
            "",
            f"Command: `python benchmarks/embed_throughput.py --data-dir DATA_DIR --n {args.n} --seed {args.seed}"
            f"{' --only ' + args.only if args.only else ''} --repeat-best {args.repeat_best}"
            f"{' --repeat ' + args.repeat if args.repeat else ''} --rounds {args.rounds}"
            f"{''.join(f' --extra-onnx {k}=DIR' for k in extra)} --out {args.out}`  ",
            f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `nproc` = {os.cpu_count()}; CPU: {cpu_name}; "
            f"bf16 CPU flags: {', '.join(bf16_flags)}; torch {torch.__version__} (CPU capability "
            f"{torch_cpu_capability()}); onnxruntime {onnxruntime.__version__}; native_bf16() = {native_bf16()}; "
            f"precision 'auto' resolves to {resolve_precision('auto')!r} here.  ",
            f"Texts: {args.n} title+abstract records drawn with default_rng({args.seed}) from all benchmark CSVs; "
            f"length mean {lengths.mean():.0f} chars, median {np.median(lengths):.0f}, max {lengths.max()}.  ",
            f"Load (`uptime`, other jobs share the 2 cores): {uptime()}",
            "",
        ]
        if args.note:
            lines += [args.note, ""]
        lines += ["| option | model id | records/s (median) | records per CPU-second (median) "
                  "| x reference (per CPU-second) | records/s per run "
                  "| records per CPU-second per run (x the reference's run of the same round) "
                  "| load average (1 min) per run | cosine to reference mean | min |",
                  "|---|---|---:|---:|---:|---|---|---|---:|---:|"]
        lines += [f"| {n} | `{m}` | {r:.1f} | {c:.1f} | {x:.2f} | {p} | {pc} | {lo} | {cm:.4f} | {cn:.4f} |"
                  for n, m, r, c, x, p, pc, lo, cm, cn in rows]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
