"""Metrics against values worked out by hand on tiny orderings (arithmetic in the comments)."""

import math

import numpy as np
import pytest

from triage.simulate import metrics as m
from triage.history import PRIOR, RANKED, History

# Order A: N = 10 screenable records, R = 2 relevant, found at positions 2 and 5.
A = [0, 1, 0, 0, 1, 0, 0, 0, 0, 0]


def test_recall_at_fractions_order_a():
    # 5 %: floor(0.5) = 0 records screened -> 0 / 2 = 0
    assert m.recall_at(A, 10, 2, 0.05) == 0.0
    # 10 %: first 1 record [0] -> 0 / 2 = 0
    assert m.recall_at(A, 10, 2, 0.10) == 0.0
    # 20 %: first 2 records [0, 1] -> 1 / 2 = 0.5
    assert m.recall_at(A, 10, 2, 0.20) == 0.5


def test_wss_order_a():
    # 95 %: need ceil(0.95 * 2) = 2 relevant -> reached at k = 5.
    # WSS@95 = (10 - 5) / 10 - (1 - 0.95) = 0.5 - 0.05 = 0.45
    assert m.wss(A, 10, 2, 0.95) == pytest.approx(0.45)
    # 100 %: k = 5 -> (10 - 5) / 10 - 0 = 0.5
    assert m.wss(A, 10, 2, 1.0) == pytest.approx(0.5)


def test_atd_order_a():
    # positions 2 and 5: mean 3.5 records; as a share of N: 3.5 / 10 = 0.35
    assert m.atd(A, 10, 2) == pytest.approx(0.35)
    assert m.atd(A, 10, 2, absolute=True) == pytest.approx(3.5)


def test_loss_order_a():
    # cumsum = [0,1,1,1,2,2,2,2,2,2] -> sum 15
    # optimal area R * (N - (R - 1) / 2) = 2 * (10 - 0.5) = 19; range R * (N - R) = 2 * 8 = 16
    # loss = (19 - 15) / 16 = 0.25
    assert m.loss(A, 10, 2) == pytest.approx(0.25)


def test_loss_bounds_perfect_and_worst():
    # perfect [1,1,0,0]: cumsum [1,2,2,2] sum 7; optimal 2 * (4 - 0.5) = 7 -> 0
    assert m.loss([1, 1, 0, 0], 4, 2) == pytest.approx(0.0)
    # worst [0,0,1,1]: cumsum [0,0,1,2] sum 3; (7 - 3) / (2 * 2) = 1
    assert m.loss([0, 0, 1, 1], 4, 2) == pytest.approx(1.0)


def test_records_needed_order_b():
    # Order B: N = 20, R = 5, relevant at positions 1, 3, 4, 8, 12 (then 8 irrelevant).
    b = np.zeros(20, int)
    b[[0, 2, 3, 7, 11]] = 1
    # 80 %: ceil(4.0) = 4 relevant -> position 8; 90 %: ceil(4.5) = 5 -> 12
    # 95 %: ceil(4.75) = 5 -> 12; 100 %: 5 -> 12
    assert m.records_needed(b, 20, 5, 0.80) == 8
    assert m.records_needed(b, 20, 5, 0.90) == 12
    assert m.records_needed(b, 20, 5, 0.95) == 12
    assert m.records_needed(b, 20, 5, 1.00) == 12
    # recall@10 %: first floor(2.0) = 2 records [1, 0] -> 1 / 5 = 0.2
    # recall@20 %: first 4 records [1, 0, 1, 1] -> 3 / 5 = 0.6
    assert m.recall_at(b, 20, 5, 0.10) == pytest.approx(0.2)
    assert m.recall_at(b, 20, 5, 0.20) == pytest.approx(0.6)
    # WSS@95 = (20 - 12) / 20 - 0.05 = 0.4 - 0.05 = 0.35
    assert m.wss(b, 20, 5, 0.95) == pytest.approx(0.35)
    # ATD = mean(1, 3, 4, 8, 12) / 20 = 28 / 5 / 20 = 0.28
    assert m.atd(b, 20, 5) == pytest.approx(0.28)
    # loss: cumsum over 20 = 1,1,2,3,3,3,3,4,4,4,4,5 (12 values, sum 37) + 8 * 5 = 77
    # optimal 5 * (20 - 2) = 90; range 5 * 15 = 75 -> (90 - 77) / 75 = 13 / 75
    assert m.loss(b, 20, 5) == pytest.approx(13 / 75)


def test_truncated_order_equals_full_order_when_all_found():
    # Stopping at the last relevant record gives the same metrics as screening everything.
    full = m.compute_metrics(A, 10, 2)
    cut = m.compute_metrics(A[:5], 10, 2)
    for key in ("recall_5", "recall_10", "recall_20", "wss_95", "wss_100", "atd", "loss", "n_for_100"):
        assert getattr(full, key) == getattr(cut, key)
    assert cut.screened == 5 and full.screened == 10


def test_unfinished_order_completed_in_worst_case():
    # [0, 1] screened of N = 6, R = 2: the missing relevant record goes last (position 6).
    # n_for_100 is None (never reached by the run); WSS@100 uses the completion: (6 - 6) / 6 = 0
    met = m.compute_metrics([0, 1], 6, 2)
    assert met.n_for_100 is None and met.found == 1
    assert met.wss_100 == pytest.approx(0.0)
    # ATD = mean(2, 6) / 6 = 4 / 6
    assert met.atd == pytest.approx(4 / 6)


def test_compute_metrics_rrf_equals_recall_10_and_keys():
    met = m.compute_metrics(A, 10, 2)
    d = met.to_dict()
    assert d["rrf_10"] == d["recall_10"]
    assert d["records"] == 10 and d["relevant"] == 2 and d["n_for_80"] == 5


def test_nan_and_errors():
    assert math.isnan(m.loss([0, 0], 2, 0))
    assert math.isnan(m.atd([0, 0], 2, 0))
    with pytest.raises(ValueError):
        m.compute_metrics([0, 2], 5, 1)
    with pytest.raises(ValueError):
        m.compute_metrics([1, 1], 5, 1)


def test_metrics_from_history_excludes_priors():
    # 8 rows; gold relevant rows 0, 3, 6. Priors: row 0 (relevant) and row 1 (irrelevant).
    # Screenable N = 6, R = 2 (rows 3 and 6). Screening order: 5, 3, 2, 6.
    # Relevant at positions 2 and 4 -> ATD = 3 / 6 = 0.5; WSS@100 = (6 - 4) / 6 = 1/3
    gold = np.array([1, 0, 0, 1, 0, 0, 1, 0])
    h = History.empty(8).append([0, 1], [1, 0], PRIOR, -1).append([5, 3, 2, 6], [0, 1, 0, 1], RANKED, 0)
    met = m.metrics_from_history(h, gold)
    assert (met.records, met.relevant, met.screened, met.found) == (6, 2, 4, 2)
    assert met.atd == pytest.approx(0.5)
    assert met.wss_100 == pytest.approx(1 / 3)
    same = m.metrics_from_order([0, 1, 5, 3, 2, 6], gold, prior_ids=[0, 1])
    assert same == met
