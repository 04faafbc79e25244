"""The Record: one citation as read from a search export, before it enters a project."""

from __future__ import annotations

from dataclasses import dataclass, field

from triage.history import LABELS  # noqa: F401  (re-exported: readers check labels against it)


@dataclass
class Record:
    """One citation. `fields` keeps every original tag/column verbatim (lists for repeated tags).

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
