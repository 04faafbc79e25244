"""Where each stopping rule would have stopped a simulated review.

Replays the rules of `triage.stopping` over the simulated history (a rule is a pure function of
`history.at(k)`) and reports, per rule, the screening decisions made when it first says stop
and the recall reached then. Conventions follow `triage.stopping`: "screened" counts RANKED and
RANDOM decisions (priors not counted); recall is over all relevant records of the dataset,
relevant priors included (what a reviewer would have found).

A simulation that found every relevant record (by default it stops at the last one) is extended
with the rest of the pool as irrelevant decisions before the replay: whatever order the model
would have served them in, every one of them is irrelevant, so rules that read the label
sequence stop exactly where they would have in a full run. A rule that never says stop gets
{"screened": None, "recall": None}.
"""

from __future__ import annotations

import numpy as np

from triage.history import PRIOR, RANKED, History


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
    if history.n_relevant == n_rel and history.n_pool:
        rest = np.setdiff1d(np.arange(history.n_records), history.record_ids)
        history = history.append(rest, np.zeros(len(rest)), RANKED, -1)
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
