"""Live screening on a project: features for its records, rounds stored with everything needed
to reproduce them, and the next batch to screen. Thin glue over `run_round`."""

from __future__ import annotations

import platform
from dataclasses import dataclass

import numpy as np

from triage import __version__
from triage.errors import ProjectError
from triage.learn.cold import similarity_scores
from triage.learn.loop import round_rng
from triage.learn.presets import DEFAULT_PRESET, Preset, load_preset
from triage.learn.round import RoundResult, run_round
from triage.history import History
from triage.store.project import Project, RoundRow


def library_versions() -> dict:
    import scipy
    import sklearn

    return {"triage": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def project_preset(project: Project, name: str | None = None) -> Preset:
    """The named preset, else the project's (set at init), else the default."""
    return load_preset(name or project.meta("preset") or DEFAULT_PRESET)


@dataclass
class ProjectMatrix:
    """Features of a project's records: row i is record `ids[i]`. `query`: the review question +
    criteria ("" if neither is set); `anchor`: its features (1, d) in the same space, or None."""

    ids: np.ndarray
    X: object  # scipy.sparse.csr_matrix or np.ndarray, (n_records, d)
    texts: list
    query: str = ""
    anchor: object = None

    def rows(self, record_ids) -> np.ndarray:
        pos = np.searchsorted(self.ids, record_ids)
        return pos.astype(np.int64)


def project_matrix(project: Project, preset: Preset, progress=None, embedder=None) -> ProjectMatrix:
    from triage.features.matrix import build_features_with_query
    from triage.features.tfidf import prune_cache

    ids, texts = project.texts()
    query = project_query(project)
    X, anchor = build_features_with_query(texts, query, preset.features, project.directory / "cache",
                                          progress=progress, embedder=embedder)
    prune_cache(project.directory / "cache", keep=2)  # older corpora (before an import or question edit)
    return ProjectMatrix(ids, X, texts, query, anchor)


def history_rows(project: Project, matrix: ProjectMatrix) -> History:
    """The project's history with record ids replaced by feature-matrix rows."""
    h = project.history()
    return History(matrix.rows(h.record_ids), h.labels, h.origins, h.rounds, len(matrix.ids))


def cold_start_scores(matrix: ProjectMatrix, history: History) -> np.ndarray | None:
    """Before a classifier can be trained: similarity to the review question, eligibility criteria
    and records already marked relevant (`similarity_scores`)."""
    return similarity_scores(matrix.texts, matrix.query, history.record_ids[history.labels == 1])


def project_query(project: Project) -> str:
    """The review question and eligibility criteria, as one text ("" if neither is set)."""
    return "\n".join(t for t in (project.meta("question"), project.meta("criteria")) if t and t.strip())


def rank_project(project: Project, preset_name: str | None = None, progress=None,
                 embedder=None) -> tuple[RoundRow, RoundResult]:
    """Retrain and rerank the pool; store the round (preset, parameters, seed, library versions,
    training-set size and the ranking). Round r uses default_rng([project seed, r])."""
    if project.counts()["records"] == 0:
        raise ProjectError(f"{project.directory} has no records yet: import your search exports first "
                           f"(triage import {project.directory} FILE...)")
    preset = project_preset(project, preset_name)
    last_event = project.last_event_id()
    matrix = project_matrix(project, preset, progress=progress, embedder=embedder)
    history = history_rows(project, matrix)
    round_index = len(project.rounds())
    cold = None
    if len(np.unique(history.labels)) < 2:
        cold = cold_start_scores(matrix, history)
    # The question trains as one more relevant record (run_round's `anchor`; BENCHMARKS.md section 7).
    result = run_round(matrix.X, history, preset, round_rng(project.seed, round_index), cold, matrix.anchor)
    # "probabilities": the scores are P(relevant) (logistic regression, naive Bayes), which
    # model-based stopping estimates need; SVM margins and cold-start similarities are not.
    params = preset.params() | {"model": result.model, "probabilities": result.probabilities is not None,
                                "question_record": matrix.anchor is not None, "question": matrix.query}
    project.add_round(
        preset.name, params, project.seed, library_versions(), last_event, result.n_train,
        int(history.labels.sum()), int(len(history) - history.labels.sum()),
        matrix.ids[result.ranking], result.scores[result.ranking], result.seconds)
    return project.latest_round(), result


def current_ranking(project: Project, preset_name: str | None = None, progress=None, embedder=None) -> RoundRow:
    """The latest round if no label changed since it was trained, else a new round."""
    latest = project.latest_round()
    if latest is not None and latest.last_event_id == project.last_event_id() and (
            preset_name is None or latest.preset == preset_name):
        return latest
    return rank_project(project, preset_name, progress=progress, embedder=embedder)[0]


def next_records(project: Project, n: int, preset_name: str | None = None, progress=None,
                 embedder=None) -> tuple[RoundRow, np.ndarray, np.ndarray]:
    """(round, record ids, scores) of the next n unlabelled records in ranked order."""
    rnd = current_ranking(project, preset_name, progress=progress, embedder=embedder)
    labelled = set(project.current_labels())
    keep = np.array([i not in labelled for i in rnd.record_ids], dtype=bool)
    ids, scores = rnd.record_ids[keep][:n], rnd.scores[keep][:n]
    return rnd, ids, scores
