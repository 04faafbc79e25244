"""One round: train on the labelled records, score and rank the pool.

`run_round` is THE round: live screening (`triage next`, `triage screen`, `triage rank`) and
simulation (`triage simulate`) all call it, so a benchmark measures the code reviewers use."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from triage.features.matrix import FusedFeatures, stack_rows
from triage.learn.balance import sample_weights
from triage.learn.classifiers import is_probabilistic, make_classifier, relevance_scores
from triage.learn.fusion import fuse
from triage.learn.presets import Preset
from triage.registry import Spec
from triage.learn.queriers import make_querier
from triage.history import History


#: Before a classifier exists (cold start, random order) the pool is served best score first.
MAX_QUERIER = Spec("max")


@dataclass(frozen=True)
class RoundResult:
    """ranking: pool row indices, best first (int64). scores: float64 for every row of X
    (labelled rows included; NaN where not computed); with fused features the fused score
    (`triage.learn.fusion`). probabilities: calibrated-ish P(relevant) for the pool rows in
    `ranking` order when the classifier gives them, else None (always None when fused).
    model: "classifier" once both classes are labelled, "cold" (similarity to the question /
    known relevant records) or "random" before that. features: which of the preset's features
    ranked ("full", or "tfidf" while the embedding pass was still running; set by the engine).
    combine: "concat" (one classifier on one matrix, a single block included) or "rrf" /
    "zscore" (one classifier per block, scores fused)."""

    ranking: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray | None
    model: str
    n_train: int
    seconds: float
    features: str = "full"
    combine: str = "concat"


def run_round(X, history: History, preset: Preset, rng: np.random.Generator,
              cold_scores: np.ndarray | None = None, question_row=None) -> RoundResult:
    """Rank the pool. `X`: (n_records, d) feature matrix whose rows are the history's record ids
    (row indices); `rng`: this round's generator (derive it as default_rng([seed, round])).

    `question_row`: features (1, d) of the review question, trained as one more relevant record in
    every round: the topic statement as a synthetic relevant document (Cormack & Grossman 2015,
    AutoTAR, arXiv:1504.06868). The classifier can then start from the first exclusion, and a
    single odd include (a title without abstract) does not steer the ranking on its own.
    `preset.pseudo_negatives` > 0: that many random pool records also train as irrelevant
    (AutoTAR; drawn from `rng`), and stay in the pool to be ranked.
    X (and question_row) may be `FusedFeatures`: then one classifier per block (same training
    rows, weights and random_state) and the pool is ranked by the blocks' fused score."""
    t0 = time.perf_counter()
    n = X.shape[0]
    if history.n_records != n:
        raise ValueError(f"history counts {history.n_records} records, features have {n} rows")
    labelled = history.record_ids
    y = history.labels
    in_pool = np.ones(n, dtype=bool)
    in_pool[labelled] = False
    pool = np.flatnonzero(in_pool)
    scores = np.full(n, np.nan)
    if question_row is not None:
        y = np.append(y, np.int8(1))
    fused = isinstance(X, FusedFeatures)
    if len(np.unique(y)) == 2:
        random_state = int(rng.integers(2**31 - 1))
        fake = None
        if preset.pseudo_negatives and len(pool):
            fake = np.sort(rng.choice(pool, size=min(preset.pseudo_negatives, len(pool)), replace=False))
            y = np.append(y, np.zeros(len(fake), np.int8))
        weights = sample_weights(y, preset.balance)
        if len(pool) and fused:
            questions = (None,) * len(X.blocks) if question_row is None else question_row.blocks
            block_scores = [_fit_and_score(b, labelled, q, fake, y, weights, preset, random_state, pool)
                            for b, q in zip(X.blocks, questions)]
            scores[pool] = fuse(X.combine, block_scores, X.shares, X.k_rrf)
        elif len(pool):
            scores[pool] = _fit_and_score(X, labelled, question_row, fake, y, weights, preset, random_state, pool)
        probabilistic = not fused and is_probabilistic(preset.classifier)
        model = "classifier"
    elif cold_scores is not None:
        scores[pool] = cold_scores[pool]
        probabilistic, model = False, "cold"
    else:
        scores[pool] = 0.0
        probabilistic, model = False, "random"
    querier = make_querier(preset.querier if model == "classifier" else MAX_QUERIER, probabilistic)
    ranking = pool[querier(scores[pool], rng)]
    probabilities = scores[ranking] if probabilistic and len(pool) else None
    return RoundResult(ranking.astype(np.int64), scores, probabilities, model, len(labelled),
                       time.perf_counter() - t0, combine=X.combine if fused else "concat")


def _fit_and_score(X, labelled: np.ndarray, question_row, fake: np.ndarray | None, y: np.ndarray,
                   weights: np.ndarray | None, preset: Preset, random_state: int, pool: np.ndarray) -> np.ndarray:
    """Train the preset's classifier on rows `labelled`, then the question's row, then rows `fake`
    (labels `y`, sample `weights`, in that order); the scores (float64) of the `pool` rows."""
    X_train = X[labelled] if question_row is None else stack_rows(X[labelled], question_row)
    if fake is not None:
        X_train = stack_rows(X_train, X[fake])
    clf = make_classifier(preset.classifier, random_state=random_state)
    clf.fit(X_train, y, sample_weight=weights)
    # scoring every row is cheaper than slicing the pool out of a sparse matrix
    return relevance_scores(clf, X)[pool]
