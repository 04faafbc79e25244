"""EmbeddingCache: hits, misses, order, corruption, model changes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from triage.features.cache import CacheWarning, EmbeddingCache
from triage.features.embed import FakeEmbedder


class CountingEmbedder(FakeEmbedder):
    """A FakeEmbedder that records every text it was asked to embed."""

    def __init__(self, dim: int = 16, seed: int = 0):
        super().__init__(dim=dim, seed=seed)
        self.seen: list[str] = []

    def embed(self, texts, progress=None):
        self.seen.extend(texts)
        return super().embed(texts, progress=progress)


TEXTS = [f"record {i} about topic {i % 7} and method {i % 3}" for i in range(50)]


def test_miss_then_hit_embeds_only_new_texts(tmp_path):
    cache, emb = EmbeddingCache(tmp_path, chunk_size=16), CountingEmbedder()
    first = cache.get(emb, TEXTS[:30], progress=False)
    assert sorted(emb.seen) == sorted(TEXTS[:30])
    emb.seen.clear()
    second = cache.get(emb, TEXTS, progress=False)
    assert sorted(emb.seen) == sorted(TEXTS[30:])
    np.testing.assert_array_equal(second[:30], first)
    emb.seen.clear()
    third = EmbeddingCache(tmp_path).get(emb, TEXTS[::-1], progress=False)  # a new process
    assert emb.seen == []
    np.testing.assert_array_equal(third, second[::-1])


def test_order_and_duplicates_preserved(tmp_path):
    emb = CountingEmbedder()
    texts = ["b text", "a text", "b text", "", "c text", "a text"]
    x = EmbeddingCache(tmp_path).get(emb, texts, progress=False)
    assert x.shape == (6, 16) and x.dtype == np.float32
    np.testing.assert_allclose(x, FakeEmbedder(dim=16).embed(texts), atol=1e-6)
    assert sorted(emb.seen) == ["", "a text", "b text", "c text"]  # each distinct text once


def test_progress_callback_counts_new_texts(tmp_path):
    seen = []
    EmbeddingCache(tmp_path, chunk_size=8).get(FakeEmbedder(), TEXTS[:20], progress=seen.append)
    assert sum(seen) == 20


def test_chunks_written_per_chunk_size_and_compacted(tmp_path):
    cache, emb = EmbeddingCache(tmp_path, chunk_size=16), CountingEmbedder()
    x = cache.get(emb, TEXTS, progress=False)
    assert len(list(cache.model_dir(emb.model_id).glob("chunk-*.npz"))) == 4
    cache.get(emb, TEXTS[:3], progress=False)  # nothing new: no chunk written
    assert cache.compact(emb.model_id, emb.dim, rows=32) == 50
    assert len(list(cache.model_dir(emb.model_id).glob("chunk-*.npz"))) == 2
    emb.seen.clear()
    np.testing.assert_array_equal(cache.get(emb, TEXTS, progress=False), x)
    assert emb.seen == [] and cache.count(emb, TEXTS + ["new"]) == 50


def _corrupt_first_chunk(cache, emb, how):
    path = sorted(cache.model_dir(emb.model_id).glob("chunk-*.npz"))[0]
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["vectors"] = arrays["vectors"].copy()
        arrays["vectors"][0, 0] += 1.0  # a silent bit rot: only the checksum can tell
        np.savez(path, **arrays)
    elif how == "model_id":
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["model_id"] = np.array("fake:d16:s999")
        np.savez(path, **arrays)
    elif how == "dim":
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["vectors"] = arrays["vectors"][:, :8].copy()
        np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("how", ["truncate", "flip", "model_id", "dim"])
def test_corrupt_chunk_dropped_and_recomputed(tmp_path, how):
    cache, emb = EmbeddingCache(tmp_path, chunk_size=16), CountingEmbedder()
    good = cache.get(emb, TEXTS, progress=False)
    path = _corrupt_first_chunk(cache, emb, how)
    emb.seen.clear()
    with pytest.warns(CacheWarning, match="dropping"):
        again = EmbeddingCache(tmp_path, chunk_size=16).get(emb, TEXTS, progress=False)
    assert 0 < len(emb.seen) <= 16  # only the bad chunk's texts were recomputed
    np.testing.assert_allclose(again, good, atol=1e-6)
    assert not path.exists()
    emb.seen.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        EmbeddingCache(tmp_path).get(emb, TEXTS, progress=False)
    assert emb.seen == []


def test_leftover_temp_file_is_ignored(tmp_path):
    cache, emb = EmbeddingCache(tmp_path), CountingEmbedder()
    cache.get(emb, TEXTS[:5], progress=False)
    (cache.model_dir(emb.model_id) / ".tmp-killed.npz").write_bytes(b"partial")
    emb.seen.clear()
    cache.get(emb, TEXTS[:5], progress=False)
    assert emb.seen == []


def test_model_id_change_recomputes(tmp_path):
    cache = EmbeddingCache(tmp_path)
    a, b = CountingEmbedder(seed=0), CountingEmbedder(seed=1)
    xa = cache.get(a, TEXTS[:10], progress=False)
    xb = cache.get(b, TEXTS[:10], progress=False)
    assert sorted(b.seen) == sorted(TEXTS[:10])
    assert not np.allclose(xa, xb)
    assert cache.model_dir(a.model_id) != cache.model_dir(b.model_id)


def test_wrong_shape_from_embedder_is_an_error(tmp_path):
    class Broken(FakeEmbedder):
        def embed(self, texts, progress=None):
            return super().embed(texts)[:, :3]

    with pytest.raises(ValueError, match="shape"):
        EmbeddingCache(tmp_path).get(Broken(), ["a"], progress=False)
    assert not list(tmp_path.rglob("chunk-*.npz"))


def test_hash_array_matches_text_hash():
    from triage.features.cache import hash_array
    from triage.features.text import text_hash
    texts = ["", "a", "ünïcode text", "x" * 1000]
    assert [h.ljust(16, b"\0").hex() for h in hash_array(texts)] == [text_hash(t) for t in texts]


def test_empty_input(tmp_path):
    x = EmbeddingCache(tmp_path).get(FakeEmbedder(dim=16), [], progress=False)
    assert x.shape == (0, 16) and x.dtype == np.float32


def test_kill_mid_write_leaves_no_chunk(tmp_path, monkeypatch):
    """A write interrupted after bytes reached the disk leaves neither a chunk nor a temp file."""
    import triage.features.cache as cache_mod
    real_savez = np.savez

    def dying_savez(f, **arrays):
        real_savez(f, **arrays)
        raise KeyboardInterrupt  # as if killed before the rename

    monkeypatch.setattr(cache_mod.np, "savez", dying_savez)
    cache, emb = EmbeddingCache(tmp_path), CountingEmbedder()
    with pytest.raises(KeyboardInterrupt):
        cache.get(emb, TEXTS[:5], progress=False)
    monkeypatch.setattr(cache_mod.np, "savez", real_savez)
    assert list(tmp_path.rglob("*.npz")) == []
    emb.seen.clear()
    cache.get(emb, TEXTS[:5], progress=False)
    assert sorted(emb.seen) == sorted(TEXTS[:5])


def test_default_progress_prints_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    emb = FakeEmbedder(dim=8)
    EmbeddingCache(tmp_path).get(emb, ["a b", "c d", "e f"])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"embedding ({emb.model_id}): 0/3 texts (0 %)"
    assert err[-1].startswith(f"embedding ({emb.model_id}): 3/3 texts (100 %) in ")
    EmbeddingCache(tmp_path).get(emb, ["a b"])  # all cached: silent
    assert capsys.readouterr().err == ""
