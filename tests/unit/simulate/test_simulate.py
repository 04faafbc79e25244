"""Simulation through run_loop with the gold oracle: determinism, priors, stop conditions."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.learn.presets import load_preset
from triage.simulate.oracle import GoldOracle, check_stop
from triage.simulate.simulate import SimulationError, draw_priors, history_record, simulate_matrix
from triage.history import PRIOR, RANKED


def _toy(n=60, n_rel=8, seed=0):
    """Relevant records talk about 'statin trial outcome', the rest about random topics."""
    rng = np.random.default_rng(seed)
    vocab = ["soil", "river", "music", "tax", "court", "bridge", "poetry", "market", "glacier", "opera"]
    texts, gold = [], np.zeros(n, np.int8)
    rel = rng.choice(n, n_rel, replace=False)
    gold[rel] = 1
    for i in range(n):
        words = list(rng.choice(vocab, 6))
        if gold[i]:
            words += ["statin", "trial", "outcome"]
        texts.append(" ".join(words))
    X = TfidfVectorizer().fit_transform(texts)
    return X, gold


@pytest.fixture(scope="module")
def preset():
    return load_preset("elas_u4")


def test_same_seed_same_result(preset):
    X, gold = _toy()
    a = simulate_matrix(X, gold, preset, seed=7)
    b = simulate_matrix(X, gold, preset, seed=7)
    assert np.array_equal(a.history.record_ids, b.history.record_ids)
    assert np.array_equal(a.prior_ids, b.prior_ids)
    assert a.metrics == b.metrics
    assert np.allclose(a.pool_scores, b.pool_scores)


def test_priors_drawn_from_seed_and_placed_first(preset):
    X, gold = _toy()
    res = simulate_matrix(X, gold, preset, seed=3, prior_included=2, prior_excluded=3)
    h = res.history
    assert list(h.origins[:5]) == [PRIOR] * 5 and (h.origins[5:] == RANKED).all()
    assert list(gold[res.prior_ids]) == [1, 1, 0, 0, 0]
    assert np.array_equal(res.prior_ids, draw_priors(gold, 2, 3, 3))
    # metrics exclude priors: N = 60 - 5, R = 8 - 2
    assert res.metrics.records == 55 and res.metrics.relevant == 6


def test_stop_at_last_relevant(preset):
    X, gold = _toy()
    res = simulate_matrix(X, gold, preset, seed=1, batch_size=4)
    h = res.history
    assert h.labels.sum() == gold.sum()
    assert h.labels[-1] == 1  # the oracle cut the last batch at the last relevant record
    assert res.metrics.found == res.metrics.relevant
    assert res.metrics.n_for_100 == res.metrics.screened
    assert len(res.pool_rows) == 60 - len(h)
    assert len(res.pool_scores) == len(res.pool_rows)


def test_stop_after_n_and_all(preset):
    X, gold = _toy()
    res = simulate_matrix(X, gold, preset, seed=1, stop=10, batch_size=3)
    assert res.metrics.screened == 10 and len(res.history) == 12
    full = simulate_matrix(X, gold, preset, seed=1, stop="all")
    assert len(full.history) == 60 and full.pool_scores is None
    # the same seed screens the same records first, whatever the stop condition
    short = simulate_matrix(X, gold, preset, seed=1, stop=10)
    assert np.array_equal(full.history.record_ids[:12], short.history.record_ids)


def test_explicit_prior_ids_and_errors(preset):
    X, gold = _toy()
    rel, irr = int(np.flatnonzero(gold)[0]), int(np.flatnonzero(gold == 0)[0])
    res = simulate_matrix(X, gold, preset, seed=1, prior_ids=[rel, irr])
    assert list(res.history.record_ids[:2]) == [rel, irr]
    with pytest.raises(SimulationError):
        simulate_matrix(X, gold, preset, seed=1, prior_ids=[rel, rel])
    with pytest.raises(SimulationError):
        simulate_matrix(X, np.zeros(60, np.int8), preset, seed=1)
    with pytest.raises(ValueError):
        check_stop("sometimes")


def test_oracle_truncates_batches():
    gold = np.array([0, 1, 0, 1, 0, 0])
    o = GoldOracle(gold, "last_relevant", 2)
    assert list(o(np.array([0, 1, 2]))) == [0, 1, 0]
    assert list(o(np.array([3, 4, 5]))) == [1]  # stops at the last relevant record
    assert o.done()
    o = GoldOracle(gold, 4, 2)
    assert len(o(np.array([0, 1, 2]))) == 3 and len(o(np.array([3, 4, 5]))) == 1 and o.done()


def test_history_record_format(preset):
    X, gold = _toy()
    res = simulate_matrix(X, gold, preset, seed=2)
    rec = history_record(res, "toy")
    assert rec["dataset"] == "toy" and rec["seed"] == 2 and rec["n_records"] == 60
    assert rec["order"][:2] == res.prior_ids.tolist() and rec["origins"][:2] == [0, 0]
    assert rec["labels"] == gold[rec["order"]].tolist()
    assert len(rec["final_pool_scores"]) == 60 - len(rec["order"])
    assert rec["rounds"][:2] == [-1, -1]
    assert "score_snapshots" not in rec  # no snapshots asked for
    assert rec["probabilistic"] is False  # the SVM gives margins
    ss = rec["screen_scores"]
    assert len(ss) == len(rec["order"]) and ss[:2] == [None, None]  # priors have none


def test_margin_snapshots_and_screen_scores(preset):
    # the SVM gives margins: snapshots are kept all the same, and each screened record keeps
    # the score it had in the round that proposed it (the top of that round's pool)
    X, gold = _toy()
    res = simulate_matrix(X, gold, preset, seed=2, snapshot_every=5)
    assert res.snapshots and not res.probabilistic
    k, sc = res.snapshots[0]
    pool = np.setdiff1d(np.arange(60), res.history.record_ids[:k])
    assert np.isfinite(sc[pool]).all() and np.isnan(np.delete(sc, pool)).all()
    nxt = res.history.record_ids[k]  # proposed by the round of the first snapshot
    assert res.screen_scores[k] == sc[nxt] == np.nanmax(sc)
    rec = history_record(res, "toy")
    assert rec["score_snapshots"][0]["k"] == k and rec["score_snapshots"][0]["scores"][nxt] is not None


def test_probability_snapshots_for_stopping_replay():
    X, gold = _toy()
    res = simulate_matrix(X, gold, load_preset("tfidf_lr"), seed=2, snapshot_every=5)
    assert res.probabilistic
    ks = [k for k, _ in res.snapshots]
    assert ks and ks == sorted(ks) and all(b - a >= 5 for a, b in zip(ks, ks[1:]))
    k, probs = res.snapshots[0]
    labelled = res.history.record_ids[:k]
    assert np.isnan(probs[labelled]).all()
    pool = np.setdiff1d(np.arange(60), labelled)
    assert ((probs[pool] >= 0) & (probs[pool] <= 1)).all()
    rec = history_record(res, "toy", n_relevant=int(gold.sum()))
    assert rec["n_relevant"] == 8 and rec["score_snapshots"][0]["k"] == k and rec["probabilistic"] is True
    snap = rec["score_snapshots"][0]["scores"]
    assert len(snap) == 60 and snap[labelled[0]] is None


def test_simulate_from_texts_with_fake_embedder(tmp_path):
    # hybrid preset (TF-IDF + embedding) with the deterministic FakeEmbedder: no model loaded.
    from triage.features.embed import FakeEmbedder
    from triage.simulate.simulate import simulate

    rng = np.random.default_rng(0)
    gold = np.zeros(40, np.int8)
    gold[rng.choice(40, 6, replace=False)] = 1
    texts = [("statin trial outcome " if g else "") + " ".join(rng.choice(["soil", "tax", "opera", "river"], 5))
             for g in gold]
    preset = load_preset("hybrid_lr")
    a = simulate(texts, gold, preset, seed=4, cache_dir=tmp_path, embedder=FakeEmbedder())
    b = simulate(texts, gold, preset, seed=4, cache_dir=tmp_path, embedder=FakeEmbedder())
    assert np.array_equal(a.history.record_ids, b.history.record_ids)
    assert a.metrics.found == a.metrics.relevant == 5
    assert set(a.seconds) == {"features", "loop", "total"}
