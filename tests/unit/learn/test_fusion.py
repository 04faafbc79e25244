"""Rank fusion of per-block classifiers: arithmetic, preset validation, rounds, fallback, simulate."""

from __future__ import annotations

import numpy as np
import pytest

from triage.engine import Corpus, Engine, round_rng
from triage.errors import PresetError
from triage.features.embed import FakeEmbedder
from triage.features.matrix import FusedFeatures, build_features, build_features_with_question, check_features
from triage.history import PRIOR, History
from triage.learn.classifiers import make_classifier, relevance_scores
from triage.learn.fusion import fuse, rrf, zscore
from triage.learn.presets import parse_preset
from triage.learn.queriers import max_query
from triage.learn.round import run_round
from triage.simulate.simulate import simulate

TFIDF = {"ngram_range": [1, 2], "sublinear_tf": True, "max_df": 0.95, "min_df": 1}
RELEVANT = "peer support workers in mental health services recovery outcomes"
IRRELEVANT = ["knee osteoarthritis stem cell injection", "software fault prediction metrics",
              "galactomannan assay aspergillosis diagnosis", "rodent object in context memory task"]


def _preset(combine="concat", weight=None, k_rrf=None, querier="max", pseudo_negatives=0):
    emb = {"model": "fake"} | ({} if weight is None else {"weight": weight})
    features = {"tfidf": TFIDF, "embedding": emb, "combine": combine} | ({} if k_rrf is None else {"k_rrf": k_rrf})
    return parse_preset(f"{combine}_test", {
        "batch_size": 1, "batch_growth": 0.05, "pseudo_negatives": pseudo_negatives, "features": features,
        "classifier": {"type": "svm", "C": 0.11}, "balance": {"type": "balanced", "ratio": 9.8},
        "querier": {"type": querier}}, "test")


def _review(n=120, seed=0):
    rng = np.random.default_rng(seed)
    texts, gold = [], []
    for i in range(n):
        rel = rng.random() < 0.15
        words = (RELEVANT if rel else IRRELEVANT[i % 4]).split()
        rng.shuffle(words)
        texts.append(" ".join(words[:6]) + f" filler{i % 13} common words here")
        gold.append(int(rel))
    return texts, np.array(gold, dtype=np.int8)


def _history(gold, n_each=3):
    rel, irr = np.flatnonzero(gold == 1)[:n_each], np.flatnonzero(gold == 0)[:n_each]
    ids = np.concatenate([rel, irr]).tolist()
    return History.from_lists(ids, gold[ids].tolist(), [PRIOR] * len(ids), [-1] * len(ids), len(gold))


# --- arithmetic by hand -------------------------------------------------------------------------

def test_rrf_by_hand_two_blocks_four_records():
    a = np.array([0.9, 0.1, 0.5, -0.3])  # ranks 1, 3, 2, 4
    b = np.array([0.2, 0.8, 0.6, 0.7])   # ranks 4, 1, 3, 2
    expected = [1 / 61 + 1 / 64, 1 / 63 + 1 / 61, 1 / 62 + 1 / 63, 1 / 64 + 1 / 62]
    np.testing.assert_allclose(rrf([a, b], 60), expected, rtol=1e-15)
    np.testing.assert_allclose(fuse("rrf", [a, b], (1.0, 1.0), 60), expected, rtol=1e-15)
    assert max_query(rrf([a, b], 60), np.random.default_rng(0)).tolist() == [1, 0, 2, 3]
    # k = 1 and a tie: records 0 and 1 share ranks 1.5 in the first block
    np.testing.assert_allclose(rrf([np.array([2.0, 2.0, 1.0, 0.0]), b], 1),
                               [1 / 2.5 + 1 / 5, 1 / 2.5 + 1 / 2, 1 / 4 + 1 / 4, 1 / 5 + 1 / 3])


def test_zscore_by_hand():
    a = np.array([0.0, 0.0, 2.0, 2.0])  # mean 1, sd 1: z = -1, -1, 1, 1
    b = np.array([3.0, 1.0, 1.0, 3.0])  # mean 2, sd 1: z = 1, -1, -1, 1
    np.testing.assert_allclose(zscore([a, b], (0.25, 0.75)), [0.5, -1.0, -0.5, 1.0])
    np.testing.assert_allclose(fuse("zscore", [a, b], (0.5, 0.5), 60), [0.0, -1.0, 0.0, 1.0])
    # scale and shift of a block do not matter; a constant block adds nothing
    np.testing.assert_allclose(zscore([10 * a - 7, np.full(4, 3.0)], (0.5, 0.5)), [-0.5, -0.5, 0.5, 0.5])


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, match", [
    ({"tfidf": True, "combine": "sum"}, "choose from 'concat', 'rrf', 'zscore'"),
    ({"tfidf": True, "combine": "rrf"}, "needs both"),
    ({"embedding": {"model": "fake"}, "combine": "zscore"}, "needs both"),
    ({"tfidf": True, "embedding": True, "k_rrf": 10}, "k_rrf applies to combine = 'rrf' only"),
    ({"tfidf": True, "embedding": True, "combine": "zscore", "k_rrf": 10}, "k_rrf applies"),
    ({"tfidf": True, "embedding": True, "combine": "rrf", "k_rrf": "60"}, "must be a number > 0"),
    ({"tfidf": True, "embedding": True, "combine": "rrf", "k_rrf": 0}, "must be a number > 0"),
    ({"tfidf": True, "embedding": True, "combine": "rrf", "k_rrf": True}, "must be a number > 0"),
    ({"tfidf": True, "embedding": {"weight": 0.5}, "combine": "rrf"}, "unweighted; remove weight"),
    ({"tfidf": True, "embedding": {"weight": 1.5}, "combine": "zscore"}, r"share .* in \[0, 1\]"),
    ({"tfidf": True, "embedding": {"weight": "half"}, "combine": "zscore"}, "weight = 'half' must be a float"),
    ({"tfidf": True, "embedding": True, "combine": "rrf", "k_rff": 60}, r"unknown key\(s\) \['k_rff'\]"),
])
def test_bad_fusion_specs_are_clear_errors(spec, match):
    with pytest.raises(PresetError, match=match):
        check_features(spec)


def test_valid_fusion_specs_pass_unchanged():
    for spec in ({"tfidf": True, "embedding": True, "combine": "rrf", "k_rrf": 20},
                 {"tfidf": True, "embedding": {"weight": 0.3}, "combine": "zscore"},
                 {"tfidf": True, "embedding": {"weight": 2.0}, "combine": "concat"}):
        assert check_features(spec) == spec


def test_fused_preset_refuses_the_uncertainty_querier():
    with pytest.raises(PresetError, match="uncertainty needs a decision boundary.*use max or mixed"):
        _preset("rrf", querier="uncertainty")
    assert _preset("concat", querier="uncertainty").querier.type == "uncertainty"
    assert _preset("zscore", querier="mixed").features["combine"] == "zscore"


# --- features -----------------------------------------------------------------------------------

def test_fused_features_keep_the_blocks_apart_and_unscaled():
    texts, _ = _review(20)
    tfidf = build_features(texts, {"tfidf": TFIDF})
    emb = FakeEmbedder().embed(texts)
    x = build_features(texts, {"tfidf": TFIDF, "embedding": {"model": "fake", "weight": 0.3}, "combine": "zscore"})
    assert isinstance(x, FusedFeatures) and x.combine == "zscore" and x.shares == (0.7, 0.3)
    assert (x.blocks[0] != tfidf).nnz == 0
    np.testing.assert_allclose(x.blocks[1], emb, atol=1e-6)  # the weight is the share, not a scale
    assert x.shape == (20, tfidf.shape[1] + emb.shape[1])
    r = build_features(texts, {"tfidf": TFIDF, "embedding": {"model": "fake"}, "combine": "rrf", "k_rrf": 5})
    assert (r.combine, r.shares, r.k_rrf) == ("rrf", (1.0, 1.0), 5.0)
    z = build_features(texts, {"tfidf": TFIDF, "embedding": {"model": "fake"}, "combine": "zscore"})
    assert z.shares == (0.5, 0.5)  # no weight: equal shares
    # the question shares the records' vocabulary; its row is split off every block
    X, q = build_features_with_question(texts, "peer support recovery",
                                        {"tfidf": TFIDF, "embedding": {"model": "fake"}, "combine": "rrf"})
    assert isinstance(q, FusedFeatures) and [b.shape[0] for b in q.blocks] == [1, 1]
    assert X.shape[0] == 20 and [b.shape[0] for b in X.blocks] == [20, 20]
    np.testing.assert_allclose(q.blocks[1][0], FakeEmbedder().embed(["peer support recovery"])[0], atol=1e-6)


# --- rounds -------------------------------------------------------------------------------------

@pytest.mark.parametrize("combine, weight", [("rrf", None), ("zscore", 0.3)])
def test_fused_round_fuses_the_blocks_single_rounds(combine, weight):
    """Each block's classifier is the one a single-block preset trains (same rows, question,
    pseudo-negatives, weights, random_state); the pool is ranked by the fusion of their scores."""
    texts, gold = _review()
    question = "peer support recovery"
    preset = _preset(combine, weight=weight, pseudo_negatives=5)
    X, q = build_features_with_question(texts, question, preset.features)
    h = _history(gold)
    res = run_round(X, h, preset, round_rng(3, 2), question_row=q)
    pool = np.setdiff1d(np.arange(len(gold)), h.record_ids)
    single = [run_round(b, h, preset, round_rng(3, 2), question_row=qb).scores[pool]
              for b, qb in zip(X.blocks, q.blocks)]
    np.testing.assert_allclose(res.scores[pool], fuse(combine, single, X.shares, X.k_rrf), rtol=1e-12)
    assert np.isnan(res.scores[h.record_ids]).all()
    assert res.model == "classifier" and res.combine == combine and res.probabilities is None
    assert sorted(res.ranking) == pool.tolist()
    assert np.all(np.diff(res.scores[res.ranking]) <= 0)  # max querier: best fused score first
    assert gold[res.ranking[:10]].mean() > 0.6


def test_concat_round_ranks_exactly_as_before():
    """The concat path is the pre-fusion round: one classifier on the matrix (labelled rows, the
    question, sorted pseudo-negatives), random_state then pseudo-negatives drawn from the rng."""
    import scipy.sparse as sp

    from triage.learn.balance import sample_weights

    texts, gold = _review()
    preset = _preset("concat", weight=0.5, pseudo_negatives=5)
    X, q = build_features_with_question(texts, "peer support recovery", preset.features)
    h = _history(gold)
    res = run_round(X, h, preset, round_rng(3, 2), question_row=q)

    rng = round_rng(3, 2)
    pool = np.setdiff1d(np.arange(len(gold)), h.record_ids)
    clf = make_classifier(preset.classifier, random_state=int(rng.integers(2**31 - 1)))
    fake = np.sort(rng.choice(pool, size=5, replace=False))
    X_train = sp.vstack([X[h.record_ids], q, X[fake]], format="csr")
    y = np.concatenate([h.labels, [1], np.zeros(5, np.int8)])
    clf.fit(X_train, y, sample_weight=sample_weights(y, preset.balance))
    expected = relevance_scores(clf, X)[pool]
    np.testing.assert_array_equal(res.scores[pool], expected)
    np.testing.assert_array_equal(res.ranking, pool[max_query(expected, rng)])
    assert res.combine == "concat"


def test_no_waiting_fallback_ranks_with_the_tfidf_classifier_alone():
    texts, gold = _review()
    preset = _preset("rrf")
    ready = {"yes": False}
    engine = Engine(Corpus(np.arange(len(texts)), texts), preset, embeddings_ready=lambda h: ready["yes"])
    h = _history(gold)
    res = engine.run_round(h, seed=4, round_index=1)
    assert (res.features, res.combine) == ("tfidf", "concat") and "full" not in engine._features
    tfidf = build_features(texts, {"tfidf": TFIDF})
    alone = run_round(tfidf, h, preset, round_rng(4, 1))
    np.testing.assert_array_equal(res.ranking, alone.ranking)
    np.testing.assert_array_equal(res.scores, alone.scores)
    assert res.probabilities is None  # SVM margins
    ready["yes"] = True
    res = engine.run_round(h, seed=4, round_index=1)
    assert (res.features, res.combine) == ("full", "rrf")


# --- simulate end to end ------------------------------------------------------------------------

@pytest.mark.parametrize("combine", ["rrf", "zscore"])
def test_simulate_with_a_fused_preset(tmp_path, combine):
    texts, gold = _review(150, seed=1)
    preset = _preset(combine)
    rounds = []
    res = simulate(texts, gold, preset, seed=2, cache_dir=tmp_path, snapshot_every=10, embeddings_after=5,
                   on_round=lambda r, result, h: rounds.append((result.features, result.combine, result.model)))
    assert res.metrics.found == res.metrics.relevant == gold.sum() - 1  # one relevant prior
    assert res.metrics.wss_95 > 0.3  # far better than screening in random order
    # the first screened records are ranked by TF-IDF alone, later rounds fused
    assert rounds[0][:2] == ("tfidf", "concat") and ("full", combine, "classifier") in rounds
    assert not res.probabilistic and res.pool_probabilities is None
    assert res.pool_scores is not None and np.isfinite(res.pool_scores).all() and res.snapshots
    assert np.isfinite(res.screen_scores[np.isfinite(res.screen_scores)]).all()
    again = simulate(texts, gold, preset, seed=2, cache_dir=tmp_path, embeddings_after=5)
    np.testing.assert_array_equal(again.history.record_ids, res.history.record_ids)
