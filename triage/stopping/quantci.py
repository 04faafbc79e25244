"""QuantCI: model-based recall estimate from calibrated pool probabilities.

Yang, E., Lewis, D. D. & Frieder, O. (2021). Heuristic stopping rules for technology-assisted
review. DocEng '21. arXiv:2106.09871 (rules Quant and QuantCI).

The relevant records left in the pool are estimated by the sum of the model's probabilities,
R_hat = sum p_i, treating each pool record as an independent Bernoulli(p_i), so
Var = sum p_i (1 - p_i). With r_seen relevant found, recall_hat = r_seen / (r_seen + R_hat) and
the interval uses R_hat +/- z sd (z two-sided for `confidence`, 1.96 at 95 %). The rule stops when
the lower end of the recall interval reaches the target. Heuristic: valid only if the
probabilities are calibrated on the pool, which active learning tends to violate.

Margins (the SVM): the pool scores are turned into probabilities by Platt scaling fitted on
the labelled records' out-of-sample scores (`triage.learn.calibration.calibrate_pool`).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from triage.stopping.base import ALL_SCREENED, RuleInputs, RuleResult, check_target, pct
from triage.history import History

NAME = "quantci"
ASSUMPTION = "The model's probabilities are calibrated on the pool (independent Bernoulli records)."
ASSUMPTION_PLATT = ("Scores calibrated by Platt scaling on the screened records' scores hold for the pool "
                    "(independent Bernoulli records).")


def pool_probabilities(history: History, inputs: RuleInputs | np.ndarray | None) -> tuple[np.ndarray | None, str]:
    """(P(relevant) of the pool or None, how they were obtained: 'model', 'platt' or why none).

    Probabilistic scores are used as they are; margins are Platt-scaled on the screened
    records' out-of-sample scores (needs `screen_scores` with both classes among them)."""
    inputs = RuleInputs.coerce(inputs)
    if inputs.pool_scores is None:
        return None, "no classifier has scored the pool yet"
    if inputs.probabilistic:
        return np.asarray(inputs.pool_scores, dtype=float), "model"
    if inputs.screen_scores is None:
        return None, "the scores are margins and the screened records' scores are unknown"
    from triage.learn.calibration import calibrate_pool

    p = calibrate_pool(inputs.screen_scores, history.labels, inputs.pool_scores)
    if p is None:
        return None, "too few screened records with scores of both classes to calibrate the margins"
    return p, "platt"


def quantci(history: History, inputs: RuleInputs | np.ndarray | None, target: float = 0.95,
            confidence: float = 0.95) -> RuleResult:
    """QuantCI (see module docstring). inputs: RuleInputs (or a bare array of pool
    probabilities, shape (history.n_pool,)); without usable scores the result says why and
    does not stop."""
    check_target(target, confidence)
    r = history.n_relevant
    if history.n_pool == 0:
        return RuleResult(NAME, True, False, recall_estimate=1.0, recall_lower=1.0, recall_upper=1.0,
                          confidence=confidence, est_relevant_remaining=0.0, extra={}, assumption=ASSUMPTION,
                          summary=ALL_SCREENED)
    pool_probs, how = pool_probabilities(history, inputs)
    if pool_probs is None:
        return RuleResult(NAME, False, False, confidence=confidence, extra={"calibration": None},
                          assumption=ASSUMPTION, summary=f"QuantCI cannot estimate yet: {how}.")
    p = np.asarray(pool_probs, dtype=float)
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1):
        raise ValueError("quantci needs probabilities in [0, 1]")
    rem = float(p.sum())
    sd = float(np.sqrt((p * (1 - p)).sum()))
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    hi_rem, lo_rem = rem + z * sd, max(rem - z * sd, 0.0)
    est = r / (r + rem) if r + rem > 0 else None
    lower = r / (r + hi_rem) if r + hi_rem > 0 else None
    upper = r / (r + lo_rem) if r + lo_rem > 0 else None
    stop = lower is not None and lower >= target and r > 0
    summary = (f"{'Stop' if stop else 'Continue'}: the model expects {rem:.1f} relevant records in the pool "
               f"(recall {pct(est)}, {pct(lower)}-{pct(upper)}). Heuristic: relies on calibrated probabilities"
               f"{' (margins calibrated by Platt scaling)' if how == 'platt' else ''}.")
    return RuleResult(NAME, bool(stop), False, recall_estimate=est, recall_lower=lower, recall_upper=upper,
                      confidence=confidence, est_relevant_remaining=rem,
                      extra={"pool_prob_sum": rem, "pool_prob_sd": sd, "z": z, "calibration": how},
                      assumption=ASSUMPTION_PLATT if how == "platt" else ASSUMPTION, summary=summary)
