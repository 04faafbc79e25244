"""Random-sample certification of recall.

A simple random sample of the pool is drawn at some point (`triage sample`; in simulation the
harness draws it) and labelled with origin RANDOM. Its relevant count gives an exact one-sided
hypergeometric upper bound D on the relevant records that were in the pool at the draw; every
relevant record labelled since then (sample records included) came out of that pool, so at
any later point at most D - found_since remain, and

    recall >= r_seen / (r_seen + max(D - found_since, 0))     with the stated confidence.

This is the sample-based certification idea of Cormack & Grossman (2016), "Engineering quality
and reliability in technology-assisted review", SIGIR '16 (target method: a random sample fixes
the evidence before the ranking is screened) and of Lewis, Yang & Frieder (2021), "Certifying
one-phase technology-assisted reviews", CIKM '21 (quantile-based bounds from a random sample).
Here the sample is of the *pool* at one point, so the bound needs no assumption about the
ranking -- only that the sample was drawn at random and no records were added afterwards.
Sample records count as screening cost: they are in the history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from triage.stopping.base import RuleResult, check_target, min_total_for_miss, pct
from triage.stopping.dist import first_true, hypergeom_cdf, hypergeom_upper
from triage.history import RANDOM, History

NAME = "random_sample"
ASSUMPTION = ("The certification sample was drawn uniformly at random from the pool, and no records "
              "were added to the project afterwards.")


@dataclass(frozen=True)
class CertificationSample:
    """One random draw from the pool.

    record_ids: int64 ids drawn (in the order to label them), shape (n,).
    pool_size:  records in the pool when drawn.
    position:   history length when drawn (records labelled before the draw); in a project
                without later imports this is n_records - pool_size.
    """

    record_ids: np.ndarray
    pool_size: int
    position: int

    @classmethod
    def from_project(cls, sample: dict, n_records: int) -> "CertificationSample":
        """From one `Project.samples()` entry."""
        return cls(np.asarray(sample["record_ids"], dtype=np.int64), int(sample["pool_size"]),
                   int(n_records) - int(sample["pool_size"]))


def draw_sample(pool_ids: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A simple random sample (without replacement) of min(n, pool) ids, in random order."""
    pool_ids = np.asarray(pool_ids, dtype=np.int64)
    if n < 0:
        raise ValueError("sample size must be >= 0")
    return rng.choice(pool_ids, size=min(int(n), len(pool_ids)), replace=False).astype(np.int64)


def target_method_size(target: float = 0.95, confidence: float = 0.95) -> int:
    """Relevant records a target set needs (Cormack & Grossman 2016 target method): the smallest
    k with target**k <= 1 - confidence, i.e. ceil(log(alpha) / log(target)). E.g. 59 for
    0.95 / 0.95; 9 for 0.70 / 0.95. The expected records to draw for it is k / prevalence."""
    check_target(target, confidence)
    if target == 1.0:
        raise ValueError("a target set cannot certify 100 % recall")
    return int(math.ceil(math.log(1.0 - confidence) / math.log(target) - 1e-12))


def certification_sample_size(pool_size: int, relevant_found: int, target: float = 0.95,
                              confidence: float = 0.95) -> int | None:
    """Smallest pool sample that certifies `target` if it holds no relevant record.

    With r = relevant_found, the pool may hold at most U = floor(r / target) - r relevant records
    (recall r / (r + U) >= target); the sample must reject U + 1: P(X = 0 | pool, U + 1, n) <= alpha.
    Returns None when no sample smaller than the pool suffices (the pool itself must be screened).
    """
    check_target(target, confidence)
    alpha = 1.0 - confidence
    U = int(min_total_for_miss(relevant_found, target)) - 1 - relevant_found
    if U + 1 > pool_size:
        return 0  # the pool cannot even hold enough relevant records to miss the target
    ok = lambda n: hypergeom_cdf(0, pool_size, U + 1, n)[()] <= alpha  # noqa: E731
    if not ok(pool_size - 1):
        return None
    return first_true(ok, 0, pool_size - 1)


def random_sample(history: History, sample: CertificationSample, target: float = 0.95,
                  confidence: float = 0.95) -> RuleResult:
    """Certify recall from a labelled random sample of the pool (see module docstring).

    Only sample records labelled with origin RANDOM count as the sample. The rule stops only once
    the whole sample is labelled and r_seen / (r_seen + remaining upper bound) >= target.
    extra = {sample_size, sample_labelled, sample_relevant, pool_at_draw, pool_relevant_upper,
    found_since_draw, remaining_upper}.
    """
    check_target(target, confidence)
    ids = history.record_ids
    in_sample = np.isin(ids, sample.record_ids) & (history.origins == RANDOM)
    n, x = int(in_sample.sum()), int(history.labels[in_sample].sum())
    r_seen = history.n_relevant
    extra = {"sample_size": int(len(sample.record_ids)), "sample_labelled": n, "sample_relevant": x,
             "pool_at_draw": sample.pool_size}
    if n == 0:
        return RuleResult(NAME, False, True, confidence=confidence, extra=extra, assumption=ASSUMPTION,
                          summary=f"Certification sample: none of its {len(sample.record_ids)} records is labelled yet.")
    D_up = hypergeom_upper(x, n, sample.pool_size, confidence)
    D_hat = x / n * sample.pool_size
    found_since = int(history.labels[sample.position:].sum())
    rem_up = max(D_up - found_since, 0)
    rem_hat = max(D_hat - found_since, 0.0)
    lower = r_seen / (r_seen + rem_up) if r_seen else None
    est = r_seen / (r_seen + rem_hat) if r_seen else None
    complete = n == len(sample.record_ids)
    stop = complete and r_seen + rem_up <= int(min_total_for_miss(r_seen, target)) - 1 and (r_seen > 0 or rem_up == 0)
    extra.update({"pool_relevant_upper": D_up, "found_since_draw": found_since, "remaining_upper": rem_up})
    if not complete:
        summary = f"Certification sample: {n} of {len(sample.record_ids)} labelled; label the rest to certify."
    elif stop:
        summary = (f"Certified: {x} relevant in a random sample of {n}; recall is at least {pct(lower)} "
                   f"with {pct(confidence)} confidence.")
    else:
        summary = (f"Not certified: {x} relevant in a random sample of {n}; up to {rem_up} relevant may "
                   f"remain (recall at least {pct(lower)}), below the {pct(target)} target.")
    return RuleResult(NAME, bool(stop), True, recall_estimate=est, recall_lower=lower, confidence=confidence,
                      est_relevant_remaining=float(rem_hat), extra=extra, assumption=ASSUMPTION,
                      summary=summary)
