import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.engine import Corpus, Engine, retrain_due, round_rng, run_loop
from triage.learn.presets import load_preset
from triage.learn.round import run_round
from triage.history import PRIOR, RANKED, History

RELEVANT = "peer support workers in mental health services recovery outcomes"
IRRELEVANT = ["knee osteoarthritis stem cell injection", "software fault prediction metrics",
              "galactomannan assay aspergillosis diagnosis", "rodent object in context memory task"]


def _corpus(n=200, seed=0):
    rng = np.random.default_rng(seed)
    texts, gold = [], []
    for i in range(n):
        rel = rng.random() < 0.1
        base = RELEVANT if rel else IRRELEVANT[i % 4]
        words = base.split()
        rng.shuffle(words)
        texts.append(" ".join(words[:6]) + f" filler{i % 17} common words here")
        gold.append(int(rel))
    X = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts).tocsr()
    return X, np.array(gold)


def _engine(X, preset):
    engine = Engine(Corpus(np.arange(X.shape[0]), [""] * X.shape[0]), load_preset(preset))
    engine.set_features(X)
    return engine


def _priors(gold, n):
    return History.from_lists([int(np.flatnonzero(gold)[0]), int(np.flatnonzero(gold == 0)[0])], [1, 0],
                              [PRIOR, PRIOR], [-1, -1], n)


@pytest.mark.parametrize("preset", ["elas_u4", "tfidf_lr", "tfidf_nb"])
def test_round_ranks_relevant_first_and_only_ranks_the_pool(preset):
    X, gold = _corpus()
    h = _priors(gold, len(gold))
    res = run_round(X, h, load_preset(preset), round_rng(1, 0))
    assert res.model == "classifier" and res.n_train == 2
    assert len(res.ranking) == len(gold) - 2 and not set(res.ranking) & set(h.record_ids)
    top = res.ranking[: gold.sum() - 1]
    assert gold[top].mean() > 0.6  # random order would give ~0.1


def test_same_seed_labels_and_preset_give_the_same_ranking():
    X, gold = _corpus()
    h = _priors(gold, len(gold))
    p = load_preset("elas_u4")
    a = run_round(X, h, p, round_rng(7, 3)).ranking
    b = run_round(X, h, p, round_rng(7, 3)).ranking
    assert np.array_equal(a, b)


def test_cold_start_uses_similarity_then_random():
    X, gold = _corpus()
    h = History.from_lists([int(np.flatnonzero(gold)[0])], [1], [PRIOR], [-1], len(gold))
    cold = np.where(gold == 1, 1.0, 0.0)
    res = run_round(X, h, load_preset("elas_u4"), round_rng(0, 0), cold_scores=cold)
    assert res.model == "cold" and gold[res.ranking[: gold.sum() - 1]].all()
    res = run_round(X, History.empty(len(gold)), load_preset("elas_u4"), round_rng(0, 0))
    assert res.model == "random" and sorted(res.ranking) == list(range(len(gold)))


def test_loop_finds_relevant_far_earlier_than_random_and_resumes_identically():
    X, gold = _corpus(300, seed=2)
    e = _engine(X, "elas_u4")
    oracle = lambda rows: gold[rows]  # noqa: E731
    stop = lambda h: h.n_relevant == gold.sum()  # noqa: E731
    full = run_loop(e, _priors(gold, len(gold)), 5, oracle, stop, batch_size=3)
    assert full.n_relevant == gold.sum()
    assert len(full) < 0.4 * len(gold)  # random order needs ~all records to find the last one
    assert set(full.origins[2:]) == {RANKED}
    # stop after 4 rounds, then resume from round 4: identical to the uninterrupted run
    part = run_loop(e, _priors(gold, len(gold)), 5, oracle, lambda h: len(h) >= 2 + 12, batch_size=3)
    resumed = run_loop(e, part, 5, oracle, stop, batch_size=3, first_round=4)
    assert np.array_equal(resumed.record_ids, full.record_ids)


def test_labeller_that_returns_nothing_ends_the_loop():
    X, gold = _corpus()
    h = run_loop(_engine(X, "elas_u4"), _priors(gold, len(gold)), 0, lambda rows: [], lambda h: False, batch_size=5)
    assert len(h) == 2


def test_retrain_schedule_is_the_presets_growing_batch_unless_overridden():
    p = load_preset("hybrid_svm")  # batch_size 1, growth 0.05
    assert retrain_due(0, None, p)  # no round yet
    assert retrain_due(11, 10, p) and not retrain_due(10, 10, p)  # batch max(1, 0.05 * 10) = 1
    assert retrain_due(210, 200, p) and not retrain_due(209, 200, p)  # batch 0.05 * 200 = 10
    assert retrain_due(110, 100, p, batch_size=10) and not retrain_due(109, 100, p, batch_size=10)


def test_cold_start_uses_the_question_and_known_relevant_records():
    texts = [f"{RELEVANT} filler{i}" for i in range(5)] + [f"{IRRELEVANT[i % 4]} filler{i}" for i in range(45)]
    e = Engine(Corpus(np.arange(50), texts, question="peer support workers recovery"), load_preset("elas_u4"))
    res = e.run_round(History.empty(50), seed=0, round_index=0)
    assert res.model == "cold" and set(res.ranking[:5]) == set(range(5))
    # only relevant labels and no question: ranked by similarity to the known relevant record
    e = Engine(Corpus(np.arange(50), texts), load_preset("elas_u4"))
    h = History.from_lists([0], [1], [PRIOR], [-1], 50)
    res = e.run_round(h, seed=0, round_index=0)
    assert res.model == "cold" and set(res.ranking[:4]) == {1, 2, 3, 4}


def test_question_anchor_trains_from_the_first_exclusion_and_pulls_its_topic_up():
    texts = ([f"{RELEVANT} filler{i}" for i in range(10)]
             + [f"{IRRELEVANT[i % 4]} filler{i}" for i in range(90)])
    gold = np.array([1] * 10 + [0] * 90)
    vec = TfidfVectorizer().fit(texts + [RELEVANT])
    X, question_row = vec.transform(texts).tocsr(), vec.transform([RELEVANT])
    h = History.from_lists([10, 11], [0, 0], [RANKED, RANKED], [0, 0], len(texts))  # two exclusions only
    p = load_preset("elas_u4")
    assert run_round(X, h, p, round_rng(0, 0)).model == "random"  # one class: no classifier without it
    res = run_round(X, h, p, round_rng(0, 0), question_row=question_row)
    assert res.model == "classifier" and res.n_train == 2  # the question is not a labelled record
    assert gold[res.ranking[:10]].all() and 10 not in res.ranking and 11 not in res.ranking
    # dense features (embedding-only presets) take the question_row too
    dense = run_round(X.toarray(), h, load_preset("tfidf_lr"), round_rng(0, 0), question_row=question_row.toarray())
    assert gold[dense.ranking[:10]].all()


def test_pseudo_negatives_train_as_irrelevant_and_stay_in_the_pool():
    from dataclasses import replace

    X, gold = _corpus(200, seed=4)
    h = _priors(gold, len(gold))
    p = load_preset("elas_u4")
    plain = run_round(X, h, p, round_rng(3, 1))
    auto = run_round(X, h, replace(p, pseudo_negatives=50), round_rng(3, 1))
    assert sorted(auto.ranking) == sorted(plain.ranking)  # same pool: pseudo-negatives are not labelled
    assert not np.allclose(auto.scores[auto.ranking], plain.scores[auto.ranking])  # but they trained
    again = run_round(X, h, replace(p, pseudo_negatives=50), round_rng(3, 1))
    assert np.array_equal(again.ranking, auto.ranking)  # drawn from the round's generator
    assert replace(p, pseudo_negatives=50).params()["pseudo_negatives"] == 50 and "pseudo_negatives" not in p.params()
