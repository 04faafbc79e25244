"""The label-and-retrain loop: rank, hand a batch to a labeller, record, repeat.

The labeller is a reviewer (terminal UI) or, in simulation, the gold-label oracle; both go
through this loop and `run_round`. Round r uses `np.random.default_rng([seed, r])`, so a
resumed run equals an uninterrupted one."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from triage.learn.presets import Preset
from triage.learn.round import RoundResult, run_round
from triage.history import RANKED, History


class Labeller(Protocol):
    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """Labels (1 relevant / 0 irrelevant) for `rows`, in order. May return fewer labels
        than rows (the reviewer stopped early); the rest stay in the pool."""


def round_rng(seed: int, round_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, round_index])


def run_loop(X, history: History, preset: Preset, seed: int, labeller: Labeller, batch_size: int | None,
             stop: Callable[[History], bool], cold_scores: np.ndarray | None = None,
             on_round: Callable[[int, RoundResult, History], None] | None = None,
             first_round: int = 0, anchor=None) -> History:
    """Run rounds until `stop(history)` is true, the pool is empty or the labeller gives no label.

    `batch_size` None follows the preset (`Preset.batch_for`); `cold_scores` and `anchor` (the
    review question's features) go to `run_round`. Returns the extended history (the input
    history is not modified)."""
    r = first_round
    while history.n_pool > 0 and not stop(history):
        result = run_round(X, history, preset, round_rng(seed, r), cold_scores, anchor)
        if on_round is not None:
            on_round(r, result, history)
        batch = result.ranking[:batch_size or preset.batch_for(len(history))]
        labels = np.asarray(labeller(batch), dtype=np.int8)
        if len(labels) == 0:
            break
        history = history.append(batch[:len(labels)], labels, RANKED, r)
        r += 1
    return history
