"""A fully labelled dataset for simulation, read with the same readers as `triage import`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triage.errors import TriageError
from triage.features.text import record_text

#: Gold label of each Record.label value ("maybe" counts as relevant, as in screening).
GOLD = {"include": 1, "maybe": 1, "exclude": 0}


class GoldLabelError(TriageError):
    """The file cannot be simulated: records without a label, or no relevant record."""


@dataclass(frozen=True)
class LabelledData:
    """texts[i] and gold[i] (int8 0/1) describe row i; `format` is what the reader detected."""

    name: str
    texts: list[str]
    gold: np.ndarray
    format: str


def _read_keeping_empty(path: Path):
    """`read_file`'s format dispatch without its "neither title nor abstract" refusal.

    Benchmark datasets (e.g. Cohen_2006_*, 15 of the 41) hold records with no text, some of them
    relevant; ASReview keeps them, and dropping them would change N, R and the row numbers the
    comparison shares. Uses the io readers themselves; to be replaced by a read_file option."""
    import itertools

    from triage.io import read as rd

    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
    fmt = rd._binary_kind(path, head)
    if fmt == "xlsx":
        return fmt, rd.read_xlsx(path)
    lines = rd._text_lines(path, size, None)
    buf, first = [], []
    for item in lines:
        buf.append(item)
        if item[1].strip():
            first.append(item[1])
            if len(first) >= 50:
                break
    fmt = rd._detect(first)
    rest = itertools.chain(buf, lines)
    if fmt == "ris":
        return fmt, rd.parse_ris(rest, str(path))
    if fmt == "medline":
        return fmt, rd.parse_medline(rest, str(path))
    return fmt, rd.parse_delimited(rest, str(path), "\t" if fmt == "tsv" else rd.sniff_delimiter(first[0]))


def load_labelled(path: str | Path) -> LabelledData:
    """Read any file `triage import` reads; every record must carry a label. Records with
    neither title nor abstract are kept (as empty texts), as ASReview keeps them."""
    from triage.errors import ImportFormatError
    from triage.io.read import read_file

    path = Path(path)
    try:
        fmt, records = read_file(path)
    except ImportFormatError as e:
        if "neither title nor abstract" not in e.problem:
            raise
        fmt, records = _read_keeping_empty(path)
    missing = [i for i, r in enumerate(records) if r.label not in GOLD]
    if missing:
        first = ", ".join(str(i) for i in missing[:5])
        raise GoldLabelError(f"{path}: {len(missing)} of {len(records)} records have no include/exclude "
                             f"label (rows {first}{', ...' if len(missing) > 5 else ''}); "
                             "simulation needs a label for every record")
    gold = np.array([GOLD[r.label] for r in records], dtype=np.int8)
    if gold.sum() == 0:
        raise GoldLabelError(f"{path}: no record is labelled include; nothing to simulate")
    texts = [record_text(r.title, r.abstract) for r in records]
    return LabelledData(path.stem, texts, gold, fmt)
