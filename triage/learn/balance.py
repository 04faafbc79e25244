"""Class-imbalance handling: per-sample training weights from a preset's `[balance]` table.

Relevant records are ~1-5 % of a review. `balanced` weights each class so that the relevant
class carries `ratio` times the total weight of the irrelevant class's average share, following
ASReview 2's Balanced balancer (weight of a relevant record = ratio * n_irrelevant / n_relevant
relative to 1 for an irrelevant record, normalised to mean 1)."""

from __future__ import annotations

import numpy as np

from triage.registry import Spec, build, register


@register("balance", "none", {}, "unweighted training")
def _none():
    return lambda y: None


@register("balance", "balanced", {"ratio": 1.0}, "relevant records weighted ratio x n_irrelevant / n_relevant")
def _balanced(ratio: float):
    return lambda y: _balanced_weights(y, float(ratio))


def sample_weights(y: np.ndarray, spec) -> np.ndarray | None:
    """Weights (float64, one per training record) or None for unweighted training.
    `spec`: the preset's balance `Spec`."""
    spec = Spec.of(spec)
    return build("balance", spec.type, spec.params, "[balance]")(y)


def _balanced_weights(y: np.ndarray, ratio: float) -> np.ndarray | None:
    y = np.asarray(y)
    n_pos = int((y == 1).sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    w = np.where(y == 1, ratio * n_neg / n_pos, 1.0)
    return w * (len(y) / w.sum())
