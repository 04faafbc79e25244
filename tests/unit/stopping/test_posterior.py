"""Posterior counting process (triage/stopping/posterior.py): the model's numbers against an
independent computation, and the rule's edge cases."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import nbinom

from triage.history import PRIOR, RANKED, History
from triage.stopping import make_rule
from triage.stopping.base import ALL_SCREENED
from triage.stopping.posterior import (K_MAX, K_MIN, N_K, PHI, counting_posterior, first_stop, left_cdf,
                                      left_quantile, log_likelihood, phi_prior, posterior)


def hist(labels, n_records, n_prior=0):
    labels = list(labels)
    origins = [PRIOR] * n_prior + [RANKED] * (len(labels) - n_prior)
    return History.from_lists(range(len(labels)), labels, origins, [0] * len(labels), n_records)


def test_negative_binomial_left_count_by_hand():
    # one grid point with seen share 1/2 and r = 2: NB(2.5, 0.5), P(0) = 0.5 ** 2.5
    w, seen = np.array([1.0]), np.array([0.5])
    assert left_cdf(0, 2, w, seen)[0] == pytest.approx(0.5 ** 2.5)
    # P(1) = 2.5 * 0.5 ** 2.5 * 0.5 (NB pmf: Gamma(n + 1) / (Gamma(n) 1!) p^n (1 - p))
    assert left_cdf(1, 2, w, seen)[0] == pytest.approx(0.5 ** 2.5 * (1 + 2.5 * 0.5))
    # a mixture is the weighted sum of its parts
    w, seen = np.array([0.25, 0.75]), np.array([0.5, 0.9])
    want = 0.25 * nbinom.cdf(3, 10.5, 0.5) + 0.75 * nbinom.cdf(3, 10.5, 0.9)
    assert left_cdf(3, 10, w, seen)[0] == pytest.approx(want)
    assert left_quantile(0.5, 10, w, seen, 1000) == next(x for x in range(1000) if left_cdf(x, 10, w, seen)[0] >= 0.5)
    assert left_quantile(0.999999, 10, w, seen, 3) == 3  # never more than the pool


def test_posterior_matches_a_direct_computation():
    # likelihood of positions under f(t) = (1 - phi) k e^{-kt} / (1 - e^{-k}) + phi, truncated to (0, tau],
    # computed term by term with numerical integration for the normaliser, times the Beta(1, b) prior
    pos, tau, b = np.array([0.01, 0.02, 0.05, 0.2]), 0.4, 10.0
    w, seen = posterior(pos, tau, b)
    ks = np.geomspace(K_MIN, K_MAX, N_K)
    widths = np.gradient(PHI)
    ll, sh = [], []
    for k in ks:
        for phi, width in zip(PHI, widths):
            f = lambda t: (1 - phi) * k * np.exp(-k * t) / (1 - np.exp(-k)) + phi  # noqa: E731
            F = quad(f, 0, tau, points=[min(1 / k, tau)])[0]
            ll.append(sum(np.log(f(t)) for t in pos) - len(pos) * np.log(F) + np.log((1 - phi) ** (b - 1) * width))
            sh.append(F)
    ll = np.array(ll)
    want = np.exp(ll - ll.max())
    want /= want.sum()
    assert w == pytest.approx(want, rel=1e-5, abs=1e-12)
    assert seen == pytest.approx(np.array(sh), rel=1e-6)


def test_power_law_tail_likelihood_matches_a_direct_computation():
    # the share phi spread as (1 - a) t^-a instead of evenly; a = 0 is the rule's model, bit for bit
    pos, tau, a = np.array([0.01, 0.02, 0.05, 0.2]), 0.4, 0.5
    assert [x.tolist() for x in log_likelihood(pos, tau, 0.0)] == [x.tolist() for x in log_likelihood(pos, tau)]
    ll, seen = log_likelihood(pos, tau, a)
    for i, j in [(0, 0), (40, 5), (89, 27), (60, 12)]:
        k, phi = np.geomspace(K_MIN, K_MAX, N_K)[i], PHI[j]
        f = lambda t: (1 - phi) * k * np.exp(-k * t) / (1 - np.exp(-k)) + phi * (1 - a) * t ** -a  # noqa: E731
        F = quad(f, 0, tau, points=[min(1 / k, tau)])[0]
        assert seen[i, j] == pytest.approx(F, rel=1e-6)
        assert ll[i, j] == pytest.approx(sum(np.log(f(t)) for t in pos) - len(pos) * np.log(F), rel=1e-6, abs=1e-9)
    # a heavier tail explains records found late with a smaller share still to come
    assert seen[0, -1] > log_likelihood(pos, tau)[1][0, -1]
    with pytest.raises(ValueError, match="tail_a"):
        log_likelihood(pos, tau, 1.0)


def test_prior_of_the_even_share():
    w = phi_prior(10.0)
    assert w.sum() == pytest.approx(1.0) and (np.diff(w / np.gradient(PHI)) < 0).all()  # density falls from 0
    assert (w * PHI).sum() == pytest.approx(1 / 11, abs=0.01)                # Beta(1, 10) mean 1/11


def test_spike_puts_its_probability_on_a_ranking_that_finds_everything():
    base, w = phi_prior(10.0), phi_prior(10.0, spike=0.5)
    assert w.sum() == pytest.approx(1.0)
    assert w[0] == pytest.approx(0.5 + 0.5 * base[0])               # the spike plus half the Beta mass at 0
    assert w[1:] == pytest.approx(0.5 * base[1:])                   # the rest of the Beta prior, halved
    with pytest.raises(ValueError, match="spike"):
        phi_prior(10.0, spike=1.0)
    # the posterior is the likelihood times this prior: one likelihood serves every prior
    pos, tau = np.array([0.01, 0.03, 0.08]), 0.3
    ll, seen = log_likelihood(pos, tau)
    lp = ll + np.log(w)[None, :]
    want = np.exp(lp - lp.max())
    got, got_seen = posterior(pos, tau, 10.0, spike=0.5)
    assert got == pytest.approx((want / want.sum()).ravel())
    assert got_seen == pytest.approx(seen.ravel())
    assert posterior(pos, tau, 10.0, 0.5, likelihood=(ll, seen))[0] == pytest.approx(got)


def test_spike_lets_the_rule_stop_sooner_after_a_fast_start():
    # 10 relevant records at the top, then irrelevant ones: more prior belief in a ranking that
    # finds everything means fewer irrelevant records in a row are needed
    h = hist([1] * 10 + [0] * 990, 1000)
    plain, spiked = first_stop(h, 0.95, 0.9, 10.0), first_stop(h, 0.95, 0.9, 10.0, spike=0.75)
    assert plain is not None and spiked is not None and spiked < plain
    assert counting_posterior(h.at(spiked), target=0.95, confidence=0.9, spike=0.75).stop
    assert not counting_posterior(h.at(spiked - 1), target=0.95, confidence=0.9, spike=0.75).stop
    with pytest.raises(ValueError):
        phi_prior(0.5)


def test_early_relevant_records_favour_fast_decay():
    early = posterior(np.array([0.001, 0.002, 0.003, 0.004, 0.006]), 0.5, 1000.0)
    spread = posterior(np.array([0.05, 0.15, 0.25, 0.35, 0.45]), 0.5, 1000.0)
    # the posterior mean of the seen share: nearly everything seen after early finds, not after spread ones
    assert (early[0] * early[1]).sum() > 0.9 > 0.7 > (spread[0] * spread[1]).sum()


def test_nothing_relevant_yet_and_too_few_relevant():
    r = counting_posterior(hist([0] * 50, 1000))
    assert not r.stop and r.recall_estimate is None and "needs at least 3" in r.summary
    r = counting_posterior(hist([1, 0, 1] + [0] * 50, 1000))
    assert not r.stop and r.recall_estimate is None


def test_everything_found_in_the_first_batch_then_a_long_run():
    seq = [1] * 20 + [0] * 30
    r = counting_posterior(hist(seq, 1000))
    assert not r.stop and r.extra["screen_more"] > 0
    more = r.extra["screen_more"]
    # following the advice with irrelevant records stops exactly there, not one record before
    assert counting_posterior(hist(seq + [0] * more, 1000)).stop
    assert not counting_posterior(hist(seq + [0] * (more - 1), 1000)).stop
    assert more < 950  # the ranking's shape lets it stop well before the end


def test_tiny_and_empty_pools():
    for h in (hist([1, 0, 1], 3), History.empty(0)):
        r = counting_posterior(h)
        assert r.stop and r.summary == ALL_SCREENED and r.est_relevant_remaining == 0.0
    r = counting_posterior(hist([1, 1, 1, 0], 6))
    assert r.extra["upper"] <= 2 and r.est_relevant_remaining <= 2


def test_a_wider_prior_or_higher_confidence_stops_later():
    h = hist([1] * 15 + [0] * 5 + [1] * 3 + [0] * 1977, 2000)

    def first(prior_b, confidence=0.9):
        k = first_stop(h, 0.95, confidence, prior_b)
        assert counting_posterior(h.at(k), None, 0.95, confidence, prior_b).stop  # the replay agrees with the rule
        assert not counting_posterior(h.at(k - 1), None, 0.95, confidence, prior_b).stop
        return k

    assert first(80.0) < first(20.0) < first(5.0) < 2000
    assert first(20.0, 0.8) < first(20.0, 0.95)


def test_probability_of_enough_grows_with_each_irrelevant_record():
    seq = [1] * 10 + [0] * 20
    ps = [counting_posterior(hist(seq + [0] * n, 3000), prior_b=20.0).extra["p_enough"] for n in (0, 100, 400, 1600)]
    assert ps == sorted(ps) and ps[0] < ps[-1]


def test_registered_rule_scales_its_probability_with_the_confidence():
    seq = [1] * 20 + [0] * 400
    h = hist(seq, 3000)
    r95, r99 = make_rule("counting_posterior", 0.95, 0.95)(h), make_rule("counting_posterior", 0.95, 0.99)(h)
    assert r99.confidence > r95.confidence and r99.extra["upper"] >= r95.extra["upper"]


def test_fast_replay_equals_prefix_by_prefix_evaluation():
    rng = np.random.default_rng(3)
    p = np.exp(-np.arange(1100) / 60) * 0.6 + 0.002  # a decaying rate with an even floor
    seq = [1, 0] + list((rng.random(1100) < p).astype(int))
    h = hist(seq, 1200, n_prior=2)
    rule = make_rule("counting_posterior")
    stops = rule.replay(h, None)
    k = int(np.argmax(stops))
    assert stops.any() and stops[k:].all() and k < len(seq)
    assert rule(h.at(k)).stop and not rule(h.at(k - 1)).stop
    assert not any(rule(h.at(j)).stop for j in range(2, k, 25))


def test_registered_rule_uses_the_parameters_chosen_for_its_target():
    from triage.stopping.rules import POSTERIOR_PARAMS, posterior_params, posterior_probability

    assert posterior_params(0.95) == POSTERIOR_PARAMS[0.95] and posterior_params(0.90) == POSTERIOR_PARAMS[0.90]
    assert posterior_params(0.99) == POSTERIOR_PARAMS[0.95] and posterior_params(0.8) == POSTERIOR_PARAMS[0.90]
    assert posterior_params(0.925) == POSTERIOR_PARAMS[0.95]                  # a tie goes to the higher target
    assert posterior_probability(0.95, 0.9) == pytest.approx(0.9)
    assert posterior_probability(0.99, 0.9) == pytest.approx(0.98)             # risk five times smaller
    h = hist([1] * 10 + [0] * 990, 1000)
    for target in (0.95, 0.90):
        b, spike, c = POSTERIOR_PARAMS[target]
        want = first_stop(h, target, posterior_probability(0.95, c), b, spike)
        for name in ("counting_posterior", "default"):
            rule = make_rule(name, target, 0.95)
            assert rule.replay(h, None).argmax() == want
            assert rule(h.at(want), None).stop and not rule(h.at(want - 1), None).stop
            assert rule(h.at(want), None).name == name
