"""Embedding throughput (records/s) on real benchmark abstracts, CPU only.

Configurations: sentence-transformers' own encode (fp32, batch 32); unsorted batches (input
order); SentenceTransformerEmbedder (length-sorted) at batch sizes 16/32/64/128; torch threads
1 vs 2; bf16 (with mean/min cosine to fp32); the model2vec static embedder. Timings exclude
model loading (one warm-up batch first). Writes a markdown table to --out.

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
    ap.add_argument("--note", default="", help="free text added to the report (e.g. machine load)")
    args = ap.parse_args(argv)

    import torch
    texts = sample_texts(args.data_dir, args.n)
    lengths = np.array([len(t) for t in texts])
    rows: list[tuple[str, int, float, str]] = []

    def report(name: str, threads: int, rate: float, extra: str = "") -> None:
        rows.append((name, threads, rate, extra))
        print(f"{name:45s} threads={threads} {rate:8.1f} rec/s {extra}", flush=True)

    torch.set_num_threads(2)
    base = SentenceTransformerEmbedder(batch_size=32)
    st = base._load()
    rate, _ = timed(lambda ts: st.encode(ts, batch_size=32, normalize_embeddings=True), texts)
    report("fp32, SentenceTransformer.encode, batch 32", 2, rate)

    def unsorted(ts):
        return np.concatenate([st.encode(ts[i:i + 32], batch_size=32) for i in range(0, len(ts), 32)])
    rate, _ = timed(unsorted, texts)
    report("fp32, unsorted batches of 32", 2, rate)

    ref = None
    best = (0.0, 32)
    for bs in (16, 32, 64, 128):
        base.batch_size = bs
        rate, x = timed(base.embed, texts)
        ref = x if bs == 32 else ref
        best = max(best, (rate, bs))
        report(f"fp32, length-sorted, batch {bs}", 2, rate)

    torch.set_num_threads(1)
    base.batch_size = best[1]
    rate, _ = timed(base.embed, texts)
    report(f"fp32, length-sorted, batch {best[1]}", 1, rate)

    torch.set_num_threads(2)
    bf = SentenceTransformerEmbedder(precision="bf16", batch_size=32)
    rate, xb = timed(bf.embed, texts)
    cos = np.sum(xb * ref, axis=1)
    report("bf16, length-sorted, batch 32", 2, rate, f"cosine to fp32: mean {cos.mean():.4f}, min {cos.min():.4f}")

    static = make_embedder("model2vec")
    rate, xs = timed(static.embed, texts)
    report(f"model2vec static ({static.dim} dims)", 2, rate)

    if args.out:
        import subprocess
        cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name' | sed 's/.*: *//'"],
                             capture_output=True, text=True).stdout.strip()
        lines = [
            "# Features layer: embedding throughput",
            "",
            f"Command: `python benchmarks/embed_throughput.py --data-dir {args.data_dir} --n {args.n}"
            f" --out {args.out}`  ",
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
        lines += ["| configuration | torch threads | records/s | notes |", "|---|---|---|---|"]
        lines += [f"| {n} | {t} | {r:.1f} | {e} |" for n, t, r, e in rows]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
