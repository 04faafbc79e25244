"""CSV/TSV and Excel (.xlsx) readers. Columns are matched by name, case-insensitively, with the
variants used by Scopus, Web of Science, Zotero, ASReview and SYNERGY exports."""

from __future__ import annotations

import csv
import datetime as _dt
import re
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from triage.errors import ImportFormatError
from triage.history import ACCEPTED_LABELS, parse_label
from triage.io.record import Record
from triage.io.ris import parse_year
from triage.io.writers import restore_cell

#: Canonical field -> accepted column names (after `normalise_header`), in order of preference.
COLUMNS = {
    "title": ("title", "primary title", "article title", "document title", "ti"),
    "abstract": ("abstract", "abstract note", "ab"),
    "doi": ("doi", "di"),
    "pmid": ("pmid", "pubmed id", "pubmedid"),
    "authors": ("authors", "author", "author full names", "au"),
    "year": ("year", "publication year", "py"),
    "journal": ("journal", "source title", "secondary title", "publication title", "jo", "so"),
    "keywords": ("keywords", "author keywords", "kw", "de"),
    "label": ("label included", "included", "label", "decision"),
}
_SEP = re.compile(r"[\s_\-]+")


def normalise_header(name: str) -> str:
    """'Primary_Title ' -> 'primary title'; a BOM or surrounding quotes are dropped."""
    return _SEP.sub(" ", str(name or "").replace("\ufeff", "").strip().strip('"').lower()).strip()


def map_columns(header: Sequence[str]) -> dict[str, int]:
    """Canonical field -> column index, for the fields found in `header`."""
    norm = [normalise_header(h) for h in header]
    found = {}
    for key, names in COLUMNS.items():
        for name in names:
            if name in norm:
                found[key] = norm.index(name)
                break
    return found


def _label(value: str, path: str, where: dict, at: str = "") -> str | None:
    try:
        return parse_label(value)
    except ValueError:
        raise ImportFormatError(
            path, f"unknown label value {value!r}{at} (use {ACCEPTED_LABELS}, or leave it empty for unlabelled)",
            **where) from None


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(";") if p.strip()]


def rows_to_records(rows: Iterable[tuple[list[str], int | None, int]], path: str) -> list[Record]:
    """Records from (cells, line, row number) triples; the first triple is the header.

    Rows that are entirely empty are skipped. `line` is None for spreadsheets."""
    it = iter(rows)
    header_row = next((r for r in it if any(c.strip() for c in r[0])), None)
    if header_row is None:
        raise ImportFormatError(path, "no header row: the file has no content")
    header = [h.replace("\ufeff", "").strip() for h in header_row[0]]
    names = []
    for i, h in enumerate(header):  # unique, non-empty names for `fields`
        name = h or f"column {i + 1}"
        while name in names:
            name += "'"
        names.append(name)
    cols = map_columns(header)
    if "title" not in cols:
        raise ImportFormatError(
            path, f"no title column; columns found: {', '.join(repr(h) for h in header) or 'none'} "
                  f"(expected one of: {', '.join(COLUMNS['title'])})", line=header_row[1] if header_row[1] else None)
    out = []
    for cells, line, row in it:
        if not any(c.strip() for c in cells):
            continue
        # spreadsheets: `record` is the data row (Record.position); messages also give the sheet row
        where = {"line": line} if line is not None else {"record": len(out) + 1}
        at = "" if line is not None else f" in sheet row {row}"
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            raise ImportFormatError(
                path, f"row{at} has {len(cells)} cells but the header has {len(header)} (an unquoted delimiter "
                      "inside a field?)", **where)
        cells = list(cells) + [""] * (len(header) - len(cells))

        def get(key: str) -> str:
            return restore_cell(cells[cols[key]].strip()) if key in cols else ""

        fields = {names[i]: cells[i] for i in range(len(header))}
        label = _label(get("label"), path, where, at) if "label" in cols else None
        out.append(Record(
            title=get("title"), abstract=get("abstract"), authors=_split(get("authors")),
            year=parse_year(get("year")), journal=get("journal"), doi=get("doi"), pmid=get("pmid"),
            keywords=_split(get("keywords")), fields=fields, position=len(out) + 1, line=line, label=label))
    return out


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the most frequent of tab, comma, semicolon, pipe."""
    counts = {d: header_line.count(d) for d in ("\t", ",", ";", "|")}
    best = max(counts, key=lambda d: counts[d])  # ties keep the order above
    return best if counts[best] else ","


def parse_delimited(lines: Iterable[tuple[int, str]], path: str, delimiter: str) -> list[Record]:
    """Records of a CSV/TSV file, given its decoded lines as (line number, text without newline).

    Quoted fields may span lines; a record's `line` is the line where its row starts."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long abstracts
    state = {"line": 0}

    def feed() -> Iterator[str]:
        for n, text in lines:
            state["line"] = n
            yield text + "\n"

    def rows() -> Iterator[tuple[list[str], int, int]]:
        reader = csv.reader(feed(), delimiter=delimiter)
        row_no = 0
        start = 1
        try:
            for cells in reader:
                yield cells, start, row_no
                row_no += 1
                start = state["line"] + 1
        except csv.Error as e:
            raise ImportFormatError(path, f"malformed {'TSV' if delimiter == chr(9) else 'CSV'}: {e}",
                                    line=state["line"]) from e

    return rows_to_records(rows(), path)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time() else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v)


def read_xlsx(path: str | Path, progress: Callable[[int, int], None] | None = None) -> list[Record]:
    """Records of the first sheet of an .xlsx workbook (streamed with openpyxl read-only mode).

    Error messages name the sheet row (`record` = row number in the sheet)."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    size = Path(path).stat().st_size
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as e:
        raise ImportFormatError(path, f"not a readable Excel .xlsx workbook ({e})") from e
    try:
        ws = wb.worksheets[0]

        def rows() -> Iterator[tuple[list[str], None, int]]:
            for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
                yield [_cell(v) for v in values], None, i

        records = rows_to_records(rows(), str(path))
    finally:
        wb.close()
    if progress:
        progress(size, size)
    return records
