"""Counting-process rules (Sneyd & Stevenson 2021; Bin-Hezam & Stevenson 2023) and the gated default."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import poisson

from triage.history import PRIOR, RANKED, History
from triage.stopping import REGISTRY, RuleInputs, counting_process, evaluate_all, make_rule
from triage.stopping.base import ALL_SCREENED
from triage.stopping.counting import _rate, count_quantile, fit_rate, rate_integral, window_points


def hist(labels, n_records, n_prior=0):
    labels = list(labels)
    origins = [PRIOR] * n_prior + [RANKED] * (len(labels) - n_prior)
    return History.from_lists(range(len(labels)), labels, origins, [0] * len(labels), n_records)


def test_rate_integrals_by_hand_and_numerically():
    # exponential a e^{-kt} from 0.5 to 1 with a = 0.5, k = 2: 0.25 (e^-1 - e^-2) = 0.0581358
    assert rate_integral("exponential", (0.5, 2.0), 0.5, 1.0) == pytest.approx(0.25 * (np.exp(-1) - np.exp(-2)))
    assert rate_integral("exponential", (0.5, 2.0), 0.5, 1.0) == pytest.approx(0.0581360, abs=1e-7)
    for model, params in (("power", (0.02, 1.2)), ("power", (0.02, 1.0)), ("hyperbolic", (0.5, 2.0, 8.0)),
                          ("hyperbolic", (0.5, 1.0, 8.0))):
        num = quad(lambda t: _rate(model)(t, *params), 0.1, 1.0)[0]
        assert rate_integral(model, params, 0.1, 1.0) == pytest.approx(num, rel=1e-6)


def test_fit_recovers_exact_curves():
    t = np.linspace(0.05, 0.5, 10)
    for model, true in (("exponential", (0.5, 8.0)), ("power", (0.02, 1.2))):
        a, k = fit_rate(model, t * 1000, _rate(model)(t, *true), 1000)
        assert a == pytest.approx(true[0], rel=1e-2) and k == pytest.approx(true[1], rel=1e-2)


def test_window_points():
    x, y = window_points(np.array([1, 1, 0, 0, 1, 0]), 3)
    assert x.tolist() == [1.5, 3.5, 5.5] and y.tolist() == [1.0, 0.0, 0.5]


def test_poisson_and_overdispersed_quantiles():
    assert count_quantile(2.0, 0.95) == 5            # P(X <= 4) = 0.947, P(X <= 5) = 0.983
    assert count_quantile(0.0, 0.95) == 0
    assert count_quantile(10.0, 0.95, dispersion=3.0) > count_quantile(10.0, 0.95)


def test_flat_rate_worked_example():
    # relevant every 10th record: every window of 20 holds 2, the exponential fit is flat
    # (k = 0, a = 0.1), so mu = 1000 * 0.1 * (1 - 200/1000) = 80 left; r = 20: recall 20 %.
    seq = [1 if i % 10 == 9 else 0 for i in range(200)]
    r = counting_process(hist(seq, 1000))
    assert r.extra["params"][1] == 0.0 and r.extra["params"][0] == pytest.approx(0.1)
    assert r.est_relevant_remaining == pytest.approx(80.0)
    U = int(poisson.ppf(0.95, 80.0))
    assert r.extra["upper"] == U == 95
    assert r.recall_estimate == pytest.approx(0.2) and r.recall_lower == pytest.approx(20 / 115)
    assert not r.stop and not r.guarantee
    # the fitted curve needs the target share of 100 relevant (95): 75 more at 0.1 per record
    assert r.extra["screen_more"] == 750 and "screen about 750 more records" in r.summary


def test_everything_found_in_the_first_batch_stops():
    r = counting_process(hist([1] * 20 + [0] * 180, 1000))
    assert r.stop and r.extra["upper"] == 0 and r.recall_lower == 1.0


def test_nothing_relevant_yet_and_too_few_relevant():
    r = counting_process(hist([0] * 50, 1000))
    assert not r.stop and r.recall_estimate is None and "needs at least 10" in r.summary
    r = counting_process(hist([1, 0, 1] + [0] * 50, 1000), min_relevant=10)
    assert not r.stop and r.recall_estimate is None


def test_tiny_and_empty_pools():
    r = counting_process(hist([1, 0, 1], 5), min_relevant=1)
    assert r.extra["upper"] <= 2  # never more relevant left than records left
    for h in (hist([1, 0, 1], 3), History.empty(0)):
        r = counting_process(h)
        assert r.stop and r.summary == ALL_SCREENED and r.est_relevant_remaining == 0.0


def test_overdispersion_stops_later():
    seq = [1 if i % 10 == 9 else 0 for i in range(200)]
    poisson_, nb = (counting_process(hist(seq, 1000), dispersion=d) for d in (1.0, 4.0))
    assert poisson_.est_relevant_remaining == pytest.approx(nb.est_relevant_remaining)
    assert nb.extra["upper"] > poisson_.extra["upper"] and nb.recall_lower < poisson_.recall_lower


def test_classifier_variant_follows_the_pool_probabilities():
    seq = [1] * 12 + [0] * 88
    h = hist(seq, 1000)
    low = counting_process(h, RuleInputs(np.zeros(900), True), use_classifier=True)
    high = counting_process(h, RuleInputs(np.full(900, 0.05), True), use_classifier=True)
    assert low.stop and not high.stop
    assert high.est_relevant_remaining > 10 * max(low.est_relevant_remaining, 0.1)
    none = counting_process(h, None, use_classifier=True)
    assert not none.stop and "no classifier has scored the pool yet" in none.summary


def test_gated_default_needs_the_exact_bound():
    # 20 relevant at once then nothing: the curve says "all found" after a handful of records,
    # but the exact test cannot yet show 80 % recall; later it can
    seq = [1] * 20 + [0] * 1400
    cp_rule, d_rule = make_rule("counting_process"), make_rule("counting_process_gated")
    k_cp = next(k for k in range(21, 1420, 5) if cp_rule(hist(seq[:k], 1500)).stop)
    k_d = next(k for k in range(21, 1420, 5) if d_rule(hist(seq[:k], 1500)).stop)
    assert k_cp < k_d
    d = d_rule(hist(seq[:k_cp], 1500))
    assert not d.stop and "cannot yet confirm" in d.summary
    d = d_rule(hist(seq[:k_d], 1500))
    assert d.stop and d.extra["stopped_by"] == "estimate with gate" and not d.guarantee
    assert not make_rule("statistical")(hist(seq[:k_d], 1500)).stop
    full = make_rule("default")(hist([1] * 20 + [0] * 4980, 5000))
    assert full.stop


def test_registry_and_evaluate_all_carry_every_rule():
    assert {"default", "statistical_knee", "counting_process", "counting_process_clf", "counting_process_gated",
            "quantci"} <= set(REGISTRY)
    res = evaluate_all(hist([1, 0] + [1] * 12 + [0] * 100, 1000, n_prior=2))
    assert list(res)[0] == "default" and set(REGISTRY) <= set(res)
    assert res["statistical_knee"].name == "statistical_knee"
