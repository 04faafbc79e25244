"""On-disk embedding cache keyed by (model id, text hash).

Layout: `<directory>/<safe model id>/chunk-*.npz`, append-only. Each chunk holds
    hashes    (n,) |S16   blake2b-128 digests of the texts (triage.features.text.text_hash)
    vectors   (n, dim) float32
    model_id  0-d str     the embedder's model_id (checked on read)
    checksum  0-d str     blake2b of model_id + hashes + vectors (checked on read)
A chunk is written to a temp file and `os.replace`d into place, so a kill mid-write leaves no
partial chunk. A chunk that fails to load, fails its checksum, or has the wrong model id, dim
or shapes is deleted with a CacheWarning and its texts are recomputed: never silently used.

Lookups use sorted hash arrays and `np.searchsorted` (no per-text Python dicts), so a cache of
1,000,000 texts costs ~16 MB of hashes plus the vectors of the chunk being read.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from triage.features.embed import Embedder
from triage.progress import progress as reporter

Progress = Callable[[int], None]
CHUNK_SIZE = 4096  # computed texts per chunk file: also how much a kill can lose
COMPACT_ROWS = 65536  # rows per chunk written by compact() (~100 MB at 384 dims)

# Chunks whose checksum this process verified: path -> (size, mtime_ns). Shared by all caches
# in the process, so repeated lookups (one per simulation run) hash each chunk once.
_VERIFIED: dict[Path, tuple[int, int]] = {}


class CacheWarning(UserWarning):
    """A cache file was corrupt, truncated or stale; it was dropped and will be recomputed."""


def hash_array(texts: list[str]) -> np.ndarray:
    """(n,) |S16: the 16-byte digest of every text (the bytes of text_hash(text))."""
    blake = hashlib.blake2b
    return np.array([blake(t.encode("utf-8"), digest_size=16).digest() for t in texts], dtype="S16")


def safe_model_dir(model_id: str) -> str:
    """A file-system-safe, collision-free folder name for a model id."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:80]
    return f"{stem}-{hashlib.blake2b(model_id.encode(), digest_size=4).hexdigest()}"


def _checksum(model_id: str, hashes: np.ndarray, vectors: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(model_id.encode("utf-8"))
    h.update(memoryview(np.ascontiguousarray(hashes)))  # no copy (large caches)
    h.update(memoryview(np.ascontiguousarray(vectors)))
    return h.hexdigest()


def atomic_savez(path: Path, **arrays) -> None:
    """np.savez to a temp file in the same folder, fsync, then os.replace onto `path`."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class EmbeddingCache:
    """Embeddings of texts on disk under `directory`, one sub-folder per model id.

    `get` returns vectors for any texts, computing (and appending) only the missing ones.
    Safe against kills (atomic chunk writes) and against concurrent writers (unique chunk
    names; a text embedded twice is harmless: the first chunk's vector wins on read).
    """

    def __init__(self, directory: str | Path, chunk_size: int = CHUNK_SIZE):
        self.directory = Path(directory)
        self.chunk_size = chunk_size

    def model_dir(self, model_id: str) -> Path:
        return self.directory / safe_model_dir(model_id)

    def _chunks(self, model_id: str) -> list[Path]:
        d = self.model_dir(model_id)
        return sorted(d.glob("chunk-*.npz")) if d.is_dir() else []

    def _read_chunk(self, path: Path, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(hashes, vectors) of a valid chunk, or None after dropping an invalid one."""
        try:
            stat = path.stat()
            with np.load(path, allow_pickle=False) as z:
                hashes, vectors = z["hashes"], z["vectors"]
                stored_id, stored_sum = str(z["model_id"]), str(z["checksum"])
            if stored_id != model_id:
                raise ValueError(f"model id {stored_id!r}, expected {model_id!r}")
            if hashes.dtype != np.dtype("S16") or hashes.ndim != 1:
                raise ValueError(f"hashes have dtype {hashes.dtype} and shape {hashes.shape}")
            if vectors.dtype != np.float32 or vectors.shape != (len(hashes), dim):
                raise ValueError(f"vectors {vectors.dtype}{vectors.shape}, expected float32({len(hashes)}, {dim})")
            key = (stat.st_size, stat.st_mtime_ns)
            if _VERIFIED.get(path) != key:
                if _checksum(model_id, hashes, vectors) != stored_sum:
                    raise ValueError("checksum mismatch")
                _VERIFIED[path] = key
            return hashes, vectors
        except FileNotFoundError:
            return None  # removed by a concurrent compaction
        except Exception as e:  # noqa: BLE001 - any unreadable chunk is dropped, not trusted
            warnings.warn(f"embedding cache: dropping {path} ({type(e).__name__}: {e}); "
                          "its texts will be recomputed", CacheWarning, stacklevel=3)
            _VERIFIED.pop(path, None)
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            return None

    def _write_chunk(self, model_id: str, hashes: np.ndarray, vectors: np.ndarray) -> Path:
        d = self.model_dir(model_id)
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"chunk-{os.getpid()}-{uuid.uuid4().hex[:12]}.npz"
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        atomic_savez(path, hashes=hashes, vectors=vectors, model_id=np.array(model_id),
                     checksum=np.array(_checksum(model_id, hashes, vectors)))
        return path

    def _lookup(self, model_id: str, dim: int, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill out[i] for every cached keys[i] (keys sorted, unique); return the found mask."""
        found = np.zeros(len(keys), dtype=bool)
        for path in self._chunks(model_id):
            if found.all():
                break
            chunk = self._read_chunk(path, model_id, dim)
            if chunk is None or not len(chunk[0]):
                continue
            hashes, vectors = chunk
            order = np.argsort(hashes, kind="stable")
            sorted_hashes = hashes[order]
            todo = np.flatnonzero(~found)
            pos = np.searchsorted(sorted_hashes, keys[todo])
            pos_ok = pos < len(sorted_hashes)
            hit = np.zeros(len(todo), dtype=bool)
            hit[pos_ok] = sorted_hashes[pos[pos_ok]] == keys[todo[pos_ok]]
            out[todo[hit]] = vectors[order[pos[hit]]]
            found[todo[hit]] = True
        return found

    def count(self, embedder: Embedder, texts: list[str]) -> int:
        """How many distinct texts of `texts` are cached for this embedder (reads the chunks)."""
        keys = np.unique(hash_array(list(texts)))
        tmp = np.empty((len(keys), embedder.dim), dtype=np.float32)
        return int(self._lookup(embedder.model_id, embedder.dim, keys, tmp).sum())

    def get(self, embedder: Embedder, texts: list[str],
            progress: Progress | bool | None = None) -> np.ndarray:
        """(len(texts), dim) float32 embeddings, in the order of `texts`.

        Embeds only the distinct texts not cached yet for `embedder.model_id`, `chunk_size` at a
        time, appending each batch to disk as soon as it is computed (a kill loses at most one
        chunk of work). progress: a callback (number of texts just embedded), False for none, or
        None for triage.progress on stderr (a bar on a terminal, else a line every 10 s / 10 %
        with rate and ETA).
        """
        texts = list(texts)
        model_id, dim = embedder.model_id, embedder.dim
        hashes = hash_array(texts)
        keys, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        vectors = np.empty((len(keys), dim), dtype=np.float32)
        found = self._lookup(model_id, dim, keys, vectors)
        missing = np.flatnonzero(~found)
        if len(missing):
            close = None
            callback = progress if callable(progress) else None
            if progress is None:
                callback = reporter(len(missing), f"embedding ({model_id})", unit="text")
                close = callback.close
            try:
                for start in range(0, len(missing), self.chunk_size):
                    part = missing[start:start + self.chunk_size]
                    vec = embedder.embed([texts[i] for i in first[part]], progress=callback)
                    vec = np.asarray(vec, dtype=np.float32)
                    if vec.shape != (len(part), dim):
                        raise ValueError(f"{embedder!r} returned shape {vec.shape}, expected {(len(part), dim)}")
                    self._write_chunk(model_id, keys[part], vec)
                    vectors[part] = vec
            finally:
                if close is not None:
                    close()
        return vectors[inverse.reshape(-1)]

    def n_missing(self, model_id: str, texts: list[str]) -> int:
        """How many distinct texts have no cached vector for `model_id`. Reads only the chunks'
        hash arrays (cheap: 16 bytes per text), without verifying checksums: `get` still checks
        every chunk it uses, so a corrupt chunk is recomputed there."""
        keys = np.unique(hash_array(list(texts)))
        found = np.zeros(len(keys), dtype=bool)
        for path in self._chunks(model_id):
            try:
                with np.load(path, allow_pickle=False) as z:
                    hashes = z["hashes"]
            except Exception:  # noqa: BLE001 - unreadable: its texts count as missing
                continue
            found |= np.isin(keys, hashes)
            if found.all():
                break
        return int((~found).sum())

    def compact(self, model_id: str, dim: int, rows: int = COMPACT_ROWS) -> int:
        """Merge a model's valid chunks into chunks of `rows` texts (dropping duplicates);
        returns the number of distinct texts kept. Fewer files make lookups faster.

        Crash-safe: the merged chunk is written before the old ones are removed (a crash in
        between leaves duplicates, which reads tolerate)."""
        paths = self._chunks(model_id)
        if len(paths) <= 1:
            return sum(len(c[0]) for p in paths if (c := self._read_chunk(p, model_id, dim)))
        parts = [c for p in paths if (c := self._read_chunk(p, model_id, dim)) is not None]
        if not parts:
            return 0
        hashes = np.concatenate([h for h, _ in parts])
        keys, first = np.unique(hashes, return_index=True)
        vectors = np.concatenate([v for _, v in parts])[first]
        for start in range(0, len(keys), rows):
            self._write_chunk(model_id, keys[start:start + rows], vectors[start:start + rows])
        for p in paths:
            p.unlink(missing_ok=True)
            _VERIFIED.pop(p, None)
        return len(keys)
