"""Exact hypergeometric and binomial tail computations used by the stopping rules.

`scipy.stats.hypergeom.cdf` costs ~25 µs per value, too slow to replay the statistical rule
over every prefix of a 9,000-record history. `hypergeom_cdf` sums the pmf in log space with the
recurrence pmf(j+1)/pmf(j) = (K-j)(n-j) / ((j+1)(M-K-n+j+1)), vectorised over its arguments, and
can stop summing for values already known to exceed a threshold. Tests check it against scipy.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln
from scipy.stats import beta


def _log_comb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def hypergeom_cdf(k, M, K, n, stop_above: float | None = None, mid_p: bool = False) -> np.ndarray:
    """P(X <= k) for X ~ Hypergeometric(population M, K successes in it, n draws).

    Arguments broadcast together (integers). Out-of-support values follow the distribution's
    definition: k below the support gives 0, k at or above min(n, K) gives 1. Invalid
    parameters (K > M or n > M) give NaN; callers handle those first.

    stop_above: when given, summation stops for a value as soon as the partial sum reaches it,
    so values >= stop_above are returned as some number >= stop_above (not exact). Values below
    it are exact. Used when only "p < alpha" and the minimum below alpha matter.
    mid_p: return the mid-p value P(X < k) + P(X = k) / 2 (Lancaster 1961) instead; for k at or
    above min(n, K) it returns 1 (conservative).
    Returns float64 array of the broadcast shape.
    """
    k, M, K, n = (np.asarray(a, dtype=np.int64) for a in (k, M, K, n))
    k, M, K, n = np.broadcast_arrays(k, M, K, n)
    shape = k.shape
    k, M, K, n = (a.ravel().astype(np.float64) for a in (k, M, K, n))
    out = np.full(k.shape, np.nan)
    valid = (K >= 0) & (n >= 0) & (K <= M) & (n <= M)
    lo = np.maximum(0.0, n + K - M)
    hi = np.minimum(n, K)
    out[valid & (k < lo)] = 0.0
    out[valid & (k >= hi)] = 1.0
    act = np.flatnonzero(valid & (k >= lo) & (k < hi))
    if act.size:
        kk, MM, KK, nn, jj = k[act], M[act], K[act], n[act], lo[act]
        log_term = _log_comb(KK, jj) + _log_comb(MM - KK, nn - jj) - _log_comb(MM, nn)
        log_sum = log_term.copy()
        stop = stop_above if stop_above is not None else np.inf
        half = 0.5 if mid_p else 0.0
        idx = np.arange(act.size)
        while idx.size:
            # the (mid-)p partial sum S_j - half * t_j only grows with j, so it can stop early
            done = (jj[idx] >= kk[idx]) | (np.exp(log_sum[idx]) - half * np.exp(log_term[idx]) >= stop)
            if done.any():
                idx = idx[~done]
                if not idx.size:
                    break
            j = jj[idx]
            log_term[idx] += (np.log(KK[idx] - j) + np.log(nn[idx] - j)
                              - np.log(j + 1) - np.log(MM[idx] - KK[idx] - nn[idx] + j + 1))
            log_sum[idx] = np.logaddexp(log_sum[idx], log_term[idx])
            jj[idx] = j + 1
        out[act] = np.minimum(np.exp(log_sum) - half * np.exp(log_term), 1.0)
    return out.reshape(shape)


def first_true(pred, lo: int, hi: int) -> int:
    """The smallest x in (lo, hi] with pred(x) true, for a predicate that is false at lo, true at
    hi and monotone in between (binary search; pred is called O(log(hi - lo)) times)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def hypergeom_upper(x: int, n: int, M: int, confidence: float) -> int:
    """One-sided upper confidence bound on K, the successes in a population of M, after a
    simple random sample of n (without replacement) held x successes.

    The largest K with P(X <= x | M, K, n) > alpha (alpha = 1 - confidence): every larger K
    is rejected by the exact one-sided test. Returns an int in [x + ..., M - (n - x)].
    """
    if not 0 <= x <= n <= M:
        raise ValueError(f"need 0 <= x <= n <= M, got x={x}, n={n}, M={M}")
    alpha = 1.0 - confidence
    lo, hi = x, M - (n - x)  # K is at least x and leaves room for the n - x failures seen
    if hypergeom_cdf(x, M, hi, n)[()] > alpha:
        return int(hi)
    # cdf(lo) > alpha >= cdf(hi): the last K not rejected
    return int(first_true(lambda K: hypergeom_cdf(x, M, K, n)[()] <= alpha, lo, hi)) - 1


def clopper_pearson(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper–Pearson (exact binomial) interval for a proportion x / n.

    Returns (lower, upper); (0, 1) when n == 0. E.g. x = 0, n = 10, 95 %: upper = 1 - 0.025**(1/10).
    """
    if n == 0:
        return 0.0, 1.0
    a = 1.0 - confidence
    lower = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    upper = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return lower, upper
