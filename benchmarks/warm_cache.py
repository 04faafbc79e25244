"""Fill an EmbeddingCache with every benchmark dataset's texts, smallest dataset first.

Texts are built exactly as simulations build them: record_text(title, abstract) from the CSV
columns `title` and `abstract` (no keywords). Resumable: texts already cached are skipped, and
each chunk of computed vectors is on disk as soon as it is done (a kill loses one chunk).

    python benchmarks/warm_cache.py --data-dir DATA_DIR \
        --cache-dir CACHE_DIR/embeddings [--embedder minilm|static|<spec>] [--precision auto]

The embedder is the one `make_embedder(spec, precision=..., max_length=...)` builds - for the
default preset `--precision auto --embedder minilm` (what models/hybrid_svm.toml asks for).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from triage.features.cache import EmbeddingCache  # noqa: E402
from triage.features.embed import make_embedder  # noqa: E402
from triage.features.text import record_text  # noqa: E402


def dataset_texts(path: Path) -> list[str]:
    """The texts a simulation embeds for a benchmark CSV: `load_labelled(path).texts`, i.e.
    record_text(title, abstract) per row; if triage's reader refuses the file, the same
    record_text of the raw CSV columns (identical for all 40 files the reader accepts)."""
    from triage.errors import TriageError
    from triage.simulate.data import load_labelled
    try:
        return load_labelled(path).texts
    except TriageError as e:
        print(f"  {path.name}: {e}; reading the CSV columns directly", flush=True)
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as f:
        return [record_text(row.get("title") or "", row.get("abstract") or "") for row in csv.DictReader(f)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--cache-dir", type=Path, required=True)
    ap.add_argument("--embedder", default="minilm", help="minilm | static | any make_embedder spec")
    ap.add_argument("--precision", default="fp32", help="fp32 | bf16 | int8 | auto (default fp32)")
    ap.add_argument("--max-length", type=int, default=None, help="word pieces per text (default: the model's)")
    ap.add_argument("--threads", type=int, default=None, help="torch/onnxruntime threads (default: theirs)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--chunk-size", type=int, default=2048, help="texts per cache chunk file")
    ap.add_argument("--done-file", type=Path, default=None,
                    help="when every dataset is cached, write the embedder's model id to this file")
    args = ap.parse_args(argv)

    import signal

    def on_signal(signum, frame):  # say why we stopped: finished chunks stay cached
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} stopped by signal {signal.Signals(signum).name}; "
              "rerun the same command to resume", flush=True)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)

    spec = "model2vec" if args.embedder == "static" else args.embedder
    embedder = make_embedder(spec, precision=args.precision, batch_size=args.batch_size, threads=args.threads,
                             max_length=args.max_length)
    cache = EmbeddingCache(args.cache_dir, chunk_size=args.chunk_size)
    files = sorted(args.data_dir.glob("*.csv"), key=lambda p: p.stat().st_size)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} embedder {embedder.model_id}, {len(files)} datasets, "
          f"cache {cache.model_dir(embedder.model_id)}", flush=True)
    t_all = time.time()
    total_new = 0
    for k, path in enumerate(files, 1):
        texts = dataset_texts(path)
        t0, done = time.time(), [0, 0.0]

        def progress(n: int) -> None:
            done[0] += n
            now = time.time()
            if now - done[1] >= 30:
                done[1] = now
                rate = done[0] / max(now - t0, 1e-9)
                print(f"  {path.stem}: {done[0]} embedded, {rate:.1f}/s", flush=True)

        cache.get(embedder, texts, progress=progress)
        total_new += done[0]
        dt = time.time() - t0
        print(f"{time.strftime('%H:%M:%S')} [{k}/{len(files)}] {path.stem}: {len(texts)} records, "
              f"{done[0]} newly embedded in {dt:.0f} s"
              + (f" ({done[0] / dt:.1f}/s)" if done[0] else ""), flush=True)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} done: {total_new} embedded in {time.time() - t_all:.0f} s",
          flush=True)
    if args.done_file:
        args.done_file.write_text(embedder.model_id + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
