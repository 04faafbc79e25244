"""The Record: one citation as read from a search export, before it enters a project."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from triage.history import LABELS  # noqa: F401  (re-exported: readers check labels against it)


@dataclass
class Record:
    """One citation. `fields` keeps every original tag/column (lists for repeated tags; for
    spreadsheets, the non-empty cells), verbatim except for control characters (`clean_record`).

    `position` is the 1-based record number in its file and `line` the 1-based line where it
    starts (None for spreadsheets, where `position` is the data row). `label` is a prior label
    found in the file (one of LABELS) or None.
    """

    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str = ""
    doi: str = ""
    pmid: str = ""
    keywords: list[str] = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    position: int = 0
    line: int | None = None
    label: str | None = None
    note: str = ""


#: C0 controls except tab and newline, DEL, and C1 controls (U+0080-U+009F). A terminal acts on
#: them (ESC and CSI start escape sequences that can retitle the window, clear the screen or
#: hide text; CR returns to the start of the line), and NUL ends a C string.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """`text` without control characters: CR LF and a lone CR become LF, every other C0/C1
    control character except tab and LF becomes a space (a space, not nothing, so that words a
    control character separated stay apart). Idempotent."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(" ", text)


def _clean_value(value):
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


def clean_record(rec: Record) -> Record:
    """A copy of `rec` whose every string (attributes, `fields` keys and values) went through
    `clean_text`; single-valued text is also stripped of surrounding white space.

    `read_file` applies it to every record it returns, whatever the format, so no reader can let
    a control character into a project (or onto a reviewer's terminal)."""
    def one(s: str) -> str:
        return clean_text(s).strip()

    return dataclasses.replace(
        rec, title=one(rec.title), abstract=one(rec.abstract), journal=one(rec.journal), doi=one(rec.doi),
        pmid=one(rec.pmid), note=one(rec.note),
        authors=[a for a in map(one, rec.authors) if a], keywords=[k for k in map(one, rec.keywords) if k],
        fields={clean_text(str(k)): _clean_value(v) for k, v in rec.fields.items()})
