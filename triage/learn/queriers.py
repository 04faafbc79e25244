"""Queriers turn pool scores into a screening order and know nothing else (cf. ASReview).

Every querier sorts stably, breaking ties with the round's generator, so the same scores and
generator give the same order."""

from __future__ import annotations

import numpy as np

from triage.errors import PresetError
from triage.registry import Spec, build, register


def _order(keys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices sorting `keys` descending; ties broken by a random permutation from `rng`."""
    tiebreak = rng.permutation(len(keys))
    return np.lexsort((tiebreak, -keys))


def max_query(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Most-likely-relevant first (certainty-based sampling)."""
    return _order(scores, rng)


def uncertainty_query(scores: np.ndarray, rng: np.random.Generator, centre: float = 0.0) -> np.ndarray:
    """Closest to the decision boundary first (`centre`: 0 for margins, 0.5 for probabilities)."""
    return _order(-np.abs(scores - centre), rng)


def mixed_query(scores: np.ndarray, rng: np.random.Generator, explore: float = 0.05) -> np.ndarray:
    """Mostly max, with a share `explore` of positions given to random pool records.

    Each position is independently an exploration slot with probability `explore`."""
    order = _order(scores, rng)
    n = len(order)
    explore_slot = rng.random(n) < explore
    k = int(explore_slot.sum())
    if k == 0:
        return order
    random_pick = rng.choice(n, size=k, replace=False)
    is_random = np.zeros(n, dtype=bool)
    is_random[random_pick] = True
    rest = order[~np.isin(order, random_pick)]
    out = np.empty(n, dtype=order.dtype)
    out[explore_slot] = rng.permutation(random_pick)
    out[~explore_slot] = rest
    return out


@register("querier", "max", {}, "most likely relevant first")
def _max(probabilistic: bool = False):
    return max_query


@register("querier", "uncertainty", {}, "closest to the decision boundary first")
def _uncertainty(probabilistic: bool = False):
    centre = 0.5 if probabilistic else 0.0
    return lambda s, rng: uncertainty_query(s, rng, centre)


@register("querier", "mixed", {"explore": 0.05}, "max, with a share `explore` of random positions")
def _mixed(explore: float, probabilistic: bool = False):
    if not 0 <= explore <= 1:
        raise PresetError("querier mixed: explore must be between 0 and 1")
    return lambda s, rng: mixed_query(s, rng, float(explore))


def make_querier(spec, probabilistic: bool):
    """A function (scores, rng) -> order for the preset's querier `Spec`."""
    spec = Spec.of(spec)
    return build("querier", spec.type, spec.params, "[querier]", probabilistic=probabilistic)
