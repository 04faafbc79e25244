"""Embedding throughput (records/s) on real benchmark abstracts, CPU only.

Configurations: sentence-transformers' own encode (fp32, batch 32); unsorted batches (input
order); SentenceTransformerEmbedder (length-sorted) at batch sizes 16/32/64/128; torch threads
1 vs 2; bf16 (with mean/min cosine to fp32); the model2vec static embedder. Timings exclude
model loading (one warm-up batch first); configurations run in interleaved rounds. Writes a markdown table to --out.

    python benchmarks/embed_throughput.py --data-dir /work/shared/data/benchmarks --n 500 \
        --out benchmarks/results/features.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from warm_cache import dataset_texts  # noqa: E402

from triage.features.embed import SentenceTransformerEmbedder, make_embedder  # noqa: E402


def sample_texts(data_dir: Path, n: int, seed: int = 0) -> list[str]:
    """n texts (title + abstract, abstract non-empty) drawn uniformly from all benchmark CSVs."""
    texts = [t for p in sorted(data_dir.glob("*.csv")) for t in dataset_texts(p) if "\n" in t]
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.choice(len(texts), size=n, replace=False)]


def timed(fn, texts: list[str]) -> tuple[float, np.ndarray]:
    fn(texts[:8])  # warm-up
    t = time.perf_counter()
    x = fn(texts)
    return len(texts) / (time.perf_counter() - t), x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=2, help="rounds over all configurations")
    ap.add_argument("--note", default="", help="free text added to the report (e.g. machine load)")
    args = ap.parse_args(argv)

    import torch
    texts = sample_texts(args.data_dir, args.n)
    lengths = np.array([len(t) for t in texts])

    fp32 = SentenceTransformerEmbedder(batch_size=32)
    st = fp32._load()
    bf16 = SentenceTransformerEmbedder(precision="bf16", batch_size=32)
    static = make_embedder("model2vec")

    def sorted_at(emb, bs):
        def run(ts):
            emb.batch_size = bs
            return emb.embed(ts)
        return run

    def unsorted(ts):
        return np.concatenate([st.encode(ts[i:i + 32], batch_size=32) for i in range(0, len(ts), 32)])

    # (name, torch threads, function); run in rounds, rotating the order, so that changes in
    # machine load hit every configuration alike. The median over rounds is reported.
    configs = [("fp32, SentenceTransformer.encode (sorts internally), batch 32", 2,
                lambda ts: st.encode(ts, batch_size=32)),
               ("fp32, unsorted batches of 32", 2, unsorted)]
    configs += [(f"fp32, length-sorted, batch {bs}", 2, sorted_at(fp32, bs)) for bs in (16, 32, 64, 128)]
    configs += [("fp32, length-sorted, batch 32", 1, sorted_at(fp32, 32)),
                ("bf16, length-sorted, batch 32", 2, sorted_at(bf16, 32)),
                ("bf16, length-sorted, batch 64", 2, sorted_at(bf16, 64)),
                (f"model2vec static ({static.dim} dims)", 2, static.embed)]
    rates: dict[int, list[float]] = {i: [] for i in range(len(configs))}
    outputs: dict[int, np.ndarray] = {}
    for r in range(args.repeats):
        for k in range(len(configs)):
            i = (k + r * 3) % len(configs)
            name, threads, fn = configs[i]
            torch.set_num_threads(threads)
            rate, outputs[i] = timed(fn, texts)
            rates[i].append(rate)
            print(f"round {r}: {name:55s} threads={threads} {rate:8.1f} rec/s", flush=True)
    torch.set_num_threads(2)
    ref = outputs[3]  # fp32 sorted batch 32
    rows: list[tuple[str, int, float, str]] = []
    for i, (name, threads, _) in enumerate(configs):
        extra = " / ".join(f"{v:.1f}" for v in rates[i])
        if name.startswith("bf16"):
            cos = np.sum(outputs[i] * ref, axis=1)
            extra += f"; cosine to fp32 mean {cos.mean():.4f}, min {cos.min():.4f}"
        rows.append((name, threads, float(np.median(rates[i])), extra))

    if args.out:
        import subprocess
        cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name' | sed 's/.*: *//'"],
                             capture_output=True, text=True).stdout.strip()
        lines = [
            "# Features layer: embedding throughput",
            "",
            f"Command: `python benchmarks/embed_throughput.py --data-dir {args.data_dir} --n {args.n}"
            f" --repeats {args.repeats} --out {args.out}`  ",
            f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `nproc` = {os.cpu_count()}; "
            f"CPU: {cpu}; torch {torch.__version__}; load average at end: "
            f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}  ",
            f"Texts: {args.n} title+abstract records sampled (seed 0) from all benchmark CSVs; "
            f"length mean {lengths.mean():.0f} chars, median {np.median(lengths):.0f}, max {lengths.max()}. "
            "MiniLM truncates at 256 word pieces.",
            "",
        ]
        if args.note:
            lines += [args.note, ""]
        lines += ["| configuration | torch threads | records/s (median) | per round; notes |", "|---|---|---|---|"]
        lines += [f"| {n} | {t} | {r:.1f} | {e} |" for n, t, r, e in rows]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
