"""tfidf_features: shapes, dtype, parameters, cache."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from triage.features.cache import CacheWarning
from triage.features.tfidf import tfidf_features

TEXTS = ["statin therapy in adults", "statin therapy in children", "exercise for older adults",
         "vitamin D and bone health", "school screening for vision"]


def test_shape_dtype_and_norm():
    m = tfidf_features(TEXTS)
    assert sp.isspmatrix_csr(m) and m.dtype == np.float32 and m.shape[0] == len(TEXTS)
    np.testing.assert_allclose(sp.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    unigrams = tfidf_features(TEXTS, ngram_range=(1, 1))
    assert unigrams.shape[1] < m.shape[1]
    assert tfidf_features(TEXTS, max_features=5).shape == (5, 5)


def test_related_rows_share_terms():
    m = tfidf_features(TEXTS)
    sim = (m @ m.T).toarray()
    assert sim[0, 1] > sim[0, 3]


def test_tiny_and_empty_corpora():
    assert tfidf_features(["just one text"]).shape[0] == 1
    assert tfidf_features(["", ""]).shape == (2, 0)


def test_cache_hit_params_and_corruption(tmp_path):
    m = tfidf_features(TEXTS, cache_dir=tmp_path)
    files = list((tmp_path / "tfidf").glob("*.npz"))
    assert len(files) == 1
    again = tfidf_features(TEXTS, cache_dir=tmp_path)
    assert (again != m).nnz == 0
    tfidf_features(TEXTS, ngram_range=(1, 1), cache_dir=tmp_path)
    tfidf_features(TEXTS[:4], cache_dir=tmp_path)
    assert len(list((tmp_path / "tfidf").glob("*.npz"))) == 3  # new params / texts: new key
    files[0].write_bytes(files[0].read_bytes()[:40])
    with pytest.warns(CacheWarning):
        rebuilt = tfidf_features(TEXTS, cache_dir=tmp_path)
    assert (rebuilt != m).nnz == 0


def test_hashed_tfidf_matches_the_vocabulary_version_without_collisions():
    from triage.features.tfidf import tfidf_features

    texts = ["peer support workers in mental health", "peer workers in substance use services",
             "knee osteoarthritis stem cells", "mental health services for peer workers", "stem cells"]
    a = tfidf_features(texts, max_df=0.95)
    b = tfidf_features(texts, max_df=0.95, n_features=2**22)
    assert b.shape == (5, 2**22) and b.dtype == np.float32
    # same weights up to the order of columns: identical cosine similarities between records
    np.testing.assert_allclose((a @ a.T).toarray(), (b @ b.T).toarray(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sorted(a.data), sorted(b.data), rtol=1e-5)


def test_prune_cache_keeps_the_most_recently_used_entries(tmp_path):
    import os

    from triage.features.tfidf import prune_cache

    corpora = [[f"text {i} about statins", f"another {i} on exercise"] for i in range(4)]
    for i, texts in enumerate(corpora):
        tfidf_features(texts, cache_dir=tmp_path)
        # date each new entry far in the past, in write order, so that mtime order is unambiguous
        newest = max((tmp_path / "tfidf").glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)
        os.utime(newest, ns=(10**18 + i, 10**18 + i))
    first = sorted((tmp_path / "tfidf").glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)[0]
    os.utime(first, ns=(10**18 - 1, 10**18 - 1))
    tfidf_features(corpora[0], cache_dir=tmp_path)  # a cache hit marks the oldest entry as used now
    assert prune_cache(tmp_path, keep=2) == 2
    left = list((tmp_path / "tfidf").glob("*.npz"))
    assert len(left) == 2 and first in left
    assert prune_cache(tmp_path / "nothing_here", keep=2) == 0
