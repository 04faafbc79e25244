"""The screening engine: ONE implementation of a review's rounds, for live screening and simulation.

A `Corpus` is what the engine ranks: record ids, their texts (built by the one text builder,
`triage.features.text.record_text`) and the review question. Two providers make one: a project
(`triage.service.project_corpus`) and a labelled file (`triage.simulate.data.load_labelled`).
The `Engine` owns the features, the cold-start scores and `run_round`; `run_loop` drives it with
a labeller (the gold-label oracle in simulation). Live commands (`next`, `screen`, `rank`) drive
the same engine one round at a time, on the same retrain schedule (`retrain_due`), so a benchmark
measures the code reviewers run. In the engine, History record ids are corpus rows (0..n-1).

Randomness: round r uses `round_rng(seed, r)` = default_rng([seed, r]), so a resumed run equals
an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from triage.history import RANKED, History
from triage.learn.cold import similarity_scores
from triage.learn.presets import Preset
from triage.learn.round import RoundResult, run_round


@dataclass(frozen=True)
class Corpus:
    """ids: int64 record ids, one per row (a project's record ids; row numbers for a file).
    texts: the text of each row (`record_text`). question: review question + criteria, or ""."""

    ids: np.ndarray
    texts: Sequence[str]
    question: str = ""

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise ValueError(f"{len(self.ids)} ids but {len(self.texts)} texts")

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, record_ids) -> np.ndarray:
        """Row of each record id (ids must be in the corpus; `ids` are sorted ascending)."""
        return np.searchsorted(self.ids, np.asarray(record_ids, dtype=np.int64)).astype(np.int64)


class Labeller(Protocol):
    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """Labels (1 relevant / 0 irrelevant) for `rows`, in order. May return fewer labels
        than rows (the reviewer stopped early); the rest stay in the pool."""


def round_rng(seed: int, round_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, round_index])


def retrain_due(n_labelled: int, n_trained: int | None, preset: Preset, batch_size: int | None = None) -> bool:
    """The retrain schedule shared by live screening and simulation: a new round once the
    labels given since the last round reach that round's batch (`preset.batch_for(n_trained)`,
    or `batch_size` when the reviewer or the simulation overrides it). No round yet: due."""
    if n_trained is None:
        return True
    batch = batch_size or preset.batch_for(n_trained)
    return n_labelled - n_trained >= batch


@dataclass
class Engine:
    """Features and rounds of one corpus under one preset.

    cache_dir: feature cache folder (embeddings in its `embeddings/`; TF-IDF in `tfidf/`), or
    None to compute in memory. embedder: overrides the preset's embedding model (tests pass a
    FakeEmbedder). progress: passed to the embedding pass. Features are built on first use and
    kept: X (n, d) and the question's row (1, d) in the same space (None without a question)."""

    corpus: Corpus
    preset: Preset
    cache_dir: str | Path | None = None
    embedder: object = None
    progress: Callable | bool | None = None
    #: Whether a round may use the embedding block: None = always (embed first if needed); else
    #: called with the round's history. Until it says yes, rounds use the preset's TF-IDF part
    #: ("rank at once, improve in the background"; simulation replays it by a label count).
    embeddings_ready: Callable[[History], bool] | None = None
    _features: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def uses_embeddings(self) -> bool:
        return bool(self.preset.features.get("embedding"))

    def features(self, part: str = "full") -> tuple:
        """(X, question_row): the features of every row and of the question (None without one).
        part "full": the preset's features; "tfidf": its TF-IDF block alone (TfidfVectorizer
        defaults for a preset without one), what rounds use while embeddings are pending."""
        if part not in self._features:
            from triage.features.matrix import build_features_with_question

            spec = self.preset.features if part == "full" else {"tfidf": self.preset.features.get("tfidf") or True}
            self._features[part] = build_features_with_question(list(self.corpus.texts), self.corpus.question, spec,
                                                             self.cache_dir, progress=self.progress,
                                                             embedder=self.resolved_embedder() if part == "full" else None)
        return self._features[part]

    def part_for(self, history: History) -> str:
        """Which features a round on `history` uses: "full", or "tfidf" while embeddings are pending."""
        if not self.uses_embeddings or self.embeddings_ready is None or self.embeddings_ready(history):
            return "full"
        return "tfidf"

    def set_features(self, X, question_row=None) -> None:
        """Use ready features (benchmarks that share one matrix across runs)."""
        if X.shape[0] != len(self.corpus):
            raise ValueError(f"features have {X.shape[0]} rows, the corpus {len(self.corpus)}")
        self._features["full"] = (X, question_row)

    def cold_scores(self, history: History) -> np.ndarray | None:
        """Before a classifier can be trained: similarity to the review question and to the
        records already marked relevant (`similarity_scores`); None: nothing to compare with."""
        return similarity_scores(list(self.corpus.texts), self.corpus.question,
                                 history.record_ids[history.labels == 1])

    def run_round(self, history: History, seed: int, round_index: int) -> RoundResult:
        """Train on `history` (record ids = rows) and rank the pool with round_rng(seed, round_index).
        The question trains as one more relevant record in every round (run_round's question_row)."""
        part = self.part_for(history)
        X, question_row = self.features(part)
        y = history.labels if question_row is None else np.append(history.labels, 1)
        cold = self.cold_scores(history) if len(np.unique(y)) < 2 else None  # no classifier yet
        result = run_round(X, history, self.preset, round_rng(seed, round_index), cold, question_row)
        return replace(result, features=part)

    def resolved_embedder(self):
        """The embedder of the preset's embedding block (or the one given), built once and kept:
        building one resolves and hashes the model folder (and exports an ONNX model the first
        time on a machine), so the id check, the pass and the features share one. None without
        an embedding block."""
        if not self.uses_embeddings:
            return None
        if self.embedder is None:
            from triage.features.matrix import embedder_for

            self.embedder = embedder_for(self.preset.features["embedding"])
        return self.embedder

    @property
    def embedder_id(self) -> str | None:
        """The embedding model id that makes the features (None without an embedding block)."""
        embedder = self.resolved_embedder()
        return None if embedder is None else str(embedder.model_id)


def run_loop(engine: Engine, history: History, seed: int, labeller: Labeller, stop: Callable[[History], bool],
             batch_size: int | None = None, first_round: int = 0,
             on_round: Callable[[int, RoundResult, History], None] | None = None) -> History:
    """Rounds until `stop(history)`, an empty pool, or a labeller that gives no label.

    Each round labels the schedule's batch (`retrain_due`: the preset's `batch_for`, or
    `batch_size`) from the top of the ranking. Returns the extended history (input unchanged)."""
    r = first_round
    while history.n_pool > 0 and not stop(history):
        result = engine.run_round(history, seed, r)
        if on_round is not None:
            on_round(r, result, history)
        batch = result.ranking[:batch_size or engine.preset.batch_for(len(history))]
        labels = np.asarray(labeller(batch), dtype=np.int8)
        if len(labels) == 0:
            break
        history = history.append(batch[:len(labels)], labels, RANKED, r)
        r += 1
    return history
