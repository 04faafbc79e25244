"""Callaghan & Müller-Hansen statistical rule: hand-computed hypergeometric values and edge cases."""

from math import comb

import numpy as np
import pytest
from scipy.stats import hypergeom

from triage.stopping.base import min_total_for_miss
from triage.stopping.dist import hypergeom_cdf, hypergeom_upper
from triage.stopping.statistical import (more_irrelevant_needed, remaining_upper_bound, statistical,
                                         statistical_pvalue, statistical_replay)
from triage.history import PRIOR, RANKED, History


def hist(labels, n_records, n_prior=0):
    labels = list(labels)
    origins = [PRIOR] * n_prior + [RANKED] * (len(labels) - n_prior)
    return History.from_lists(range(len(labels)), labels, origins, [0] * len(labels), n_records)


def test_k_tar_floating_point_guard():
    # 19 / 0.95 is 20 exactly: a total of 20 gives recall 0.95 (not a miss), 21 is the smallest miss.
    assert int(min_total_for_miss(19, 0.95)) == 21
    assert int(min_total_for_miss(10, 0.9)) == 12  # 10/11 = 0.909 >= 0.9, 10/12 < 0.9
    assert int(min_total_for_miss(0, 0.95)) == 1


def test_pvalue_matches_hand_computation():
    # 20 records; screened: 1 relevant then 9 irrelevant. r_seen = 1, target 0.5: the smallest miss is a
    # total of 3 relevant. Best tail = the 9 irrelevant after the relevant one: urn 19 records, K_tar = 3 - 1 = 2,
    # P(X = 0) = C(17, 9) / C(19, 9) = (10 * 9) / (19 * 18) = 90 / 342.
    h = hist([1] + [0] * 9, 20)
    p, tail = statistical_pvalue(h, target=0.5)
    assert tail == 9
    assert p == pytest.approx(90 / 342, rel=1e-12)
    # the full-sequence tail: urn 20, K_tar = 3, P(X <= 1) with n = 10
    full = (comb(17, 10) + 3 * comb(17, 9)) / comb(20, 10)
    assert full > 90 / 342


def test_stops_when_p_below_alpha_hand_computed():
    # 100 records, 2 relevant first then 60 irrelevant. target 0.9 -> smallest miss total 3, K_tar = 1 in the
    # urn of 98 after the relevant ones; P(X = 0) = 1 - 60/98 = 0.3878 > 0.05 -> continue.
    h = hist([1, 1] + [0] * 60, 100)
    r = statistical(h, 0.9, 0.95)
    assert r.extra["p_value"] == pytest.approx(1 - 60 / 98)
    assert not r.stop and r.guarantee
    # P(X = 0) = 1 - n/98 < 0.05 needs n > 93.1, i.e. n = 94: 34 more irrelevant records.
    assert r.extra["more_irrelevant_needed"] == 34
    h2 = hist([1, 1] + [0] * 94, 100)
    r2 = statistical(h2, 0.9, 0.95)
    assert r2.stop and r2.extra["p_value"] == pytest.approx(4 / 98)


def test_recall_lower_bound_inverts_the_test():
    h = hist([1, 1] + [0] * 94, 100)  # 4 records left in the pool
    U = remaining_upper_bound(h, 0.95)
    # U relevant left: tail of 94 from urn 98 holds 0, P = C(98-U, 94)/C(98, 94). U = 0 accepted, U = 1: 4/98 < .05.
    assert U == 0
    r = statistical(h, 0.9, 0.95)
    assert r.recall_lower == 1.0
    h3 = hist([1, 1] + [0] * 50, 100)
    U3 = remaining_upper_bound(h3, 0.95)
    pv = lambda u: hypergeom.cdf(0, 98, u, 50)  # noqa: E731
    assert pv(U3) >= 0.05 and pv(U3 + 1) < 0.05
    assert statistical(h3, 0.9, 0.95).recall_lower == pytest.approx(2 / (2 + U3))


def test_min_over_candidate_tails_equals_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(25):
        N = int(rng.integers(15, 120))
        L = int(rng.integers(3, N))
        labels = (rng.random(L) < np.linspace(0.6, 0.02, L)).astype(int)
        n_prior = int(rng.integers(0, 3))
        h = hist(labels, N, n_prior)
        seq = labels[n_prior:]
        m, r_seen = len(seq), labels.sum()
        if m == 0:
            continue
        ps = []
        for n in range(1, m + 1):
            k = seq[m - n:].sum()
            urn = N - n_prior - (m - n)
            K = int(np.floor(r_seen / 0.8 + 1e-9)) + 1 - (r_seen - k)
            ps.append(0.0 if K > urn else hypergeom.cdf(k, urn, K, n))
        assert statistical_pvalue(h, 0.8)[0] == pytest.approx(min(ps), abs=1e-12)


def test_replay_matches_prefix_evaluation():
    rng = np.random.default_rng(5)
    for mid_p in (False, True):
        for _ in range(10):
            N = int(rng.integers(30, 150))
            L = int(rng.integers(5, N))
            labels = (rng.random(L) < np.linspace(0.5, 0.0, L)).astype(int)
            h = hist(labels, N, 1)
            rep = statistical_replay(h, 0.9, 0.9, mid_p)
            ref = [k > 1 and statistical_pvalue(h.at(k), 0.9, mid_p)[0] < 0.1 for k in range(L + 1)]
            assert rep.tolist() == ref


def test_edge_cases():
    empty = History.empty(50)
    r = statistical(empty)
    assert not r.stop and r.recall_lower is None and r.extra["p_value"] == 1.0
    # no relevant record found yet: continue, no recall bound
    r = statistical(hist([0] * 10, 50))
    assert not r.stop and r.recall_lower is None
    # everything screened: stop with recall 1
    r = statistical(hist([1, 0, 0], 3))
    assert r.stop and r.recall_lower == 1.0 and r.extra["remaining_upper"] == 0
    # all relevant in the first batch, then a long run of irrelevant in a tiny pool
    r = statistical(hist([1] * 5 + [0] * 14, 20))
    # K_tar = floor(5/0.95) + 1 - 5 = 1 in an urn of 15, 14 drawn: P(X = 0) = 1/15 > 0.05
    assert not r.stop and r.extra["p_value"] == pytest.approx(1 / 15)
    assert r.extra["more_irrelevant_needed"] == 1
    # prior labels only: nothing screened
    r = statistical(hist([1, 0], 10, n_prior=2))
    assert not r.stop and r.extra["tail_length"] == 0
    assert more_irrelevant_needed(hist([1, 0], 10, n_prior=2), 0.5, 0.5) is not None


def test_hypergeom_helpers_against_scipy():
    rng = np.random.default_rng(0)
    M = rng.integers(1, 300, 500)
    K = (rng.random(500) * (M + 1)).astype(int)
    n = (rng.random(500) * (M + 1)).astype(int)
    k = (rng.random(500) * (n + 1)).astype(int)
    np.testing.assert_allclose(hypergeom_cdf(k, M, K, n), hypergeom.cdf(k, M, K, n), atol=1e-11)
    pm = hypergeom_cdf(k, M, K, n, mid_p=True)
    inner = (k < np.minimum(n, K)) & (k >= np.maximum(0, n + K - M))
    ref = hypergeom.cdf(k, M, K, n) - 0.5 * hypergeom.pmf(k, M, K, n)
    np.testing.assert_allclose(pm[inner], ref[inner], atol=1e-11)
    # upper bound: 0 of 100 drawn from 1000 -> largest K with P(X = 0) > 0.05
    U = hypergeom_upper(0, 100, 1000, 0.95)
    assert hypergeom.pmf(0, 1000, U, 100) > 0.05 >= hypergeom.pmf(0, 1000, U + 1, 100)
