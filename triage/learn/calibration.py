"""Calibrating classifier scores (SVM margins) into P(relevant): pure functions, no state.

Platt scaling (Platt 1999, "Probabilistic outputs for support vector machines"), fitted with
the Newton method and the smoothed targets of Lin, Lin & Weng (2007, "A note on Platt's
probabilistic outputs for support vector machines", Machine Learning 68:267-276):
P(relevant | s) = 1 / (1 + exp(A s + B)), targets (N+ + 1) / (N+ + 2) and 1 / (N- + 2).

What it is fitted on matters. The scores must be out of sample: a record's score from a model
trained on it is overconfident. In active learning each screened record was proposed by a
round that had not seen its label, so the score it had in THAT round (`screen_scores` of the
stopping rules' `RuleInputs`) is out of sample. The sample is biased - the ranking proposed the
top-scored records - but the selection depends on the score only, so P(relevant | score) is
still estimated without bias where screened scores exist; below the lowest screened score the
logistic curve extrapolates (an assumption the rules using it state). Margins also drift as the
model trains on more records, so by default only the most recent screened records are used.
"""

from __future__ import annotations

import numpy as np

#: Most recent scored screened records used for the fit (margins drift between early and late rounds).
DEFAULT_RECENT = 500


def platt_fit(scores: np.ndarray, labels: np.ndarray, max_iter: int = 100) -> tuple[float, float]:
    """(A, B) of P = 1 / (1 + exp(A s + B)) by maximum likelihood on Platt's smoothed targets.

    scores: float, shape (n,); labels: 0/1, shape (n,), both classes present or not (the
    smoothed targets keep the fit finite either way). A is negative when higher scores mean
    more relevant."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    if s.shape != y.shape or s.ndim != 1 or not len(s):
        raise ValueError("platt_fit needs two 1-d arrays of equal, non-zero length")
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    A, B = 0.0, float(np.log((n_neg + 1) / (n_pos + 1)))
    sigma = 1e-12

    def nll(a: float, b: float) -> float:
        f = a * s + b
        return float(np.sum(np.where(f >= 0, t * f + np.log1p(np.exp(-f)), (t - 1) * f + np.log1p(np.exp(f)))))

    fval = nll(A, B)
    for _ in range(max_iter):
        f = A * s + B
        p = np.where(f >= 0, np.exp(-f) / (1 + np.exp(-f)), 1 / (1 + np.exp(f)))
        q = 1 - p
        d2 = p * q
        h11, h22, h21 = sigma + np.sum(s * s * d2), sigma + np.sum(d2), np.sum(s * d2)
        d1 = t - p
        g1, g2 = np.sum(s * d1), np.sum(d1)
        if abs(g1) < 1e-5 and abs(g2) < 1e-5:
            break
        det = h11 * h22 - h21 * h21
        dA, dB = -(h22 * g1 - h21 * g2) / det, -(-h21 * g1 + h11 * g2) / det
        gd = g1 * dA + g2 * dB
        step = 1.0
        while step >= 1e-10:  # backtracking line search
            nA, nB = A + step * dA, B + step * dB
            nf = nll(nA, nB)
            if nf < fval + 1e-4 * step * gd:
                A, B, fval = nA, nB, nf
                break
            step /= 2
        else:
            break
    return float(A), float(B)


def platt_apply(params: tuple[float, float], scores: np.ndarray) -> np.ndarray:
    """P(relevant) of `scores` (any shape) under Platt parameters (A, B)."""
    A, B = params
    f = A * np.asarray(scores, dtype=float) + B
    return np.where(f >= 0, np.exp(-f) / (1 + np.exp(-f)), 1 / (1 + np.exp(f)))


def calibrate_pool(screen_scores: np.ndarray, labels: np.ndarray, pool_scores: np.ndarray,
                   recent: int | None = DEFAULT_RECENT, min_per_class: int = 1) -> np.ndarray | None:
    """Calibrated P(relevant) of the pool from the labelled records' out-of-sample scores.

    screen_scores: shape (n_labelled,), the score each labelled record had in the round that
    proposed it, NaN where none (priors, cold-start rounds); labels: 0/1, same shape;
    pool_scores: shape (n_pool,), the current round's scores. `recent`: fit on the last that
    many scored records only (None: all). Returns shape (n_pool,) in [0, 1], or None when fewer
    than `min_per_class` scored records of either class are available."""
    ss = np.asarray(screen_scores, dtype=float)
    y = np.asarray(labels)
    keep = np.flatnonzero(np.isfinite(ss))
    if recent is not None:
        keep = keep[-int(recent):]
    yk = y[keep]
    if int(yk.sum()) < min_per_class or int(len(yk) - yk.sum()) < min_per_class:
        return None
    return platt_apply(platt_fit(ss[keep], yk), np.asarray(pool_scores, dtype=float))
