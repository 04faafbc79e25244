"""Cold start: rank records before a classifier can be trained (live projects and simulations
with a review question). Once it can, the question trains as a record: `run_round(question_row=)`."""

from __future__ import annotations

import numpy as np


def similarity_scores(texts: list[str], question: str, known_relevant=()) -> np.ndarray | None:
    """TF-IDF cosine similarity of every text to the question (review question + criteria) and to
    the centroid of the rows marked relevant (max of the two), shape (len(texts),). None when
    there is nothing to compare with (the pool is then ranked at random)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    known = np.asarray(list(known_relevant), dtype=np.int64)
    if not question.strip() and len(known) == 0:
        return None
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
    R = vec.fit_transform(list(texts) + ([question] if question.strip() else []))
    docs = R[: len(texts)]
    scores = np.zeros(len(texts))
    if question.strip():
        scores = np.maximum(scores, (docs @ R[len(texts)].T).toarray().ravel())
    if len(known):
        centroid = np.asarray(docs[known].mean(axis=0))
        scores = np.maximum(scores, np.asarray(docs @ centroid.T).ravel())
    return scores
