"""`read_file`: one entry point for every search export. The content, not the extension, decides
the format; text is decoded line by line (UTF-8 with or without BOM, UTF-16 with BOM, or a legacy
8-bit encoding guessed by charset-normalizer), so a 100 MB export streams in bounded memory
(the records themselves are returned as a list)."""

from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterator

from triage.errors import ImportFormatError
from triage.io.medline import parse_medline
from triage.io.record import Record, clean_record
from triage.io.ris import TAG_LINE as RIS_TAG, parse_ris
from triage.io.tabular import parse_delimited, read_xlsx, sniff_delimiter

Progress = Callable[[int, int], None]

#: Format name -> (description, extensions that usually hold it).
FORMATS = {
    "ris": ("RIS", {".ris", ".txt"}),
    "medline": ("PubMed/MEDLINE", {".nbib", ".txt", ".medline"}),
    "csv": ("CSV", {".csv", ".txt"}),
    "tsv": ("tab-separated text", {".tsv", ".tab", ".txt", ".csv"}),
    "xlsx": ("Excel .xlsx", {".xlsx"}),
}
_MAGIC = [
    (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"), (b"SQLite format 3", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0", "a legacy Office file (.xls/.doc); save it as .xlsx or CSV"),
]
_RIS_TY = re.compile(r"^TY {1,3}-")
_MEDLINE_PMID = re.compile(r"^PMID- ?\d")
_PROGRESS_STEP = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _binary_kind(path: Path, head: bytes) -> str | None:
    """'xlsx' for a workbook, None for text; raises for any other binary file."""
    name = str(path)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
            if path.suffix.lower() == ".xlsx":
                raise ImportFormatError(name, f"not a readable Excel .xlsx workbook: damaged zip archive ({e}); "
                                              "download or save it again, or save the sheet as CSV") from e
            raise ImportFormatError(name, "binary file: a damaged zip archive, not a search export") from e
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise ImportFormatError(name, "binary file: a zip archive, not a search export (unzip it and import the files inside)")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise ImportFormatError(name, f"binary file: {what}, not a search export (RIS, MEDLINE, CSV/TSV or .xlsx)")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    sample = head[:1024]
    n_control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 26))
    if b"\x00" in sample and n_control > 0.05 * len(sample):
        raise ImportFormatError(name, "binary file (NUL and control bytes), not a text export; UTF-16 text needs a byte-order mark")
    return None


def _legacy_encoding(path: Path, offset: int, line: int, bad_offset: int, bad: int) -> str:
    """Guess the legacy encoding of a file that is not UTF-8, from its bytes at `offset` (the start
    of the first line that is not UTF-8) onwards; `bad_offset`/`bad` locate the offending byte.

    cp1252 is preferred among equally plausible candidates: it is what Windows tools write."""
    from charset_normalizer import from_bytes

    with open(path, "rb") as f:
        f.seek(offset)
        sample = f.read(256 * 1024)
    results = list(from_bytes(sample))
    if not results:
        raise ImportFormatError(
            str(path), f"not valid UTF-8 (byte 0x{bad:02x} at byte offset {bad_offset}) and no other text encoding "
                       "fits; save the file as UTF-8", line=line)
    best = results[0]
    for r in results:
        if r.chaos <= best.chaos + 0.02 and "cp1252" in r.could_be_from_charset:
            return "cp1252"
    return best.encoding


def _decoded_lines(path: Path, size: int, progress: Progress | None) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line ending) of a text file.

    UTF-16 (with a BOM) is decoded as a whole; otherwise each line is tried as UTF-8 first, then
    as the file's legacy encoding (guessed once), so a file concatenated from UTF-8 and cp1252
    exports decodes correctly. NUL bytes are refused here (with their byte offset) outside UTF-16."""
    name = str(path)
    with open(path, "rb") as f:
        head = f.read(2)
    if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raw = open(path, "rb")
        text = io.TextIOWrapper(raw, encoding="utf-16")
        n = 0
        try:
            for n, line in enumerate(text, start=1):
                if progress and n % 10000 == 0:
                    progress(min(raw.tell(), size), size)
                yield n, line.rstrip("\r\n")
        except UnicodeError as e:
            raise ImportFormatError(name, f"not valid UTF-16 ({getattr(e, 'reason', e)}) after this line", line=n) from e
        finally:
            text.close()
        if progress:
            progress(size, size)
        return
    legacy = None
    offset = 0
    next_report = _PROGRESS_STEP
    with open(path, "rb") as f:
        for n, raw_line in enumerate(f, start=1):
            body = raw_line.rstrip(b"\r\n")
            start = 3 if n == 1 and body.startswith(codecs.BOM_UTF8) else 0
            if b"\x00" in body:
                at = offset + body.index(b"\x00")
                raise ImportFormatError(
                    name, f"binary data (NUL bytes) at byte offset {at}: the file looks "
                          "truncated or corrupted; export or download it again", line=n)
            try:
                text = body[start:].decode("utf-8")
            except UnicodeDecodeError as e:
                if legacy is None:
                    legacy = _legacy_encoding(path, offset, n, offset + start + e.start, body[start + e.start])
                try:
                    text = body[start:].decode(legacy)
                except UnicodeDecodeError as e2:
                    raise ImportFormatError(
                        name, f"cannot decode byte 0x{body[start + e2.start]:02x} at byte offset "
                              f"{offset + start + e2.start} as UTF-8 or {legacy}; save the file as UTF-8", line=n) from e2
            yield n, text
            offset += len(raw_line)
            if progress and offset >= next_report:
                progress(offset, size)
                next_report += _PROGRESS_STEP
    if progress:
        progress(size, size)


def _text_lines(path: Path, size: int, progress: Progress | None) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line ending) of a text file, whatever its encoding.

    Refuses NUL characters (a file cut and padded, or not text); drops byte-order marks left
    inside concatenated exports and the DOS end-of-file character (0x1A). Other control
    characters are kept here and removed from the records (`clean_record`), for every format."""
    for n, text in _decoded_lines(path, size, progress):
        if "\x00" in text:  # UTF-16 (the other encodings are checked byte by byte)
            raise ImportFormatError(
                str(path), "binary data (NUL characters): the file looks truncated or corrupted; "
                           "export or download it again", line=n)
        if text.startswith("\ufeff"):  # a BOM left inside concatenated exports
            text = text[1:]
        yield n, text.replace("\x1a", "")


def _detect(first_lines: list[str]) -> str:
    """Format of a text export from its first non-blank lines."""
    if _MEDLINE_PMID.match(first_lines[0]):
        return "medline"
    if any(_RIS_TY.match(t) for t in first_lines) and (RIS_TAG.match(first_lines[0]) or not _looks_tabular(first_lines[0])):
        return "ris"
    return "tsv" if sniff_delimiter(first_lines[0]) == "\t" else "csv"


def _looks_tabular(line: str) -> bool:
    return sniff_delimiter(line) in line


def read_file(path: str | Path, progress: Progress | None = None,
              allow_empty: bool = False) -> tuple[str, list[Record]]:
    """(format, records) of a search export: 'ris', 'medline', 'csv', 'tsv' or 'xlsx'.

    `progress(bytes_done, bytes_total)` is called about every MB and once at the end.
    Every record's text is cleaned of control characters (`record.clean_text`: tab and newline
    kept, CR LF as LF, any other C0/C1 control as a space), whatever the format.
    Raises ImportFormatError naming the file, the line (or record) and the problem; a record with
    neither title nor abstract is an error (reviewers must fix or drop it knowingly) unless
    `allow_empty` (labelled benchmark datasets keep such records, as ASReview does)."""
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise ImportFormatError(name, "no such file" if not p.exists() else "not a file")
    size = p.stat().st_size
    if size == 0:
        raise ImportFormatError(name, "empty file (0 bytes)")
    with open(p, "rb") as f:
        head = f.read(4096)
    fmt = _binary_kind(p, head)
    try:
        if fmt == "xlsx":
            records = read_xlsx(p, progress)
        else:
            lines = _text_lines(p, size, progress)
            buf: list[tuple[int, str]] = []
            first: list[str] = []
            for item in lines:
                buf.append(item)
                if item[1].strip():
                    first.append(item[1])
                    if len(first) >= 50:
                        break
            if not first:
                raise ImportFormatError(name, "empty file (only blank lines)")
            fmt = _detect(first)
            rest = itertools.chain(buf, lines)
            if fmt == "ris":
                records = parse_ris(rest, name)
            elif fmt == "medline":
                records = parse_medline(rest, name)
            else:
                records = parse_delimited(rest, name, "\t" if fmt == "tsv" else sniff_delimiter(first[0]))
        if not records:
            raise ImportFormatError(name, "no records found")
        # the one place every record passes: no control character reaches a project or a terminal
        records = [clean_record(r) for r in records]
        bad = [] if allow_empty else [r for r in records if not (r.title.strip() or r.abstract.strip())]
        if bad:
            r = bad[0]
            more = f" ({len(bad) - 1} more records lack both)" if len(bad) > 1 else ""
            raise ImportFormatError(name, f"record {r.position} has neither title nor abstract{more}; "
                                          "add one or remove the record", line=r.line,
                                    record=None if r.line else r.position)
    except ImportFormatError as e:
        ext = p.suffix.lower()
        if fmt is not None and ext not in FORMATS[fmt][1]:
            raise ImportFormatError(e.path, f"{e.problem} [content read as {FORMATS[fmt][0]}; "
                                            f"the {ext or 'missing'} extension was ignored]",
                                    line=e.line, record=e.record) from e
        raise
    return fmt, records
