"""Random-sample certification, heuristics, QuantCI, combinations, evaluate_all and first_stop."""

import math

import numpy as np
import pytest
from scipy.stats import hypergeom

from triage.stopping import (REGISTRY, CertificationSample, RuleResult, all_of, any_of, budget,
                             certification_sample_size, consecutive_irrelevant, draw_sample, evaluate_all, first_stop,
                             knee, make_rule, quantci, random_sample, safe, target_method_size)
from triage.stopping.dist import clopper_pearson
from triage.stopping.heuristics import knee_point
from triage.history import PRIOR, RANDOM, RANKED, History


def hist(labels, n_records, origins=None):
    labels = list(labels)
    origins = origins or [RANKED] * len(labels)
    return History.from_lists(range(len(labels)), labels, origins, [0] * len(labels), n_records)


def test_clopper_pearson_hand_values():
    lo, hi = clopper_pearson(0, 10, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10))
    lo, hi = clopper_pearson(10, 10, 0.95)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 10))
    assert clopper_pearson(0, 0) == (0.0, 1.0)


def test_target_method_and_sample_size():
    assert target_method_size(0.95, 0.95) == 59  # 0.95**59 = 0.0485 <= 0.05 < 0.95**58
    assert target_method_size(0.7, 0.95) == 9
    # pool 1000, 19 relevant found, target 0.95: at most 1 may remain; need P(X = 0 | 1000, 2, n) <= 0.05
    n = certification_sample_size(1000, 19, 0.95, 0.95)
    assert hypergeom.pmf(0, 1000, 2, n) <= 0.05 < hypergeom.pmf(0, 1000, 2, n - 1)


def test_draw_sample_is_reproducible_and_without_replacement():
    pool = np.arange(100, 200)
    a = draw_sample(pool, 30, np.random.default_rng([1, 2]))
    b = draw_sample(pool, 30, np.random.default_rng([1, 2]))
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 30 and set(a) <= set(pool)
    assert len(draw_sample(pool, 500, np.random.default_rng(0))) == 100


def test_random_sample_certifies_with_hand_computed_bound():
    # 100 records: 19 relevant found in the first 20, sample of 60 of the 80-record pool, none relevant.
    labels = [1] * 19 + [0] + [0] * 60
    origins = [RANKED] * 20 + [RANDOM] * 60
    h = hist(labels, 100, origins)
    s = CertificationSample(np.arange(20, 80), pool_size=80, position=20)
    r = random_sample(h, s, 0.95, 0.95)
    D = r.extra["pool_relevant_upper"]
    assert hypergeom.pmf(0, 80, D, 60) > 0.05 >= hypergeom.pmf(0, 80, D + 1, 60)
    # by hand: P(X=0 | 80, 2, 60) = 20*19 / (80*79) = 0.060 > 0.05, P(X=0 | 80, 3, 60) = 0.0112
    assert D == 2 and not r.stop and r.guarantee and r.recall_lower == pytest.approx(19 / 21)
    # 70 of 80: P(X=0 | 80, 1, 70) = 10/80 > 0.05, P(X=0 | 80, 2, 70) = 90/6320 < 0.05 -> D = 1, recall >= 19/20
    h70 = hist([1] * 19 + [0] + [0] * 70, 100, [RANKED] * 20 + [RANDOM] * 70)
    r70 = random_sample(h70, CertificationSample(np.arange(20, 90), 80, 20), 0.95, 0.95)
    assert r70.extra["pool_relevant_upper"] == 1 and r70.stop and r70.recall_lower == pytest.approx(0.95)
    # partly labelled sample: never stops
    part = random_sample(h.at(50), s, 0.95, 0.95)
    assert not part.stop and part.extra["sample_labelled"] == 30
    # nothing labelled
    assert not random_sample(h.at(20), s).stop


def test_random_sample_subtracts_relevant_found_since_draw():
    # sample of 10 from a pool of 80 holds 1 relevant -> upper bound D; later screening found 2 more.
    labels = [1] * 10 + [0] * 10 + [1] + [0] * 9 + [1, 1] + [0] * 10
    origins = [RANKED] * 20 + [RANDOM] * 10 + [RANKED] * 12
    h = hist(labels, 100, origins)
    s = CertificationSample(np.arange(20, 30), 80, 20)
    r = random_sample(h, s, 0.9, 0.95)
    assert r.extra["found_since_draw"] == 3
    assert r.extra["remaining_upper"] == max(r.extra["pool_relevant_upper"] - 3, 0)


def test_consecutive_irrelevant():
    assert consecutive_irrelevant(hist([1] + [0] * 50, 200)).stop
    r = consecutive_irrelevant(hist([1] + [0] * 49, 200))
    assert not r.stop and r.extra["run"] == 49 and not r.guarantee and "no statistical guarantee" in r.summary


def test_knee_point_and_rules():
    y = np.cumsum([1] * 10 + [0] * 90)  # all relevant in the first 10
    k, rho = knee_point(y)
    assert k == 10 and rho == pytest.approx((10 / 10) / (1 / 90))
    # 10 relevant found -> needs rho >= 146 and >= 150 screened: rho is 90 -> continue
    h = hist([1] * 10 + [0] * 140, 1000)
    r = knee(h)
    assert r.extra["rho_needed"] == 146 and not r.stop
    h = hist([1] * 10 + [0] * 1500, 3000)
    assert knee(h).stop  # rho = 1500
    # budget: rho >= 6 and screened >= 10 * N / relret = 3000 -> not yet at 1510 (< 0.75 N = 2250 too)
    assert not budget(h).stop and budget(h).extra["budget"] == pytest.approx(3000)
    assert budget(hist([1] * 10 + [0] * 1500, 2000)).stop  # budget 2000 not reached, 75 % of N = 1500 reached
    assert budget(hist([0] * 750, 1000)).stop


def test_safe_checklist():
    labels = [1] * 5 + [0] * 95 + [1] * 5 + [0] * 95
    origins = [RANDOM] * 100 + [RANKED] * 100
    r = safe(hist(labels, 1000, origins))
    items = r.extra["checklist"]
    assert items[0]["met"]  # 100 random records >= 1 % of 1000
    assert r.extra["estimated_relevant"] == pytest.approx(50)
    assert items[1]["met"] and items[2]["met"] and items[3]["met"] and r.stop
    assert items[4]["met"] is None and not r.guarantee


def test_quantci_hand_values():
    h = hist([1] * 9 + [0] * 11, 30)
    p = np.full(10, 0.1)  # 1 expected relevant remaining, var = 0.9
    r = quantci(h, p, 0.9, 0.95)
    assert r.est_relevant_remaining == pytest.approx(1.0)
    assert r.recall_estimate == pytest.approx(0.9)
    z = 1.959963984540054
    assert r.recall_lower == pytest.approx(9 / (9 + 1 + z * math.sqrt(0.9)))
    assert not r.stop and not r.guarantee
    assert quantci(h, np.zeros(10), 0.9).stop
    assert not quantci(h, None).stop


def test_combinations():
    a = RuleResult("a", True, True, recall_lower=0.96, confidence=0.95)
    b = RuleResult("b", False, False)
    from triage.stopping.rules import combine_results
    anyr = combine_results("x", "any", [a, b])
    assert anyr.stop and not anyr.guarantee and "No statistical guarantee" in anyr.summary
    allr = combine_results("y", "all", [a, b])
    assert not allr.stop and allr.guarantee and allr.recall_lower == 0.96 and allr.confidence == pytest.approx(0.95)
    h = hist([1] * 5 + [0] * 60, 100)
    rule = any_of(make_rule("consecutive_irrelevant"), make_rule("statistical"))
    assert first_stop(h, rule) == first_stop(h, "consecutive_irrelevant") == 55
    rule2 = all_of(make_rule("consecutive_irrelevant"), make_rule("knee"))
    assert rule2(h).stop is False


def test_evaluate_all_and_registry():
    h = hist([1, 0, 1] + [0] * 30, 200, [PRIOR, PRIOR] + [RANKED] * 31)
    res = evaluate_all(h, np.full(167, 0.01))
    assert {"statistical", "consecutive_irrelevant", "knee", "budget", "safe", "quantci", "default"} <= set(res)
    assert "random_sample" not in res
    assert all(isinstance(r, RuleResult) and r.name == n for n, r in res.items())
    assert {"statistical", "statistical_midp", "default", "knee"} <= set(REGISTRY)
    with pytest.raises(KeyError):
        make_rule("nope")
    with pytest.raises(ValueError):
        evaluate_all(h, None, target=1.5)


def test_first_stop_edge_cases():
    assert first_stop(History.empty(10), "statistical") is None
    h = hist([1] * 5 + [0] * 30, 100)
    assert first_stop(h, "consecutive_irrelevant") is None
    assert first_stop(hist([1] * 5 + [0] * 95, 100), "statistical") is not None
    # check_every: only multiples (and the end) count
    k1 = first_stop(hist([1] + [0] * 99, 100), "consecutive_irrelevant")
    k7 = first_stop(hist([1] + [0] * 99, 100), "consecutive_irrelevant", check_every=7)
    assert k1 == 51 and k7 == 56
    # a generic rule (no replay) agrees with the prefix loop
    knee_rule = make_rule("knee")
    h = hist([1] * 20 + [0] * 400, 2000)
    k = first_stop(h, knee_rule)
    assert knee_rule(h.at(k)).stop and not knee_rule(h.at(k - 1)).stop


def test_statistical_knee_uses_mid_p_only_with_a_knee():
    from triage.stopping.rules import DEFAULT_KNEE_RHO
    knee_hist = hist([1] * 20 + [0] * 980, 1000)  # steep knee: rho = 20 / (1 / 980)
    k_exact = first_stop(knee_hist, "statistical")
    k_mid = first_stop(knee_hist, "statistical_midp")
    assert k_mid < k_exact
    assert first_stop(knee_hist, "statistical_knee") == k_mid
    r = make_rule("statistical_knee")(knee_hist.at(k_mid), None)
    assert r.stop and not r.guarantee and r.extra["stopped_by"] == "mid-p test with a knee"
    assert r.extra["knee_rho"] >= DEFAULT_KNEE_RHO
    # relevant records spread evenly (a ranking no better than random): no knee, the exact rule decides
    flat = np.zeros(1000, dtype=int)
    flat[12::25] = 1
    flat_hist = hist(flat[:900].tolist(), 1000)
    assert first_stop(flat_hist, "statistical_knee") == first_stop(flat_hist, "statistical")
    assert make_rule("statistical_knee")(flat_hist, None).extra["knee_rho"] < DEFAULT_KNEE_RHO


def test_every_rule_stops_and_says_why_once_every_record_is_screened():
    """A fully screened review: no rule may say continue, nor give a reason that contradicts stop."""
    h = hist([1, 0] + [0, 1, 0, 0], 6, [PRIOR, PRIOR] + [RANKED] * 4)
    assert h.n_pool == 0
    for name, r in evaluate_all(h, None).items():
        assert r.stop, name
        assert "every record has been screened" in r.summary.lower(), (name, r.summary)
