"""Writers for exported records (RIS and CSV, one row per de-duplicated record) and the
package's one CSV writer, `write_table`: batches (`triage next`), samples, exports and
simulation histories all go through it.

`write_table` neutralises every text cell a spreadsheet would run as a formula (OWASP "CSV
injection"): a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`.
Numbers (int/float values, not text) are written as they are: they cannot hold a formula.
"""

from __future__ import annotations

import csv
import io
import numbers
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence, TextIO

CSV_COLUMNS = ("record_id", "title", "abstract", "authors", "year", "journal", "doi", "pmid", "keywords",
               "label", "note", "reason", "sources", "source_ids")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: RIS tags the writer fills from the record itself; any other two-character tag kept from an
#: imported RIS file is written back as it was.
_RIS_OWN = {"TY", "TI", "T1", "AB", "N2", "AU", "A1", "PY", "Y1", "JO", "JF", "T2", "DO", "KW", "ER"}
_RIS_TAG = re.compile(r"^[A-Z][A-Z0-9]$")
_RIS_TYPE = re.compile(r"^[A-Z]{2,6}$")


@dataclass(frozen=True)
class ExportRow:
    """A record to export with its current label (None: unlabelled), note, reason and source files."""

    record_id: int
    title: str
    abstract: str = ""
    authors: list = field(default_factory=list)
    year: int | None = None
    journal: str = ""
    doi: str = ""
    pmid: str = ""
    keywords: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    label: str | None = None
    note: str = ""
    reason: str = ""
    sources: list = field(default_factory=list)
    source_ids: str = ""  # the imported files' own ids of the record ('; '-joined)


def neutralise_cell(value: str) -> str:
    """`value` with a leading `'` when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def restore_cell(value: str) -> str:
    """Inverse of `neutralise_cell` for files triage exported (reading them back)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def _one_line(value) -> str:
    return " ".join(str(value).split())


def _original_ris_tags(fields: dict) -> list[tuple[str, str]]:
    """(tag, value) pairs of original RIS tags not written from the record's own attributes.

    Only for records that came from a RIS file (the fields hold a `TY` tag): other formats use
    two-letter names with other meanings (MEDLINE `IS` is the ISSN, RIS `IS` the issue)."""
    if "TY" not in fields:
        return []
    out = []
    for tag, value in fields.items():
        if _RIS_TAG.match(str(tag)) and tag not in _RIS_OWN:
            for v in value if isinstance(value, list) else [value]:
                if str(v).strip():
                    out.append((tag, _one_line(v)))
    return out


def write_ris(rows: Iterable[ExportRow], out: TextIO) -> int:
    """Write RIS: TY, TI, AU, PY, JO, AB, DO, KW, the other tags of an imported RIS entry, then N1 lines
    `PMID: <pmid>` (RIS has no PMID tag; triage's RIS reader looks for it there),
    `triage: <label>`, `triage note: ...`, `triage reason: ...`.

    Returns the number of records written."""
    n = 0
    for r in rows:
        ty = r.fields.get("TY", "")
        ty = ty[0] if isinstance(ty, list) and ty else ty
        ty = str(ty).strip().upper()
        lines = [("TY", ty if _RIS_TYPE.match(ty) else "JOUR")]
        lines.append(("TI", r.title))
        lines += [("AU", a) for a in r.authors]
        if r.year is not None:
            lines.append(("PY", str(r.year)))
        lines += [("JO", r.journal), ("AB", r.abstract), ("DO", r.doi)]
        lines += [("KW", k) for k in r.keywords]
        ours = (f"PMID: {r.pmid}", "triage: ", "triage note: ", "triage reason: ")
        lines += [(t, v) for t, v in _original_ris_tags(r.fields)  # not the N1 lines of an earlier export
                  if not (t == "N1" and v.startswith(ours))]
        if r.pmid:
            lines.append(("N1", f"PMID: {r.pmid}"))
        if r.label is not None:
            lines.append(("N1", f"triage: {r.label}"))
        if r.note:
            lines.append(("N1", f"triage note: {r.note}"))
        if r.reason:
            lines.append(("N1", f"triage reason: {r.reason}"))
        for tag, value in lines:
            value = _one_line(value)
            if value:
                out.write(f"{tag}  - {value}\n")
        out.write("ER  - \n\n")
        n += 1
    return n


def csv_cell(value) -> str:
    """One CSV cell: None -> '', a number as it is, any text neutralised (`neutralise_cell`)."""
    if value is None:
        return ""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return str(value)
    return neutralise_cell(str(value))


def write_table(header: Sequence[str], rows: Iterable[Sequence], out: TextIO) -> int:
    """The package's one CSV writer: a header row, then `rows`, every cell through `csv_cell`.

    `out` should be opened with newline='' (the csv module writes CRLF line ends). Returns the
    number of data rows written."""
    w = csv.writer(out)
    w.writerow([csv_cell(h) for h in header])
    n = 0
    for row in rows:
        w.writerow([csv_cell(c) for c in row])
        n += 1
    return n


def table_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """`write_table` into a string (for `triage.io.output.write_output`)."""
    buf = io.StringIO(newline="")
    write_table(header, rows, buf)
    return buf.getvalue()


def write_csv(rows: Iterable[ExportRow], out: TextIO) -> int:
    """Write CSV with CSV_COLUMNS (lists joined with '; ') through `write_table`. Returns rows written.

    `out` should be opened with newline='' (the csv module writes CRLF line ends)."""
    return write_table(CSV_COLUMNS, (
        [str(r.record_id), r.title, r.abstract, "; ".join(r.authors), "" if r.year is None else str(r.year),
         r.journal, r.doi, r.pmid, "; ".join(r.keywords), r.label or "", r.note, r.reason, "; ".join(r.sources), r.source_ids]
        for r in rows), out)
