"""build_features: tfidf only, embedding only, both; errors; cache use."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from triage.errors import PresetError
from triage.features.embed import FakeEmbedder
from triage.features.matrix import ConcatFeatures, build_features, center_rows, split_last_row, stack_rows

TEXTS = ["statin therapy in adults", "statin therapy in children", "exercise for older adults",
         "vitamin D and bone health"]
TFIDF = {"ngram_range": [1, 2], "sublinear_tf": True, "max_df": 0.95}


def test_tfidf_only_is_sparse():
    x = build_features(TEXTS, {"tfidf": TFIDF})
    assert sp.isspmatrix_csr(x) and x.dtype == np.float32 and x.shape[0] == 4


def test_embedding_only_is_dense_and_weighted():
    x = build_features(TEXTS, {"embedding": {"model": "fake"}})
    assert isinstance(x, np.ndarray) and x.shape == (4, 32) and x.dtype == np.float32
    w = build_features(TEXTS, {"embedding": {"model": "fake", "weight": 0.5}})
    np.testing.assert_allclose(w, 0.5 * x, atol=1e-6)


def test_both_concatenated(tmp_path):
    emb = FakeEmbedder(dim=8)
    spec = {"tfidf": TFIDF, "embedding": {"model": "ignored", "weight": 2.0}, "combine": "concat"}
    x = build_features(TEXTS, spec, cache_dir=tmp_path, embedder=emb)
    t = build_features(TEXTS, {"tfidf": TFIDF})
    assert sp.isspmatrix_csr(x) and x.dtype == np.float32
    assert x.shape == (4, t.shape[1] + 8)
    np.testing.assert_allclose(x[:, -8:].toarray(), 2.0 * emb.embed(TEXTS), atol=1e-6)
    assert (x[:, : t.shape[1]] != t).nnz == 0
    assert (tmp_path / "embeddings").is_dir() and (tmp_path / "tfidf").is_dir()


def test_center_rows_removes_the_shared_mean_and_renormalises():
    shared = np.array([3.0, 0.0, 0.0], dtype=np.float32)
    emb = np.array([shared + [0, 1, 0], shared + [0, -1, 0], shared + [0, 0, 2], shared], dtype=np.float32)
    out = center_rows(emb)
    mean = emb.mean(axis=0)
    for row, raw in zip(out, emb):
        centred = raw - mean
        if np.linalg.norm(centred) > 0:
            np.testing.assert_allclose(row, centred / np.linalg.norm(centred), atol=1e-6)
    assert out.dtype == np.float32 and abs(out[:, 0]).max() < 1e-6  # the shared axis is gone
    same = center_rows(np.ones((3, 4), dtype=np.float32))  # all rows equal: zero rows, no NaN
    assert not np.isnan(same).any() and not same.any()


def test_center_option_in_the_spec():
    raw = build_features(TEXTS, {"embedding": {"model": "fake"}})
    x = build_features(TEXTS, {"embedding": {"model": "fake", "center": True, "weight": 0.5}})
    np.testing.assert_allclose(x, 0.5 * center_rows(raw), atol=1e-6)
    with pytest.raises(PresetError, match="center"):
        build_features(TEXTS, {"embedding": {"model": "fake", "center": "yes"}})


def test_factory_gets_the_embedding_table():
    seen = []

    def factory(table):
        seen.append(table)
        return FakeEmbedder(dim=4)

    x = build_features(TEXTS, {"embedding": {"model": "x", "precision": "bf16"}}, embedder_factory=factory)
    assert x.shape == (4, 4) and seen == [{"model": "x", "precision": "bf16"}]


@pytest.mark.parametrize("spec, match", [
    ({}, "needs"),
    ({"tfidf": {"ngrams": [1, 2]}}, "unknown key"),
    ({"tfidf": True, "combine": "sum"}, "concat"),
    ({"tfidf": True, "extra": 1}, "unknown key"),
    ({"embedding": "minilm"}, "table"),
])
def test_malformed_specs(spec, match):
    with pytest.raises(PresetError, match=match):
        build_features(TEXTS, spec)


def test_concat_features_acts_like_the_concatenated_matrix(monkeypatch):
    import triage.features.matrix as fm
    from triage.learn.classifiers import make_classifier, relevance_scores

    texts = [f"peer support worker study {i % 7} recovery" if i % 3 else f"knee surgery trial {i}" for i in range(60)]
    y = np.array([1 if i % 3 else 0 for i in range(60)])
    spec = {"tfidf": {}, "embedding": {"model": "fake"}}
    full = fm.build_features(texts, spec)
    monkeypatch.setattr(fm, "LAZY_CONCAT_ENTRIES", 0)
    lazy = fm.build_features(texts, spec)
    assert isinstance(lazy, fm.ConcatFeatures) and lazy.shape == full.shape
    rows = np.array([3, 0, 7])
    np.testing.assert_allclose(lazy[rows].toarray(), full[rows].toarray())
    for kind in ("svm", "logistic"):
        a = make_classifier({"type": kind}, random_state=0).fit(full[:40], y[:40])
        b = make_classifier({"type": kind}, random_state=0).fit(lazy[np.arange(40)], y[:40])
        np.testing.assert_allclose(relevance_scores(a, full), relevance_scores(b, lazy), rtol=1e-5, atol=1e-6)


def test_split_last_row_and_stack_rows_for_every_matrix_kind():
    A = np.arange(12, dtype=np.float32).reshape(4, 3)
    for X in (A, sp.csr_matrix(A), ConcatFeatures((sp.csr_matrix(A[:, :2]), A[:, 2:]))):
        head, last = split_last_row(X)
        assert head.shape == (3, 3) and last.shape == (1, 3)
        dense = lambda M: M.toarray() if sp.issparse(M) else np.asarray(M)  # noqa: E731
        assert np.array_equal(dense(last), A[3:])
        assert np.array_equal(dense(head[[0, 2]]), A[[0, 2]])
        assert np.array_equal(dense(stack_rows(head[[1]], last)), A[[1, 3]])
    assert isinstance(stack_rows(A[:1], A[1:]), np.ndarray) and sp.issparse(stack_rows(sp.csr_matrix(A[:1]), A[1:]))
