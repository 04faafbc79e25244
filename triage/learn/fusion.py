"""Score fusion: one pool score from the scores of several per-block classifiers.

A preset with `[features] combine = "rrf"` or `"zscore"` trains one classifier per feature block
(TF-IDF, embeddings; `triage.features.matrix.FusedFeatures`) and ranks the pool by the fused
score. Lexical and neural rankers are complementary for screening prioritisation when fused
(Wang, Scells, Koopman & Zuccon, "Neural rankers for effective screening prioritisation in
medical systematic review literature search", ADCS 2022). Fused scores are neither
probabilities nor margins: higher = rank earlier."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata


def rrf(block_scores: Sequence[np.ndarray], k: float, shares: Sequence[float] | None = None) -> np.ndarray:
    """Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009): per record, the sum over
    blocks of share / (k + rank), rank 1 = that block's highest score; shares default to 1 (the
    plain RRF presets use). Tied scores share their average rank. block_scores: one float array
    (n,) per block, same records in the same order. Returns float64 (n,), in (0, n_blocks / (k + 1)]
    with unit shares."""
    shares = [1.0] * len(block_scores) if shares is None else shares
    return np.sum([share / (k + rankdata(-np.asarray(s, dtype=np.float64), method="average"))
                   for s, share in zip(block_scores, shares)], axis=0)


def zscore(block_scores: Sequence[np.ndarray], shares: Sequence[float]) -> np.ndarray:
    """Per record, the sum over blocks of share x (score - mean) / sd, mean and sd over the n
    records given (the pool). A block whose scores are all equal adds 0. Returns float64 (n,)."""
    out = np.zeros(len(block_scores[0]))
    for s, share in zip(block_scores, shares):
        s = np.asarray(s, dtype=np.float64)
        sd = s.std()
        if sd > 0:
            out += share * (s - s.mean()) / sd
    return out


def fuse(combine: str, block_scores: Sequence[np.ndarray], shares: Sequence[float], k_rrf: float) -> np.ndarray:
    """The fused pool score of `combine` ("rrf" or "zscore"; see those functions)."""
    if combine == "rrf":
        return rrf(block_scores, k_rrf, shares)
    if combine == "zscore":
        return zscore(block_scores, shares)
    raise ValueError(f"unknown score fusion {combine!r}")
