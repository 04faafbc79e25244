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

Rules that read the model's scores (counting_process_clf, quantci, and the default when its
estimate does) get them from the run's score snapshots (`simulation_inputs`): at prefix k, the
latest snapshot taken at or before k, restricted to that prefix's pool. Rules without a
vectorised replay are consulted every min(25, max(1, n_records // 100)) screened records, as
benchmarks/stopping_eval.py does (a round's batch in live use).
"""

from __future__ import annotations

import numpy as np

from triage.history import PRIOR, RANKED, History


def simulation_inputs(snapshots: list, screen_scores: np.ndarray | None, probabilistic: bool,
                      history: History):
    """k -> RuleInputs of `history.at(k)` from a simulation's score snapshots [(k, scores of
    every row, NaN for labelled rows)] and per-entry screen scores; None without snapshots."""
    from triage.stopping import RuleInputs

    if not snapshots:
        return None
    ks = [int(k) for k, _ in snapshots]
    screen = np.full(len(history), np.nan)
    if screen_scores is not None:
        screen[:len(screen_scores)] = screen_scores

    def at(k: int):
        i = int(np.searchsorted(ks, k, side="right")) - 1
        if i < 0:
            return None
        mask = np.ones(history.n_records, dtype=bool)
        mask[history.record_ids[:k]] = False
        sc = np.asarray(snapshots[i][1], dtype=float)[mask]
        return RuleInputs(np.nan_to_num(sc, nan=float(np.nanmin(snapshots[i][1]))), probabilistic, screen[:k])
    return at


def stopping_summary(history: History, gold: np.ndarray, target: float = 0.95,
                     confidence: float = 0.95, check_every: int = 1, snapshots: list | None = None,
                     screen_scores: np.ndarray | None = None, probabilistic: bool = False) -> dict:
    """rule name -> {"screened": int | None, "recall": float | None} for every registered rule
    (`triage.stopping.REGISTRY`, which includes "default"; the default entry also names the
    rule it stands for under "rule"). `check_every`: consult the rules once per batch.
    snapshots / screen_scores / probabilistic: the run's scores (`SimulationResult` fields of the
    same names) for the rules reading scores (see `simulation_inputs`)."""
    from triage.stopping import REGISTRY, first_stop, make_rule
    from triage.stopping.rules import DEFAULT_DESCRIPTION

    gold = np.asarray(gold)
    n_rel = int(gold.sum())
    n_prior = int((history.origins == PRIOR).sum())
    if history.n_relevant == n_rel and history.n_pool:
        rest = np.setdiff1d(np.arange(history.n_records), history.record_ids)
        history = history.append(rest, np.zeros(len(rest)), RANKED, -1)
    out: dict = {}
    inputs_at = simulation_inputs(snapshots or [], screen_scores, probabilistic, history)
    step = max(check_every, min(25, max(1, history.n_records // 100)))
    for name in sorted(REGISTRY):
        rule = make_rule(name, target, confidence)
        k = first_stop(history, rule, inputs_at, check_every=check_every if rule.replay is not None else step)
        if k is None:
            out[name] = {"screened": None, "recall": None}
        else:
            k = int(k)
            out[name] = {"screened": max(0, k - n_prior),
                         "recall": float(history.labels[:k].sum() / n_rel) if n_rel else None}
    if "default" in out:
        out["default"]["rule"] = DEFAULT_DESCRIPTION
    return out
