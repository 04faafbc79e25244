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
from triage.io.record import Record, clean_text
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

#: Limits on one CSV/TSV/xlsx file, generous for real exports (1,000,000 records, a 100 MB CSV)
#: and there so that a small file cannot cost minutes or gigabytes. Rows count every line or
#: sheet row, blank ones too; a full Web of Science export has about 70 columns, Scopus about 50.
MAX_ROWS = 2_000_000
MAX_COLUMNS = 1_000
#: An .xlsx is a zip of XML that openpyxl parses whole: the zip directory is checked before any
#: of it is read. 1 GiB is about twice the XML of a 1,000,000-row export with abstracts.
MAX_XLSX_UNCOMPRESSED = 1 << 30
#: Largest uncompressed/compressed size ratio of one zip member: Apache POI's default zip-bomb
#: limit (ZipSecureFile, minimum inflate ratio 0.01); real workbook XML compresses 5-20 times.
#: Members under 1 MiB uncompressed are not checked (small repetitive parts compress very well).
MAX_XLSX_RATIO = 100
_XLSX_RATIO_FROM = 1 << 20


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


def unique_names(header: Sequence[str]) -> list[str]:
    """Distinct, non-empty names for `header` cells, in linear time: an empty cell is named
    'column 3' (by position), a repeated name gets ' (2)', ' (3)', ... ('Title', 'Title (2)')."""
    names: list[str] = []
    taken: set[str] = set()
    count: dict[str, int] = {}
    for i, h in enumerate(header):
        base = h or f"column {i + 1}"
        name = base
        while name in taken:  # each base's counter only moves forward: linear overall
            count[base] = count.get(base, 1) + 1
            name = f"{base} ({count[base]})"
        taken.add(name)
        names.append(name)
    return names


def rows_to_records(rows: Iterable[tuple[list[str], int | None, int]], path: str) -> list[Record]:
    """Records from (cells, line, row number) triples; the first triple is the header.

    Rows that are entirely empty are skipped. `line` is None for spreadsheets. A record's
    `fields` keeps every non-empty cell verbatim, under its column's name (`unique_names`)."""
    it = iter(rows)
    header_row = next((r for r in it if any(c.strip() for c in r[0])), None)
    if header_row is None:
        raise ImportFormatError(path, "no header row: the file has no content")
    header_at = {"line": header_row[1]} if header_row[1] is not None else {}
    header = [clean_text(h).replace("\ufeff", "").strip() for h in header_row[0]]
    named = max((i + 1 for i, h in enumerate(header) if h), default=0)  # empty cells at the end are harmless
    if named > MAX_COLUMNS:
        raise ImportFormatError(
            path, f"the header row has {named:,} columns, more than the {MAX_COLUMNS:,} a search export can "
                  "have; is this the right file (or the right delimiter)?", **header_at)
    names = unique_names(header)
    cols = map_columns(header)
    if "title" not in cols:
        raise ImportFormatError(
            path, f"no title column; columns found: {', '.join(repr(h) for h in header) or 'none'} "
                  f"(expected one of: {', '.join(COLUMNS['title'])})", **header_at)
    out = []
    for k, (cells, line, row) in enumerate(it, start=1):
        if k > MAX_ROWS:
            raise ImportFormatError(
                path, f"{'' if line is not None else f'sheet row {row:,}: '}more than {MAX_ROWS:,} rows after the "
                      "header; split the file and import the parts", line=line)
        if not any(c.strip() for c in cells):
            continue
        # spreadsheets: `record` is the data row (Record.position); messages also give the sheet row
        where = {"line": line} if line is not None else {"record": len(out) + 1}
        at = "" if line is not None else f" in sheet row {row}"
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            raise ImportFormatError(
                path, f"{'row' if line is not None else f'sheet row {row}'} has {len(cells)} cells but the header has "
                      f"{len(header)} (an unquoted delimiter inside a field?)", **where)

        def get(key: str) -> str:
            i = cols.get(key)
            return restore_cell(cells[i].strip()) if i is not None and i < len(cells) else ""

        fields = {names[i]: c for i, c in enumerate(cells[:len(header)]) if c.strip()}
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

    Quoted fields may span lines; a record's `line` is the line where its row starts. A quoted
    field still open at the end of the file is an error naming the line where it opened (it
    would otherwise swallow every later row)."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long abstracts
    kind = "TSV" if delimiter == "\t" else "CSV"
    state = {"line": 0, "eof": False}

    def feed() -> Iterator[str]:
        for n, text in lines:
            state["line"] = n
            yield text + "\n"
        # one more, empty line: the csv module reads it only if a quoted field is still open at
        # the end of the file (then a row ending after it started before it); else it is a blank row
        state["eof"] = True
        yield "\n"

    def rows() -> Iterator[tuple[list[str], int, int]]:
        reader = csv.reader(feed(), delimiter=delimiter)
        row_no = 0
        start = 1
        try:
            for cells in reader:
                if state["eof"] and start <= state["line"]:
                    # the last field swallowed the rest of the file, plus the extra line's newline
                    opened = min(max(state["line"] + 2 - cells[-1].count("\n"), start), state["line"])
                    raise ImportFormatError(
                        path, f"a quoted field opened here is never closed: every line after it up to the end of "
                              f"the file (line {state['line']:,}) would be read as one field. Add the closing "
                              "quote, or double each quote inside a quoted field (\"\")", line=opened)
                yield cells, start, row_no
                row_no += 1
                start = state["line"] + 1
        except csv.Error as e:
            problem = str(e)
            if "new-line character" in problem:
                problem = ("a carriage return (CR) inside an unquoted field; if the file has old Mac line endings "
                           "(CR only), save it again with Windows or Unix line endings")
            raise ImportFormatError(path, f"malformed {kind}: {problem}", line=state["line"]) from e

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


def _check_xlsx_zip(path: str | Path) -> None:
    """Refuse a workbook whose parts would decompress to more than MAX_XLSX_UNCOMPRESSED bytes,
    or any part compressed more than MAX_XLSX_RATIO times (a zip bomb), from the zip directory
    alone. The sizes it declares also bound the actual read: Python's zipfile stops each part at
    its declared size and checks its CRC, so a part that lies about its size is an error."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ImportFormatError(path, f"not a readable Excel .xlsx workbook (damaged zip: {e})") from e
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size >= _XLSX_RATIO_FROM and info.file_size > MAX_XLSX_RATIO * max(info.compress_size, 1):
            raise ImportFormatError(
                path, f"the workbook part {info.filename!r} would expand {info.file_size / max(info.compress_size, 1):,.0f} "
                      f"times ({info.file_size:,} bytes), more than the {MAX_XLSX_RATIO} times of a real workbook: "
                      "refused as a possible zip bomb; save the sheet as CSV if it is a real export")
    if total > MAX_XLSX_UNCOMPRESSED:
        raise ImportFormatError(
            path, f"the workbook would expand to {total:,} bytes of XML, more than the limit of "
                  f"{MAX_XLSX_UNCOMPRESSED:,}; save the sheet as CSV (or split it) and import that")


def _workbook_errors() -> tuple[type[BaseException], ...]:
    """What openpyxl raises on a damaged workbook: the XML parser's errors (xml.etree and lxml
    ParseError are SyntaxErrors; defusedxml's are ValueErrors), zip and zlib errors, and the
    Key/Value/Type/Index/AttributeErrors of parts that are missing or have unexpected content."""
    import zipfile
    import zlib

    from openpyxl.utils.exceptions import InvalidFileException

    return (InvalidFileException, zipfile.BadZipFile, zlib.error, SyntaxError, OSError, EOFError, KeyError,
            ValueError, TypeError, IndexError, AttributeError, ArithmeticError, NotImplementedError, RecursionError)


def _workbook_problem(e: BaseException) -> str:
    from xml.etree.ElementTree import ParseError

    import zipfile
    import zlib

    if isinstance(e, ParseError) or type(e).__name__ in ("XMLSyntaxError", "ParseError"):
        return f"malformed XML inside the workbook ({e})"
    if isinstance(e, (zipfile.BadZipFile, zlib.error, EOFError)):
        return f"damaged zip archive ({e or type(e).__name__})"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def read_xlsx(path: str | Path, progress: Callable[[int, int], None] | None = None) -> list[Record]:
    """Records of the first sheet of an .xlsx workbook (streamed with openpyxl read-only mode).

    Error messages name the sheet row (`record` = row number in the sheet). The sheet's declared
    dimensions are ignored (openpyxl would cut rows beyond them, or pad every row to them); zip
    sizes, rows and columns are bounded (MAX_XLSX_UNCOMPRESSED, MAX_XLSX_RATIO, MAX_ROWS,
    MAX_COLUMNS). A damaged workbook is an ImportFormatError, whatever openpyxl raises."""
    from openpyxl import load_workbook

    name = str(path)
    size = Path(path).stat().st_size
    _check_xlsx_zip(path)
    errors = _workbook_errors()
    fix = "; open it in Excel and save it again, or save the sheet as CSV"
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except errors as e:
        raise ImportFormatError(name, f"not a readable Excel .xlsx workbook: {_workbook_problem(e)}{fix}") from e
    try:
        try:
            if not wb.worksheets:
                raise ImportFormatError(name, "the workbook has no worksheet")
            ws = wb.worksheets[0]
            ws.reset_dimensions()
            sheet_rows = iter(ws.iter_rows(values_only=True))
        except errors as e:
            raise ImportFormatError(name, f"not a readable Excel .xlsx workbook: {_workbook_problem(e)}{fix}") from e

        def rows() -> Iterator[tuple[list[str], None, int]]:
            i = 0
            while True:
                try:
                    values = next(sheet_rows)
                except StopIteration:
                    return
                except errors as e:
                    where = f"after sheet row {i:,}" if i else "before its first row"
                    raise ImportFormatError(name, f"damaged Excel workbook ({where} of the first sheet): "
                                                  f"{_workbook_problem(e)}{fix}") from e
                i += 1
                if len(values) > MAX_COLUMNS:
                    extra = values[MAX_COLUMNS:]
                    if extra.count(None) != len(extra):
                        raise ImportFormatError(
                            name, f"sheet row {i:,} has cells beyond column {MAX_COLUMNS:,}, more columns than a "
                                  "search export can have; is this the right sheet?")
                    values = values[:MAX_COLUMNS]
                yield ["" if v is None else _cell(v) for v in values], None, i

        records = rows_to_records(rows(), name)
    finally:
        wb.close()
    if progress:
        progress(size, size)
    return records
