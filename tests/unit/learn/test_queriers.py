import numpy as np
import pytest

from triage.errors import PresetError
from triage.learn.queriers import make_querier, max_query, mixed_query, uncertainty_query


def test_max_orders_descending_and_breaks_ties_with_the_generator():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.2])
    a = max_query(scores, np.random.default_rng(1))
    assert set(a[:2]) == {1, 3} and list(a[2:]) == [2, 4, 0]
    # same generator state -> same order; tie order depends on the generator only
    assert list(a) == list(max_query(scores, np.random.default_rng(1)))
    orders = {tuple(max_query(scores, np.random.default_rng(s))[:2]) for s in range(20)}
    assert orders == {(1, 3), (3, 1)}


def test_uncertainty_puts_boundary_first():
    scores = np.array([-2.0, 0.1, 1.5, -0.05])
    assert list(uncertainty_query(scores, np.random.default_rng(0))) == [3, 1, 2, 0]
    probs = np.array([0.9, 0.45, 0.1])
    assert list(uncertainty_query(probs, np.random.default_rng(0), centre=0.5))[0] == 1


def test_mixed_is_a_permutation_and_mostly_max():
    rng = np.random.default_rng(3)
    scores = rng.random(1000)
    order = mixed_query(scores, np.random.default_rng(4), explore=0.1)
    assert sorted(order) == list(range(1000))
    top = set(np.argsort(-scores)[:100])
    assert 0.75 < len(top & set(order[:100])) / 100 < 0.99
    assert list(mixed_query(scores, np.random.default_rng(4), explore=0.0)) == list(
        max_query(scores, np.random.default_rng(4)))


def test_unknown_querier_is_an_error():
    with pytest.raises(PresetError, match="unknown querier"):
        make_querier({"type": "best"}, probabilistic=False)
