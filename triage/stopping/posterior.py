"""Posterior counting process: a counting-process stopping rule that carries the uncertainty of
the fitted rate into its bound.

The counting-process rules (`triage.stopping.counting`, Sneyd & Stevenson 2021) fit one rate
curve and bound the relevant records left with a Poisson quantile of that curve's integral. On
our 41 reviews they stop too early when few relevant records have been seen or when a slow tail
of hard-to-find relevant records follows a fast start: the single fitted curve is far more
certain than the data allow (BENCHMARKS.md section 4). This rule keeps every curve the data
allow, weighted by how well it explains them, and adds a share of relevant records that the
ranking does not find at all.

Model. Ranks t in (0, 1] are screened positions divided by M (all records but the priors). The
relevant records arrive as a Poisson process with rate A * f(t), where f is a density on (0, 1]:

    f(t) = (1 - phi) * k e^{-k t} / (1 - e^{-k})  +  phi

an exponentially decaying part (the ranking works; decay k per M records, as the exponential
rate of Sneyd & Stevenson) plus a share phi of relevant records spread evenly over the ranking
(records the model cannot tell apart from irrelevant ones; cf. the "elusive" records of
Teijema et al. 2023). After s screened records (tau = s / M) holding r relevant records (priors
included; their positions are not used):

  * the positions of the screened relevant records have density f(t) / F(tau) on (0, tau], which
    gives the likelihood of (k, phi) (F the distribution function of f);
  * with a Jeffreys prior on A, the relevant records left given r seen and (k, phi) follow a
    negative binomial: NB(r + 1/2, p) with p = F(tau) (seen share of the expected total);
  * priors, on a grid: k log-uniform on [K_MIN, K_MAX]; phi = 0 with probability `spike` (the
    ranking finds every relevant record), else phi ~ Beta(1, `prior_b`) on [0, 1) (mean
    1 / (1 + prior_b): most reviews have few unfindable records, but a review whose relevant
    records are spread all along the ranking is not ruled out - the positions then favour a large
    phi); the predictive count of relevant records left is the posterior mixture of those
    negative binomials.

The rule stops when P(relevant left <= allowed) >= confidence, where `allowed` is the largest
count that keeps recall r / (r + left) at or above the target. The recall bound reported is
r / (r + U) with U the predictive `confidence` quantile; the estimate uses the predictive mean.

No exact guarantee (guarantee=False): the bound holds if the ranking's rate of relevant records
is a decaying exponential plus an even share drawn as the prior says. `prior_b`, `spike` and
`confidence` were chosen per recall target by leave-one-review-out over the benchmark reviews
(benchmarks/posterior_loro.py, BENCHMARKS.md section 4; the values: `rules.POSTERIOR_PARAMS`), as
the counting-process papers tune their parameters on held-out topics.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import nbinom

from triage.history import History
from triage.stopping.base import ALL_SCREENED, RuleInputs, RuleResult, check_target, min_total_for_miss, pct, split_prior

NAME = "counting_posterior"
#: Decay grid (per M records): 0.05 is nearly flat (rate falls 5 % over the whole ranking), 2,000
#: puts all relevant records in the first 0.05 % of it. Log-uniform prior on it.
K_MIN, K_MAX, N_K = 0.05, 2000.0, 90
#: The phi grid: fine near 0, where reviews with a working ranking are, coarse above.
PHI = np.concatenate([np.linspace(0.0, 0.1, 11), np.linspace(0.15, 0.95, 17)])
#: Relevant records the screened part must hold before the posterior is used (with fewer, the
#: shape of the ranking is unknown and the rule says continue).
MIN_RELEVANT = 3
ASSUMPTION = ("The rate of relevant records along the ranking is a decaying exponential plus an even share "
              "(about {mean} of them a priori) that the ranking cannot find.")


def phi_prior(prior_b: float, spike: float = 0.0) -> np.ndarray:
    """Prior weights of the PHI grid: probability `spike` on phi = 0 (the ranking finds every
    relevant record), the rest spread as the Beta(1, prior_b) density times each point's width."""
    if prior_b < 1.0:
        raise ValueError(f"prior_b must be >= 1, got {prior_b}")
    if not 0.0 <= spike < 1.0:
        raise ValueError(f"spike must be in [0, 1), got {spike}")
    w = (1.0 - PHI) ** (prior_b - 1.0) * np.gradient(PHI)
    w = (1.0 - spike) * w / w.sum()
    w[0] += spike
    return w


def log_likelihood(positions: np.ndarray, tau: float, tail_a: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Log-likelihood of the relevant records' positions and the seen shares F(tau) over the
    (k, phi) grid, both of shape (N_K, len(PHI)); the prior is added by `posterior`.

    positions: screened relevant records' positions t in (0, tau] (rank - 0.5) / M.
    tau: screened share s / M, in (0, 1].
    tail_a: the share phi's density is (1 - a) t^-a, a in [0, 1); 0 (the rule's model) spreads it
    evenly. Larger a puts the records the ranking cannot find earlier (a variant measured in
    benchmarks/posterior_variants.py; it did not help).
    """
    if not 0.0 <= tail_a < 1.0:
        raise ValueError(f"tail_a must be in [0, 1), got {tail_a}")
    k, phi = np.geomspace(K_MIN, K_MAX, N_K), PHI
    t = np.asarray(positions, dtype=float)
    tail, tail_seen = ((1.0, tau) if tail_a == 0.0 else ((1.0 - tail_a) * t ** -tail_a, tau ** (1.0 - tail_a)))
    ek = -np.expm1(-k)                                            # 1 - e^{-k}
    seen_fast = -np.expm1(-k * tau) / ek                          # (nk,) F_k(tau)
    seen = (1 - phi)[None, :] * seen_fast[:, None] + phi[None, :] * tail_seen      # (nk, nphi)
    g = k[:, None] * np.exp(-k[:, None] * t[None, :]) / ek[:, None]                # (nk, r)
    dens = (1 - phi)[None, :, None] * g[:, None, :] + phi[None, :, None] * tail   # (nk, nphi, r)
    with np.errstate(divide="ignore"):
        ll = np.log(dens).sum(axis=-1) - len(t) * np.log(seen)
    return ll, np.clip(seen, 1e-300, 1.0)


def posterior(positions: np.ndarray, tau: float, prior_b: float, spike: float = 0.0,
              likelihood: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Posterior weights and seen shares over the (k, phi) grid, both flat of shape (N_K * len(PHI),).

    positions, tau: as `log_likelihood` (or its result passed as `likelihood`, to try several
    priors on one history). prior_b, spike: the prior of phi (`phi_prior`).
    """
    ll, seen = log_likelihood(positions, tau) if likelihood is None else likelihood
    with np.errstate(divide="ignore"):
        lp = ll + np.log(phi_prior(prior_b, spike))[None, :]
    w = np.exp(lp - logsumexp(lp))
    return w.ravel(), seen.ravel()


def left_cdf(x: int | np.ndarray, r: int, weights: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """P(relevant records left <= x): the posterior mixture of NB(r + 1/2, seen share)."""
    x = np.atleast_1d(np.asarray(x))
    return (weights[None, :] * nbinom.cdf(x[:, None], r + 0.5, seen[None, :])).sum(axis=1)


def left_quantile(q: float, r: int, weights: np.ndarray, seen: np.ndarray, pool: int) -> int:
    """Smallest x <= pool with P(left <= x) >= q (pool when no smaller count qualifies)."""
    x = _first_ok(lambda x: left_cdf(x, r, weights, seen)[0] >= q, 0, pool)
    return pool if x is None else x


def counting_posterior(history: History, inputs: RuleInputs | None = None, target: float = 0.95,
                       confidence: float = 0.9, prior_b: float = 10.0, name: str = NAME,
                       spike: float = 0.0) -> RuleResult:
    """The posterior counting-process rule (module docstring) on one history.

    extra = {prior_b, spike, p_enough (P(left <= allowed)), allowed, upper (predictive quantile U),
    screen_more}; est_relevant_remaining = predictive mean (capped at the pool); recall_lower =
    r / (r + U), a one-sided bound at `confidence` (no upper bound). `inputs` is not read.
    """
    check_target(target, confidence)
    n_prior, r_prior, seq = split_prior(history)
    s, pool = len(seq), history.n_pool
    r = r_prior + int(seq.sum())
    assumption = ASSUMPTION.format(mean=pct((1.0 - spike) / (1.0 + prior_b)))
    extra = {"prior_b": prior_b, "spike": spike, "p_enough": None, "allowed": None, "upper": None, "screen_more": None}

    def result(stop, est=None, lo=None, hi=None, rem=None, summary=""):
        return RuleResult(name, bool(stop), False, recall_estimate=est, recall_lower=lo, recall_upper=hi,
                          confidence=confidence, est_relevant_remaining=rem, extra=extra, assumption=assumption,
                          summary=summary)

    if pool == 0:
        extra["screen_more"] = 0
        return result(True, 1.0, 1.0, 1.0, 0.0, ALL_SCREENED)
    if int(seq.sum()) < MIN_RELEVANT:
        return result(False, summary=f"Continue: {int(seq.sum())} relevant records screened; the estimate needs at "
                                     f"least {MIN_RELEVANT}.")
    M = history.n_records - n_prior
    positions = (np.flatnonzero(seq) + 0.5) / M
    w, seen = posterior(positions, s / M, prior_b, spike)
    allowed = allowed_left(r, pool, target)
    p_enough = enough_probability(w, seen, r, pool, target)
    mean_left = float(min((w * (r + 0.5) * (1 - seen) / seen).sum(), pool))
    U = left_quantile(confidence, r, w, seen, pool)
    stop = p_enough >= confidence
    more = 0 if stop else _screen_more(positions, s, r, M, pool, target, confidence, prior_b, spike)
    extra.update(p_enough=p_enough, allowed=allowed, upper=U, screen_more=more)
    est, lo = r / (r + mean_left), r / (r + U)
    if stop:
        summary = (f"Stop: about {mean_left:.1f} relevant records are left (at most {U} with {pct(confidence)} "
                   f"probability): recall at least {pct(lo)}. Estimate, no exact guarantee.")
    else:
        summary = (f"Continue: about {mean_left:.1f} relevant records are left (up to {U}): recall about {pct(est)} "
                   f"(at least {pct(lo)}); screen about {more} more records if they hold no relevant record.")
    return result(stop, est, lo, None, mean_left, summary)


def allowed_left(r: int, pool: int, target: float) -> int:
    """The most relevant records that may be left with r found for recall >= target (<= pool)."""
    return int(min(min_total_for_miss(r, target) - 1 - r, pool))


def enough_cdf(seen: np.ndarray, r: int, pool: int, target: float) -> np.ndarray | None:
    """P(relevant left <= allowed_left) at each grid point (seen shares of any shape), or None when
    the whole pool is within what the target allows (certain). One per history prefix serves every
    prior: `enough_probability` is its posterior-weighted sum."""
    allowed = allowed_left(r, pool, target)
    return None if allowed >= pool else nbinom.cdf(allowed, r + 0.5, seen)


def enough_probability(weights: np.ndarray, seen: np.ndarray, r: int, pool: int, target: float) -> float:
    """P(relevant left <= allowed_left) under the posterior (`posterior`'s weights and seen shares)."""
    cdf = enough_cdf(seen, r, pool, target)
    return 1.0 if cdf is None else float((weights * cdf).sum())


def _p_enough(positions: np.ndarray, r: int, s: int, M: int, pool: int, target: float, prior_b: float,
              spike: float) -> float:
    """P(relevant left <= allowed) after s screened records (pool = records left)."""
    if allowed_left(r, pool, target) >= pool:
        return 1.0
    return enough_probability(*posterior(positions, s / M, prior_b, spike), r, pool, target)


def _first_ok(ok, lo: int, hi: int) -> int | None:
    """Smallest n in [lo, hi] with ok(n), or None; ok must be monotone (False ... True) on it."""
    if lo > hi or not ok(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _screen_more(positions: np.ndarray, s: int, r: int, M: int, pool: int, target: float, confidence: float,
                 prior_b: float, spike: float) -> int:
    """Irrelevant records in a row after s screened ones after which the rule would stop (found by
    bisection: see `first_stop`), or the pool when no run inside it suffices."""
    n = _first_ok(lambda n: _p_enough(positions, r, s + n, M, pool - n, target, prior_b, spike) >= confidence,
                  1, pool - 1) if pool > 1 else None
    return pool if n is None else n


def first_stop(history: History, target: float, confidence: float, prior_b: float, spike: float = 0.0) -> int | None:
    """The first prefix length k (history entries, priors included) at which `counting_posterior`
    says stop, or None (the fast replay of the rule over a whole history).

    Between two relevant records, each further irrelevant record raises P(enough found): the
    posterior moves to faster decay and every curve's seen share grows. So within each stretch of
    irrelevant records the first stop is found by bisection (a few dozen posteriors per stretch
    instead of one per record)."""
    n_prior, r_prior, seq = split_prior(history)
    M = history.n_records - n_prior
    rel = np.flatnonzero(seq)
    if len(rel) >= MIN_RELEVANT:
        for j in range(MIN_RELEVANT - 1, len(rel)):
            a = int(rel[j]) + 1                                    # screened count just after relevant j
            b = int(rel[j + 1]) if j + 1 < len(rel) else len(seq)  # before the next relevant one
            positions, r = (rel[:j + 1] + 0.5) / M, r_prior + j + 1
            s = _first_ok(lambda s: _p_enough(positions, r, s, M, M - s, target, prior_b, spike) >= confidence,
                          a, b)
            if s is not None:
                return n_prior + s
    return len(history) if history.n_pool == 0 else None
