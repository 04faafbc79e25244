"""The gold-label oracle: the labeller of a simulation.

It answers `run_loop`'s labeller calls from the gold labels, exactly like a reviewer would,
and ends the run (by returning fewer labels than asked) when its stop condition is met:
"last_relevant" (every relevant record found), "all" (pool empty) or a number of screening
decisions. It never sees scores or rankings."""

from __future__ import annotations

import numpy as np

from triage.errors import SimulationError

STOP_MODES = ("last_relevant", "all")


class GoldOracle:
    """Labeller answering from `gold` (0/1 per row).

    `stop`: "last_relevant", "all", or an int: the number of records to screen (priors not
    counted). `n_relevant_left`: relevant records still in the pool when screening starts
    (the dataset's relevant records minus relevant priors); used by "last_relevant".
    Side effect: counts answers in `self.n_answered` and relevant answers in `self.n_found`.
    """

    def __init__(self, gold: np.ndarray, stop: str | int, n_relevant_left: int):
        self.gold = np.asarray(gold, dtype=np.int8)
        self.stop = stop
        self.n_relevant_left = int(n_relevant_left)
        self.n_answered = 0
        self.n_found = 0

    def done(self) -> bool:
        if self.stop == "last_relevant":
            return self.n_found >= self.n_relevant_left
        if self.stop == "all":
            return False
        return self.n_answered >= int(self.stop)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        labels = self.gold[rows]
        if self.stop == "last_relevant":
            need = self.n_relevant_left - self.n_found
            hits = np.flatnonzero(labels)
            k = len(rows) if len(hits) < need else int(hits[need - 1]) + 1 if need > 0 else 0
        elif self.stop == "all":
            k = len(rows)
        else:
            k = max(0, min(len(rows), int(self.stop) - self.n_answered))
        labels = labels[:k]
        self.n_answered += k
        self.n_found += int(labels.sum())
        return labels


def check_stop(stop: str | int) -> str | int:
    """Validate a stop condition (raises SimulationError with the allowed values)."""
    if isinstance(stop, (int, np.integer)) and not isinstance(stop, bool):
        if stop < 0:
            raise SimulationError("stop must be a non-negative number of records")
        return int(stop)
    if stop in STOP_MODES:
        return stop
    raise SimulationError(f"stop must be one of {STOP_MODES} or a number of records, not {stop!r}")
