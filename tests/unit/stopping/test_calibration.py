"""Platt scaling of margins (triage.learn.calibration) and QuantCI on margins."""

import numpy as np
import pytest

from triage.history import PRIOR, RANKED, History
from triage.learn.calibration import calibrate_pool, platt_apply, platt_fit
from triage.stopping import RuleInputs, quantci


def test_platt_two_groups_by_hand():
    # two score values, 10 records each: the smoothed targets 11/12 and 1/12 are fitted exactly,
    # so P(relevant | s = 1) = 11/12: A = -ln 11, B = 0
    s = np.array([-1.0] * 10 + [1.0] * 10)
    y = np.array([0] * 10 + [1] * 10)
    A, B = platt_fit(s, y)
    assert A == pytest.approx(-np.log(11), abs=1e-4) and B == pytest.approx(0.0, abs=1e-4)
    assert platt_apply((A, B), np.array([1.0]))[0] == pytest.approx(11 / 12, abs=1e-4)


def test_platt_one_class_stays_finite():
    A, B = platt_fit(np.array([0.5, 1.0, 2.0]), np.array([1, 1, 1]))
    p = platt_apply((A, B), np.array([-5.0, 0.0, 5.0]))
    assert np.all(np.isfinite(p)) and np.all((p > 0) & (p < 1))


def test_calibrate_pool_needs_both_classes_and_uses_recent_scores():
    ss = np.array([np.nan, 1.0, -1.0, 0.8, -0.9])
    assert calibrate_pool(ss, np.array([1, 1, 1, 1, 1]), np.zeros(3)) is None
    p = calibrate_pool(ss, np.array([1, 1, 0, 1, 0]), np.array([-2.0, 0.0, 2.0]))
    assert p.shape == (3,) and p[0] < p[1] < p[2]
    # only the last 2 scored records: one of each class
    p2 = calibrate_pool(ss, np.array([1, 1, 0, 1, 0]), np.array([0.0]), recent=2)
    assert p2 is not None


def test_quantci_calibrates_margins():
    labels = [1] + [1, 0] * 10 + [0] * 30
    h = History.from_lists(range(len(labels)), labels, [PRIOR] + [RANKED] * (len(labels) - 1),
                           [0] * len(labels), 300)
    screen = np.where(np.array(labels) == 1, 0.5, -0.5).astype(float)
    screen[0] = np.nan
    pool = np.linspace(-2, -0.5, 249)
    r = quantci(h, RuleInputs(pool, False, screen))
    probs = calibrate_pool(screen, np.array(labels), pool)
    assert r.extra["calibration"] == "platt"
    assert r.est_relevant_remaining == pytest.approx(probs.sum())
    no = quantci(h, RuleInputs(pool, False, None))
    assert not no.stop and "margins" in no.summary
