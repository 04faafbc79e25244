"""`triage simulate --json`'s "stopping" carries every registered rule, score-based ones included."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.learn.presets import load_preset
from triage.simulate.simulate import simulate_matrix
from triage.simulate.stops import simulation_inputs, stopping_summary
from triage.stopping import REGISTRY


def _toy(n=300, n_rel=30, seed=0):
    rng = np.random.default_rng(seed)
    vocab = ["soil", "river", "music", "tax", "court", "bridge", "poetry", "market", "glacier", "opera"]
    gold = np.zeros(n, np.int8)
    gold[rng.choice(n, n_rel, replace=False)] = 1
    texts = [" ".join(list(rng.choice(vocab, 6)) + (["statin", "trial"] if g else [])) for g in gold]
    return TfidfVectorizer().fit_transform(texts), gold


def test_every_rule_in_the_summary_and_score_rules_get_scores():
    X, gold = _toy()
    res = simulate_matrix(X, gold, load_preset("elas_u4"), seed=1, snapshot_every=10)
    out = stopping_summary(res.history, gold, snapshots=res.snapshots, screen_scores=res.screen_scores,
                           probabilistic=res.probabilistic)
    assert set(REGISTRY) <= set(out) and "rule" in out["default"]
    assert out["counting_process_clf"]["screened"] is not None  # margins calibrated from the snapshots
    assert out["quantci"]["screened"] is not None
    at = simulation_inputs(res.snapshots, res.screen_scores, res.probabilistic, res.history)
    k = res.snapshots[0][0]
    inp = at(k)
    assert inp.pool_scores.shape == (res.history.at(k).n_pool,) and not inp.probabilistic
    assert len(inp.screen_scores) == k
