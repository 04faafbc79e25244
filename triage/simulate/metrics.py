"""Screening-performance metrics: pure functions of a labelling order.

Input everywhere is `labels`: the gold labels (1 relevant, 0 irrelevant) of the screened
records in the order they were screened, **prior records excluded**, plus the size of the
screenable set. Conventions (identical for triage and ASReview runs, see
benchmarks/compare_asreview.py; ASReview Insights also drops priors by default):

* ``n_records`` (N) and ``n_relevant`` (R) count the records that could be screened, i.e. the
  dataset minus the prior records; R excludes relevant priors.
* A run that stopped before screening all N records is completed in the **worst case order**:
  the unscreened irrelevant records first, then the unscreened relevant ones. A run stopped at
  its last relevant record therefore gets exactly the values of a full run.
* ``k`` counts screened records (1-based positions in the order).

Definitions:

* recall@p  = (relevant among the first floor(p*N) screened) / R  (ASReview Insights "recall").
* RRF@10    = recall@10% (relevant records found after screening 10 %, share of all relevant).
* n_at(r)   = smallest k whose first k records hold at least ceil(r*R) relevant records.
* WSS@r     = (N - n_at(r)) / N - (1 - r)  (Cohen et al. 2006: (TN + FN) / N - (1 - r) at
  the point recall r is first reached; TN + FN are the records left unscreened).
* ATD       = mean over the R relevant records of (k_i / N), k_i the position at which
  relevant record i was screened (ASReview Insights' "average time to discovery" is the mean
  of k_i in records; ours divides by N so datasets of different size can be averaged;
  `atd_records` gives the records version).
* loss      = ASReview's normalised loss (asreview 2/3 `asreview.metrics.loss`):
  (R * (N - (R - 1) / 2) - sum_k cumrel(k)) / (R * (N - R)), where cumrel(k) is the number of
  relevant among the first k records: 0 for the perfect order, 1 for the worst one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

NEEDED_FOR = (0.80, 0.90, 0.95, 1.00)


@dataclass(frozen=True)
class Metrics:
    """All metrics of one run. Fractions are in [0, 1]; `n_for_*` are records screened
    (priors excluded) to reach that recall, None if the run never reached it."""

    records: int  # N: screenable records (dataset minus priors)
    relevant: int  # R: relevant records among them
    screened: int  # records actually screened by the run
    found: int  # relevant records found by the run
    recall_5: float
    recall_10: float
    recall_20: float
    rrf_10: float
    wss_95: float
    wss_100: float
    atd: float
    atd_records: float
    loss: float
    n_for_80: int | None
    n_for_90: int | None
    n_for_95: int | None
    n_for_100: int | None

    def to_dict(self) -> dict:
        return asdict(self)


def _check(labels, n_records: int, n_relevant: int) -> np.ndarray:
    y = np.asarray(labels, dtype=np.int64).ravel()
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if y.size > n_records:
        raise ValueError(f"{y.size} labels but only {n_records} records")
    if int(y.sum()) > n_relevant:
        raise ValueError(f"order holds {int(y.sum())} relevant records, n_relevant is {n_relevant}")
    if n_relevant - int(y.sum()) > n_records - y.size:
        raise ValueError("more relevant records left than unscreened records")
    return y


def complete_order(labels, n_records: int, n_relevant: int) -> np.ndarray:
    """The labelling order extended to all N records in the worst case order (unscreened
    irrelevant records first, then the unscreened relevant ones)."""
    y = _check(labels, n_records, n_relevant)
    left_rel = n_relevant - int(y.sum())
    left_irr = n_records - y.size - left_rel
    return np.concatenate([y, np.zeros(left_irr, np.int64), np.ones(left_rel, np.int64)])


def recall_at(labels, n_records: int, n_relevant: int, fraction: float) -> float:
    """Share of relevant records found within the first floor(fraction * N) records."""
    y = complete_order(labels, n_records, n_relevant)
    if n_relevant == 0:
        return float("nan")
    k = int(math.floor(fraction * n_records + 1e-9))
    return float(y[:k].sum() / n_relevant)


def records_needed(labels, n_records: int, n_relevant: int, recall: float) -> int | None:
    """Records screened (1-based count) until `recall` of the R relevant were found; None when
    the screened part of the order never reaches it (the completion is not counted)."""
    y = _check(labels, n_records, n_relevant)
    if n_relevant == 0:
        return None
    need = max(1, math.ceil(recall * n_relevant - 1e-9))
    hits = np.flatnonzero(y)
    if len(hits) < need:
        return None
    return int(hits[need - 1] + 1)


def wss(labels, n_records: int, n_relevant: int, recall: float) -> float:
    """Work saved over sampling at `recall` (Cohen 2006): (N - n_at(r)) / N - (1 - r).
    Uses the worst-case completion when the run stopped before reaching r."""
    if n_relevant == 0:
        return float("nan")
    y = complete_order(labels, n_records, n_relevant)
    k = records_needed(y, n_records, n_relevant, recall)
    return float((n_records - k) / n_records - (1.0 - recall))


def atd(labels, n_records: int, n_relevant: int, absolute: bool = False) -> float:
    """Average time to discovery: mean position k_i (1-based) of the relevant records, divided
    by N unless `absolute` (then in records, as ASReview Insights reports it)."""
    if n_relevant == 0:
        return float("nan")
    y = complete_order(labels, n_records, n_relevant)
    positions = np.flatnonzero(y) + 1
    mean = float(positions.mean())
    return mean if absolute else mean / n_records


def loss(labels, n_records: int, n_relevant: int) -> float:
    """ASReview's normalised loss of the recall curve (0 perfect, 1 worst); NaN when R is 0
    or R equals N (no ordering can be better or worse)."""
    if n_relevant == 0 or n_relevant == n_records:
        return float("nan")
    y = complete_order(labels, n_records, n_relevant)
    R, N = n_relevant, n_records
    actual = float(np.cumsum(y).sum())
    return float((R * (N - (R - 1) / 2) - actual) / (R * (N - R)))


def compute_metrics(labels, n_records: int, n_relevant: int) -> Metrics:
    """Every metric of one labelling order (priors excluded; see the module docstring)."""
    y = _check(labels, n_records, n_relevant)
    needed = {r: records_needed(y, n_records, n_relevant, r) for r in NEEDED_FOR}
    r10 = recall_at(y, n_records, n_relevant, 0.10)
    return Metrics(
        records=int(n_records), relevant=int(n_relevant), screened=int(y.size), found=int(y.sum()),
        recall_5=recall_at(y, n_records, n_relevant, 0.05), recall_10=r10,
        recall_20=recall_at(y, n_records, n_relevant, 0.20), rrf_10=r10,
        wss_95=wss(y, n_records, n_relevant, 0.95), wss_100=wss(y, n_records, n_relevant, 1.0),
        atd=atd(y, n_records, n_relevant), atd_records=atd(y, n_records, n_relevant, absolute=True),
        loss=loss(y, n_records, n_relevant),
        n_for_80=needed[0.80], n_for_90=needed[0.90], n_for_95=needed[0.95], n_for_100=needed[1.00],
    )


def metrics_from_order(order, gold, prior_ids) -> Metrics:
    """Metrics of a run given its screening order (row indices, priors excluded or not: any id
    in `prior_ids` is dropped), the gold labels of all rows and the prior row ids."""
    gold = np.asarray(gold, dtype=np.int64)
    prior = np.unique(np.asarray(list(prior_ids), dtype=np.int64))
    order = np.asarray(order, dtype=np.int64)
    order = order[~np.isin(order, prior)]
    n_records = len(gold) - len(prior)
    n_relevant = int(gold.sum() - gold[prior].sum())
    return compute_metrics(gold[order], n_records, n_relevant)


def metrics_from_history(history, gold=None) -> Metrics:
    """Metrics of a simulation History (record ids are row indices; PRIOR origins excluded).
    `gold` (labels of all rows) is needed for R unless the history covers every record."""
    from triage.history import PRIOR

    prior_mask = history.origins == PRIOR
    prior = history.record_ids[prior_mask]
    if gold is None:
        if len(history) != history.n_records:
            raise ValueError("gold labels are needed for a history that does not cover every record")
        gold = np.zeros(history.n_records, np.int64)
        gold[history.record_ids] = history.labels
    return metrics_from_order(history.record_ids[~prior_mask], gold, prior)
