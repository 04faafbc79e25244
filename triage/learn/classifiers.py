"""Classifiers: plain scikit-learn estimators built from a preset's `[classifier]` table.

Any estimator with `decision_function` or `predict_proba` plugs in; a fresh one per round comes
from `sklearn.base.clone` so no state leaks between rounds."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.svm import LinearSVC

from triage.errors import PresetError

# type -> (estimator class, allowed parameters with defaults)
# liblinear in the dual is ~40x faster than the primal when records << features (TF-IDF).
_CLASSIFIERS = {
    "svm": (LinearSVC, {"C": 1.0, "loss": "squared_hinge", "max_iter": 5000}),
    "logistic": (LogisticRegression, {"C": 1.0, "max_iter": 1000, "solver": "liblinear", "dual": True}),
    "nb": (MultinomialNB, {"alpha": 1.0}),
    "cnb": (ComplementNB, {"alpha": 1.0}),
}


def make_classifier(spec: dict, random_state: int | None = None):
    """An unfitted estimator for a `[classifier]` table, e.g. {"type": "svm", "C": 0.11}."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in _CLASSIFIERS:
        raise PresetError(f"unknown classifier type {kind!r}; choose from {sorted(_CLASSIFIERS)}")
    cls, defaults = _CLASSIFIERS[kind]
    unknown = set(spec) - set(defaults)
    if unknown:
        raise PresetError(f"classifier {kind}: unknown parameter(s) {sorted(unknown)}")
    params = {**defaults, **spec}
    if "random_state" in cls().get_params():
        params["random_state"] = random_state
    return clone(cls(**params))


def relevance_scores(estimator, X) -> np.ndarray:
    """Higher = more likely relevant. Probability of class 1 where available, else the margin.

    X may be a `ConcatFeatures` (blocks not copied into one matrix, for very large pools): then
    the estimator must be linear (coef_, intercept_) and the margin is computed block by block."""
    if hasattr(X, "blocks"):
        if not hasattr(estimator, "coef_") or isinstance(estimator, (MultinomialNB, ComplementNB)):
            raise PresetError("block features (very large pools) need a linear SVM or logistic regression")
        pos = list(estimator.classes_).index(1)
        margin = X.dot(estimator.coef_[0]) + float(estimator.intercept_[0])
        margin = margin if pos == 1 else -margin
        return 1.0 / (1.0 + np.exp(-margin)) if isinstance(estimator, LogisticRegression) else margin
    if hasattr(estimator, "predict_proba") and not isinstance(estimator, LinearSVC):
        return estimator.predict_proba(X)[:, list(estimator.classes_).index(1)].astype(np.float64)
    return np.asarray(estimator.decision_function(X), dtype=np.float64)
