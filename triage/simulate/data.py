"""A fully labelled dataset for simulation, read with the same readers as `triage import`: the
labelled-file provider of the engine's Corpus (texts from the same builder as a project's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage.engine import Corpus
from triage.errors import GoldLabelError
from triage.features.text import record_text
from triage.history import RELEVANCE

#: Gold label of each Record.label value ("maybe" counts as relevant, as in screening).
GOLD = RELEVANCE


@dataclass(frozen=True)
class LabelledData:
    """texts[i] and gold[i] (int8 0/1) describe row i; `format` is what the reader detected."""

    name: str
    texts: list[str]
    gold: np.ndarray
    format: str

    def corpus(self, question: str = "") -> Corpus:
        """The engine's Corpus: row numbers as ids, the texts, and a review question."""
        return Corpus(np.arange(len(self.texts), dtype=np.int64), self.texts, question)


def load_labelled(path: str | Path) -> LabelledData:
    """Read any file `triage import` reads; every record must carry a label. Records with
    neither title nor abstract are kept (as empty texts), as ASReview keeps them."""
    from triage.io.read import read_file

    path = Path(path)
    fmt, records = read_file(path, allow_empty=True)
    missing = [i for i, r in enumerate(records) if r.label not in GOLD]
    if missing:
        first = ", ".join(str(i) for i in missing[:5])
        raise GoldLabelError(f"{path}: {len(missing)} of {len(records)} records have no include/exclude "
                             f"label (rows {first}{', ...' if len(missing) > 5 else ''}); "
                             "simulation needs a label for every record")
    gold = np.array([GOLD[r.label] for r in records], dtype=np.int8)
    if gold.sum() == 0:
        raise GoldLabelError(f"{path}: no record is labelled include; nothing to simulate")
    texts = [record_text(r.title, r.abstract, r.keywords) for r in records]
    return LabelledData(path.stem, texts, gold, fmt)
