"""QuantCI: model-based recall estimate from calibrated pool probabilities.

Yang, E., Lewis, D. D. & Frieder, O. (2021). Heuristic stopping rules for technology-assisted
review. DocEng '21. arXiv:2106.09871 (rules Quant and QuantCI).

The relevant records left in the pool are estimated by the sum of the model's probabilities,
R_hat = sum p_i, treating each pool record as an independent Bernoulli(p_i), so
Var = sum p_i (1 - p_i). With r_seen relevant found, recall_hat = r_seen / (r_seen + R_hat) and
the interval uses R_hat +/- z sd (z two-sided for `confidence`, 1.96 at 95 %). The rule stops when
the lower end of the recall interval reaches the target. Heuristic: valid only if the
probabilities are calibrated on the pool, which active learning tends to violate.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from triage.stopping.base import ALL_SCREENED, RuleResult, check_target, pct
from triage.history import History

NAME = "quantci"
ASSUMPTION = "The model's probabilities are calibrated on the pool (independent Bernoulli records)."


def quantci(history: History, pool_probs: np.ndarray | None, target: float = 0.95,
            confidence: float = 0.95) -> RuleResult:
    """QuantCI (see module docstring). pool_probs: shape (history.n_pool,), values in [0, 1];
    None gives a 'cannot evaluate' result (stop=False)."""
    check_target(target, confidence)
    r = history.n_relevant
    if history.n_pool == 0:
        return RuleResult(NAME, True, False, 1.0, 1.0, 1.0, confidence, 0.0, {}, ASSUMPTION,
                          ALL_SCREENED)
    if pool_probs is None:
        return RuleResult(NAME, False, False, None, None, None, confidence, None, {}, ASSUMPTION,
                          "QuantCI needs the current model's pool probabilities (none given).")
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
               f"(recall {pct(est)}, {pct(lower)}-{pct(upper)}). Heuristic: relies on calibrated probabilities.")
    return RuleResult(NAME, bool(stop), False, est, lower, upper, confidence, rem,
                      {"pool_prob_sum": rem, "pool_prob_sd": sd, "z": z}, ASSUMPTION, summary)
