"""Where each stopping rule would have stopped a simulated review.

Replays the rules of `triage.stopping` over the simulated history (a rule is a pure function of
`history.at(k)`) and reports, per rule, the screening decisions made when it first says stop
and the recall reached then. Conventions follow `triage.stopping`: "screened" counts RANKED and
RANDOM decisions (priors not counted); recall is over all relevant records of the dataset,
relevant priors included (what a reviewer would have found). A rule that never says stop
within the simulated history gets {"screened": None, "recall": None}: the simulation ended
(by default at the last relevant record) before the rule fired.
"""

from __future__ import annotations

import numpy as np

from triage.store.history import PRIOR, History


def stopping_summary(history: History, gold: np.ndarray, target: float = 0.95,
                     confidence: float = 0.95, check_every: int = 1) -> dict:
    """rule name -> {"screened": int | None, "recall": float | None} for every registered rule
    (`triage.stopping.REGISTRY`, which includes "default"; the default entry also names the
    rule it stands for under "rule"). `check_every`: consult the rules once per batch."""
    from triage.stopping import REGISTRY, first_stop
    from triage.stopping.rules import DEFAULT_DESCRIPTION

    gold = np.asarray(gold)
    n_rel = int(gold.sum())
    n_prior = int((history.origins == PRIOR).sum())
    out: dict = {}
    for name in sorted(REGISTRY):
        k = first_stop(history, name, check_every=check_every, target=target, confidence=confidence)
        if k is None:
            out[name] = {"screened": None, "recall": None}
        else:
            k = int(k)
            out[name] = {"screened": max(0, k - n_prior),
                         "recall": float(history.labels[:k].sum() / n_rel) if n_rel else None}
    if "default" in out:
        out["default"]["rule"] = DEFAULT_DESCRIPTION
    return out
