"""The neutral core: the label vocabulary, label origins and the labelling history.

Every layer speaks these words; this module imports nothing else of triage (a test checks it),
so stopping rules, learning, reports and simulation depend on it and never on the store.

The History is a read-only ledger of who labelled what, in which order and round. Stopping
rules and metrics are pure functions of it; `History.at(k)` freezes it after k decisions, so a
report can replay any rule at any round (cf. tarexp's ledger).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# -- label vocabulary ---------------------------------------------------------------------------
#: Label values stored in a project. `maybe` counts as relevant for training and stopping.
LABELS = ("include", "exclude", "maybe")
#: Relevance (1/0) of each label: what the model trains on and stopping rules count.
RELEVANCE = {"include": 1, "maybe": 1, "exclude": 0}
#: What a reviewer may type or a file may hold (case-insensitive), for each label.
LABEL_WORDS = {
    "include": ("include", "included", "1", "y", "yes", "true"),
    "exclude": ("exclude", "excluded", "0", "n", "no", "false"),
    "maybe": ("maybe", "?"),
}
_WORD_TO_LABEL = {w: label for label, words in LABEL_WORDS.items() for w in words}
ACCEPTED_LABELS = "include/exclude/maybe, 1/0, y/n, yes/no or true/false"


def parse_label(text: object) -> str | None:
    """'include' / 'exclude' / 'maybe' from what a reviewer typed or a file holds; None for empty.

    Case and surrounding blanks are ignored; spreadsheet numbers 1.0 / 0.0 read as 1 / 0.
    Raises ValueError naming the value otherwise (callers add the file and line)."""
    v = "" if text is None else str(text).strip().lower()
    if not v:
        return None
    if v in ("1.0", "0.0"):
        v = v[0]
    try:
        return _WORD_TO_LABEL[v]
    except KeyError:
        raise ValueError(f"unknown label {str(text).strip()!r} (use {ACCEPTED_LABELS})") from None


# -- origins ------------------------------------------------------------------------------------
#: How a record came to be labelled. Only RANKED and RANDOM count as screening effort chosen
#: by the tool; PRIOR labels came from the reviewer's prior knowledge or the imported file.
PRIOR, RANKED, RANDOM = 0, 1, 2
ORIGIN_NAMES = {PRIOR: "prior", RANKED: "ranked", RANDOM: "random"}
ORIGINS = {name: code for code, name in ORIGIN_NAMES.items()}


@dataclass(frozen=True)
class History:
    """Current labels in the order they were first given.

    Attributes (all arrays have one entry per labelled record, in labelling order):
      record_ids: int64 project record ids (in simulation: row indices of the dataset).
      labels:     int8, 1 = relevant (include or maybe), 0 = irrelevant (exclude).
      origins:    int8, PRIOR / RANKED / RANDOM.
      rounds:     int32, the round whose ranking proposed the record (-1 when none did).
      n_records:  total records in the project (labelled + pool), after de-duplication.
    """

    record_ids: np.ndarray
    labels: np.ndarray
    origins: np.ndarray
    rounds: np.ndarray
    n_records: int

    def __post_init__(self) -> None:
        n = len(self.record_ids)
        if not (len(self.labels) == len(self.origins) == len(self.rounds) == n):
            raise ValueError("History arrays must have equal length")
        if n > self.n_records:
            raise ValueError(f"History has {n} labels but only {self.n_records} records")

    @classmethod
    def empty(cls, n_records: int) -> "History":
        z = np.zeros(0)
        return cls(z.astype(np.int64), z.astype(np.int8), z.astype(np.int8), z.astype(np.int32), n_records)

    @classmethod
    def from_lists(cls, record_ids, labels, origins, rounds, n_records: int) -> "History":
        return cls(
            np.asarray(record_ids, dtype=np.int64),
            np.asarray(labels, dtype=np.int8),
            np.asarray(origins, dtype=np.int8),
            np.asarray(rounds, dtype=np.int32),
            int(n_records),
        )

    def __len__(self) -> int:
        return len(self.record_ids)

    def at(self, k: int) -> "History":
        """The history after its first k decisions (frozen prefix)."""
        return History(self.record_ids[:k], self.labels[:k], self.origins[:k], self.rounds[:k], self.n_records)

    def append(self, record_ids, labels, origin: int, round_: int) -> "History":
        """A new History with decisions appended (the original is unchanged)."""
        record_ids = np.asarray(record_ids, dtype=np.int64)
        k = len(record_ids)
        return History(
            np.concatenate([self.record_ids, record_ids]),
            np.concatenate([self.labels, np.asarray(labels, dtype=np.int8)]),
            np.concatenate([self.origins, np.full(k, origin, dtype=np.int8)]),
            np.concatenate([self.rounds, np.full(k, round_, dtype=np.int32)]),
            self.n_records,
        )

    @property
    def n_labelled(self) -> int:
        return len(self.record_ids)

    @property
    def n_relevant(self) -> int:
        return int(self.labels.sum())

    @property
    def n_pool(self) -> int:
        return self.n_records - len(self.record_ids)

    def screened(self, include_prior: bool = False) -> "History":
        """Only the screening decisions (drops PRIOR labels unless include_prior)."""
        if include_prior:
            return self
        keep = self.origins != PRIOR
        return History(self.record_ids[keep], self.labels[keep], self.origins[keep], self.rounds[keep], self.n_records)
