"""The statistical stopping rule of Callaghan & Müller-Hansen (2020).

Callaghan, M. W. & Müller-Hansen, F. (2020). Statistical stopping criteria for automated
screening in systematic reviews. Systematic Reviews 9:273. doi:10.1186/s13643-020-01521-4

H0: "recall < target". For every tail of the screening sequence -- the last n screened records,
treated as a simple random sample (without replacement) of the N_t records that were still
unscreened when the tail began -- let k be the relevant records in the tail, r_AL the relevant
records seen before it and r_seen all relevant records seen. The smallest number of relevant
records the urn must have held for H0 to be true is

    K_tar = floor(r_seen / target - r_AL + 1)        (paper, eq. for K_tar)

and the p-value of the tail is P(X <= k), X ~ Hypergeometric(N_t, K_tar, n). The rule takes the
minimum over all tails and stops when p < alpha = 1 - confidence. (K_tar > N_t means H0 is
impossible: p = 0.) The minimum over tails follows the paper; it is not corrected for multiple
testing -- in practice a ranked tail holds *more* relevant records than a random sample of the
rest would, which makes the test conservative.

Only RANKED and RANDOM decisions form the sequence; PRIOR labels are treated as labelled before
the first screened record (they reduce N_t and add to r_seen and r_AL).

Computation: extending a tail backwards over an irrelevant record lowers its p-value (proof:
P(X_{n+1} <= k | N+1, K) = (1-q) P(X_n <= k | N, K) + q P(X_n <= k-1 | N, K-1) with
P(X_n <= k-1 | N, K-1) <= P(X_n <= k | N, K)). So the minimum is attained by a tail that starts
at the first screened record or right after a relevant one: only r + 1 tails are evaluated, not
all n. `tests/unit/stopping` checks this against brute force. The same holds for mid-p values.

Variant `mid_p=True` ("statistical_midp"): the tail p-value is the mid-p value
P(X < k) + P(X = k) / 2 (Lancaster 1961), the usual correction for the conservativeness of exact
discrete tests. It is not an exact guarantee (guarantee=False); its reliability is measured in
benchmarks/results/stopping.md.
"""

from __future__ import annotations

import numpy as np

from triage.stopping.base import RuleResult, check_target, min_total_for_miss, pct, split_prior
from triage.stopping.dist import first_true, hypergeom_cdf
from triage.history import History

NAME = "statistical"
NAME_MIDP = "statistical_midp"
ASSUMPTION = ("Every tail of the ranked screening sequence is no richer in relevant records than a "
              "random sample of the records unscreened when it began (true when the ranking works).")


def _tail_starts(seq: np.ndarray) -> np.ndarray:
    """Start indices of the candidate tails: 0 and every index right after a relevant record."""
    m = len(seq)
    starts = np.concatenate([[0], np.flatnonzero(seq) + 1])
    return np.unique(starts[starts < m])


def _tails(seq: np.ndarray, n_prior: int, r_prior: int, n_records: int):
    """Per candidate tail: (k relevant in tail, n tail length, N_t urn size, r_AL) as int64 arrays."""
    m = len(seq)
    cum = np.concatenate([[0], np.cumsum(seq)])
    s = _tail_starts(seq)
    k = cum[m] - cum[s]
    n = m - s
    urn = n_records - n_prior - s
    r_al = r_prior + cum[s]
    return k, n, urn, r_al


def _pvalues(k, n, urn, K, stop_above: float | None = None, mid_p: bool = False) -> np.ndarray:
    """Hypergeometric p-values P(X <= k | urn, K, n); K > urn (H0 impossible) gives 0."""
    k, n, urn, K = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64) for a in (k, n, urn, K)))
    impossible = K > urn
    Kc = np.minimum(K, urn)
    p = np.ones(k.shape)
    if stop_above is not None and stop_above < 0.25:
        # Only "p < stop_above" matters: a hypergeometric median lies within one of its mean, so
        # k >= ceil(mean) gives P(X <= k) >= 1/2 (mid-p >= 1/4): skip those values (left at 1).
        todo = k < np.ceil(n * Kc / np.maximum(urn, 1))
    else:
        todo = np.ones(k.shape, dtype=bool)
    if todo.any():
        p[todo] = hypergeom_cdf(k[todo], urn[todo], Kc[todo], n[todo], stop_above=stop_above, mid_p=mid_p)
    return np.where(impossible, 0.0, p)


def statistical_pvalue(history: History, target: float = 0.95, mid_p: bool = False) -> tuple[float, int]:
    """(min p-value over tails, length of the tail attaining it); (1.0, 0) with nothing screened."""
    check_target(target)
    n_prior, r_prior, seq = split_prior(history)
    if len(seq) == 0:
        return 1.0, 0
    r_seen = r_prior + int(seq.sum())
    k, n, urn, r_al = _tails(seq, n_prior, r_prior, history.n_records)
    K = min_total_for_miss(r_seen, target) - r_al
    p = _pvalues(k, n, urn, K, mid_p=mid_p)
    i = int(np.argmin(p))
    return float(p[i]), int(n[i])


def remaining_upper_bound(history: History, confidence: float = 0.95, mid_p: bool = False) -> int:
    """Upper confidence bound U on the relevant records left in the pool, by inverting the test.

    U is the largest count not rejected: min over tails of P(X <= k_t | N_t, k_t + U, n_t) >= alpha.
    Then recall >= r_seen / (r_seen + U) with the rule's confidence. Shape: scalar int in [0, pool].
    """
    check_target(0.5, confidence)
    n_prior, r_prior, seq = split_prior(history)
    pool = history.n_pool
    if pool == 0:
        return 0
    if len(seq) == 0:
        return pool
    alpha = 1.0 - confidence
    k, n, urn, _ = _tails(seq, n_prior, r_prior, history.n_records)

    def rejected(U: int) -> bool:
        return bool(_pvalues(k, n, urn, k + U, stop_above=alpha, mid_p=mid_p).min() < alpha)

    if not rejected(pool):
        return pool
    return first_true(rejected, 0, pool) - 1  # U = 0 is never rejected (p = 1): the last accepted U


def more_irrelevant_needed(history: History, target: float = 0.95, confidence: float = 0.95,
                           mid_p: bool = False) -> int | None:
    """How many more consecutive irrelevant screened records would make the rule stop.

    0 when it stops now; None when even screening the whole pool as irrelevant would not (cannot
    happen with a finite pool unless nothing relevant was found: then it is the pool size).
    Every candidate tail grows by j irrelevant records: k, N_t and K_tar stay, n grows by j.
    """
    check_target(target, confidence)
    n_prior, r_prior, seq = split_prior(history)
    pool = history.n_pool
    alpha = 1.0 - confidence
    r_seen = r_prior + int(seq.sum())
    if len(seq):
        k, n, urn, r_al = _tails(seq, n_prior, r_prior, history.n_records)
    else:  # a tail made only of the future irrelevant records
        k = np.array([0]); n = np.array([0]); urn = np.array([history.n_records - n_prior]); r_al = np.array([r_prior])
    K = min_total_for_miss(r_seen, target) - r_al

    def stops(j: int) -> bool:
        return bool(_pvalues(k, n + j, urn, K, stop_above=alpha, mid_p=mid_p).min() < alpha)

    if stops(0):
        return 0
    if pool == 0 or not stops(pool):
        return None
    return first_true(stops, 0, pool)


def statistical(history: History, target: float = 0.95, confidence: float = 0.95, mid_p: bool = False) -> RuleResult:
    """Callaghan & Müller-Hansen (2020) hypergeometric stopping rule (see module docstring).

    Returns a RuleResult with guarantee=True, recall_lower = r_seen / (r_seen + U) where U is the
    inverted upper bound on relevant records remaining, and extra = {p_value, tail_length,
    r_seen, remaining_upper, more_irrelevant_needed}.
    """
    check_target(target, confidence)
    alpha = 1.0 - confidence
    n_prior, r_prior, seq = split_prior(history)
    r_seen = r_prior + int(seq.sum())
    name, guarantee = (NAME_MIDP, False) if mid_p else (NAME, True)
    if history.n_pool == 0:
        return RuleResult(name, True, True, recall_estimate=1.0, recall_lower=1.0, recall_upper=1.0,
                          confidence=confidence, est_relevant_remaining=0.0,
                          extra={"p_value": 0.0, "tail_length": len(seq), "r_seen": r_seen, "remaining_upper": 0,
                           "more_irrelevant_needed": 0},
                          assumption=ASSUMPTION, summary="Every record has been screened: recall is 100 %.")
    p, tail = statistical_pvalue(history, target, mid_p)
    U = remaining_upper_bound(history, confidence, mid_p)
    more = more_irrelevant_needed(history, target, confidence, mid_p)
    stop = p < alpha
    lower = r_seen / (r_seen + U) if r_seen > 0 else None
    extra = {"p_value": p, "tail_length": tail, "r_seen": r_seen, "remaining_upper": U,
             "more_irrelevant_needed": more}
    if r_seen == 0:
        summary = ("No relevant record found yet." if not stop else
                   f"No relevant record found and, with {pct(confidence)} confidence, none remain in the pool.")
    elif stop:
        summary = (f"Stop: recall below {pct(target)} is rejected (p = {p:.3g} < {alpha:.2g}); "
                   f"recall is at least {pct(lower)} with {pct(confidence)} confidence.")
    else:
        more_txt = (f"{more} more irrelevant records in a row would allow stopping" if more is not None
                    else "screening cannot yet be stopped")
        summary = (f"Continue: p = {p:.3g} for recall below {pct(target)} (needs < {alpha:.2g}); "
                   f"{more_txt}.")
    if mid_p:
        summary += " Mid-p variant: approximate, no exact guarantee."
    return RuleResult(name, stop, guarantee, recall_lower=lower, confidence=confidence, extra=extra,
                      assumption=ASSUMPTION, summary=summary)


def statistical_replay(history: History, target: float = 0.95, confidence: float = 0.95,
                       mid_p: bool = False) -> np.ndarray:
    """Whether the rule stops after each prefix: bool array of shape (len(history) + 1,), entry k
    for `history.at(k)`. Vectorised over prefixes (one pass per candidate tail start).

    Requires PRIOR labels to come first (as in simulations); otherwise falls back to evaluating
    `statistical_pvalue` on every prefix.
    """
    check_target(target, confidence)
    alpha = 1.0 - confidence
    L = len(history)
    out = np.zeros(L + 1, dtype=bool)
    prior = history.origins == 0
    n_prior = int(prior.sum())
    if n_prior and not prior[:n_prior].all():
        for kk in range(1, L + 1):
            out[kk] = statistical_pvalue(history.at(kk), target, mid_p)[0] < alpha
        return out
    r_prior = int(history.labels[:n_prior].sum())
    seq = history.labels[n_prior:].astype(np.int64)
    m = len(seq)
    N = history.n_records
    if m == 0:
        out[L] = N - L == 0
        return out
    cum = np.concatenate([[0], np.cumsum(seq)])            # cum[e]: relevant in seq[:e]
    e = np.arange(1, m + 1)                                  # prefix of e screened records
    T = min_total_for_miss(r_prior + cum[1:], target)        # per e
    stop_e = np.zeros(m, dtype=bool)
    for s in _tail_starts(seq):                              # tails seq[s:e] for e > s
        ee = e[s:]
        k = cum[ee] - cum[s]
        n = ee - s
        urn = N - n_prior - s
        K = T[s:] - (r_prior + cum[s])
        p = _pvalues(k, n, np.full_like(k, urn), K, stop_above=alpha, mid_p=mid_p)
        stop_e[s:] |= p < alpha
    stop_e |= (N - n_prior - e) == 0                         # pool exhausted
    out[n_prior + 1:] = stop_e
    return out
