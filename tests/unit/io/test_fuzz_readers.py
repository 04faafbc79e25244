"""Property-based fuzzing of every search-export reader (issue #10 item 15).

Mutated copies of the real-looking fixtures (bytes and lines) and generated RIS, MEDLINE,
CSV/TSV and .xlsx files must either import or raise the project's own error type (a TriageError):
never another exception, never a hang (a watchdog fails any example still running after
EXAMPLE_SECONDS). Records that do import carry no control character and are numbered 1..n.

Deterministic in CI: derandomized (a fixed seed), no example database, fixed budgets. For a
deeper local search set TRIAGE_FUZZ=deep (random seeds, 50x the examples), e.g.
`TRIAGE_FUZZ=deep PYTHONPATH=$PWD python -m pytest -q tests/unit/io/test_fuzz_readers.py`.
"""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from triage.errors import TriageError
from triage.io.read import FORMATS, read_file

#: Wall-clock seconds one example may take before it counts as a hang (examples take ~10 ms;
#: the margin absorbs a loaded CI machine).
EXAMPLE_SECONDS = 20
DEEP = os.environ.get("TRIAGE_FUZZ") == "deep"


def fuzz_settings(max_examples: int):
    """Fixed seed and budget in CI; random seeds and 50x the budget with TRIAGE_FUZZ=deep."""
    return settings(max_examples=max_examples * (50 if DEEP else 1), derandomize=not DEEP, database=None,
                    deadline=None, print_blob=DEEP,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


EXPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "exports"
FIXTURES = sorted(p for p in EXPORTS.iterdir() if p.is_file() and p.stat().st_size)
EXTENSIONS = ["", ".ris", ".nbib", ".txt", ".csv", ".tsv", ".xlsx"]
#: Byte strings that matter to some reader: delimiters, quotes, line ends, tags, BOMs, controls.
TOKENS = [b'"', b'""', b",", b";", b"\t", b"|", b"\n", b"\r", b"\r\n", b" ", b"\x00", b"\x1a", b"\x1b[2J",
          b"\xc2\x9b", b"\xff", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"TY  - ", b"ER  - ", b"PMID- ",
          b"AB  - ", b"      ", b"TI  - ", b"10.1002/1(1)1:1<1::aid-x>3.0.co;2-h", b"<", b">", b"&lt;",
          b"title", b"abstract", b"label_included", b"maybe", b"PK\x03\x04", b"\xe9", b"\x80"]


def _is_control(c: str) -> bool:
    return unicodedata.category(c) == "Cc" and c not in "\t\n"


def check(watchdog, path, allow_empty: bool = False) -> None:
    """read_file(path) imports or raises a TriageError, within EXAMPLE_SECONDS (`watchdog` fixture)."""
    with watchdog(EXAMPLE_SECONDS):
        try:
            fmt, records = read_file(path, allow_empty=allow_empty)
        except TriageError as e:
            assert str(e).startswith(str(path)), e  # every reader error names the file
            event(f"refused: {getattr(e, 'problem', str(e))[:40]}")  # see --hypothesis-show-statistics
            return
    event(f"imported as {fmt}")
    assert fmt in FORMATS and records
    assert [r.position for r in records] == list(range(1, len(records) + 1))
    for r in records:
        texts = [r.title, r.abstract, r.journal, r.doi, r.pmid, r.note, *r.authors, *r.keywords]
        for k, v in r.fields.items():
            texts += [k] + (v if isinstance(v, list) else [v] if isinstance(v, str) else [])
        assert not any(_is_control(c) for t in texts for c in t), r
        assert allow_empty or r.title or r.abstract


# --- mutations --------------------------------------------------------------------------------

@st.composite
def byte_mutation(draw):
    kind = draw(st.sampled_from(["replace", "insert", "token", "delete", "duplicate", "truncate"]))
    at = draw(st.floats(0, 1))
    if kind == "replace":
        return kind, at, draw(st.integers(0, 255))
    if kind == "insert":
        return kind, at, draw(st.binary(min_size=1, max_size=8))
    if kind == "token":
        return kind, at, draw(st.sampled_from(TOKENS))
    return kind, at, draw(st.floats(0, 0.3))


def mutate_bytes(data: bytes, mutations) -> bytes:
    b = bytearray(data)
    for kind, at, arg in mutations:
        i = min(int(at * len(b)), len(b))
        if kind == "replace" and b:
            b[min(i, len(b) - 1)] = arg
        elif kind in ("insert", "token"):
            b[i:i] = arg
        elif kind == "delete":
            del b[i:i + int(arg * len(b)) + 1]
        elif kind == "duplicate":
            b[i:i] = b[i:i + int(arg * len(b)) + 1]
        elif kind == "truncate":
            del b[i:]
    return bytes(b)


@st.composite
def line_mutation(draw):
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert"]))
    return kind, draw(st.floats(0, 1)), draw(st.floats(0, 1)), draw(st.sampled_from(TOKENS))


def mutate_lines(data: bytes, mutations) -> bytes:
    lines = data.split(b"\n")
    for kind, a, b, token in mutations:
        i, j = int(a * (len(lines) - 1)), int(b * (len(lines) - 1))
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(j, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            lines.insert(i, token + lines[j][:40])
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@fuzz_settings(400)
@given(fixture=st.sampled_from(FIXTURES), ext=st.sampled_from([None] + EXTENSIONS),
       lines=st.lists(line_mutation(), max_size=4), mutations=st.lists(byte_mutation(), max_size=6),
       allow_empty=st.booleans())
def test_mutated_fixtures(workdir, watchdog, fixture, ext, lines, mutations, allow_empty):
    p = workdir / ("mutated" + (fixture.suffix if ext is None else ext))
    p.write_bytes(mutate_bytes(mutate_lines(fixture.read_bytes(), lines), mutations))
    check(watchdog, p, allow_empty)


# --- generated text files ---------------------------------------------------------------------

#: Text with the characters that matter to the readers (controls, quotes, delimiters, line ends).
_NORMAL = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00\r\n")
_SPECIAL = st.sampled_from(list("\"',;\t| -<>[]\x1b\x07\x0c\x85\x9b\x7f\ufeff\u2028\x00\r\n"))
TEXT = st.text(st.one_of(_SPECIAL, _NORMAL, _NORMAL, _NORMAL), max_size=30)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


RIS_TAGS = ["TY", "TI", "T1", "AB", "N2", "AU", "A1", "PY", "Y1", "DA", "DO", "UR", "N1", "KW", "JF", "T2", "AN",
            "DB", "ID", "M3", "ER"]


@st.composite
def ris_file(draw):
    out = []
    for _ in range(draw(st.integers(0, 4))):
        out.append("TY" + draw(st.sampled_from([" - ", "  - ", "   - ", "  -"])) + draw(st.sampled_from(["JOUR", "", "BOOK"])))
        if draw(st.integers(0, 9)) < 9:  # most records have a title (Hypothesis favours small integers)
            out.append(f"{draw(st.sampled_from(['TI', 'T1']))}  - {draw(TEXT)}x")
        for _ in range(draw(st.integers(0, 6))):
            tag = draw(st.one_of(st.sampled_from(RIS_TAGS), st.from_regex(r"[A-Z][A-Z0-9]", fullmatch=True)))
            out.append(f"{tag}  - {draw(TEXT)}")
            out += [draw(st.sampled_from(["", " ", "      "])) + draw(TEXT) for _ in range(draw(st.integers(0, 2)))]
        if draw(st.booleans()):
            out.append("ER  - ")
        out += [""] * draw(st.integers(0, 1))
    return draw(st.sampled_from(["\n", "\r\n"])).join(out)


MEDLINE_TAGS = ["PMID", "TI", "AB", "FAU", "AU", "DP", "JT", "TA", "AID", "LID", "OT", "MH", "BTI", "DEP"]


@st.composite
def medline_file(draw):
    out = []
    for _ in range(draw(st.integers(0, 3))):
        rare = draw(st.integers(0, 9)) == 9
        out.append(f"PMID- {draw(TEXT if rare else st.integers(0, 10**9).map(str))}")
        if draw(st.integers(0, 9)) < 9:
            out.append(f"TI  - {draw(TEXT)}x")
        for _ in range(draw(st.integers(0, 6))):
            tag = draw(st.sampled_from(MEDLINE_TAGS))
            value = draw(TEXT)
            if tag in ("AID", "LID"):
                value += draw(st.sampled_from([" [doi]", " [pii]", ""]))
            out.append(f"{tag:<4}- {value}")
            out += ["      " + draw(TEXT) for _ in range(draw(st.integers(0, 2)))]
        out.append("")
    return "\n".join(out)


COLUMN_NAMES = ["title", "Title", "Article Title", "abstract", "Abstract Note", "doi", "DOI", "pmid", "authors",
                "year", "Publication Year", "journal", "keywords", "label_included", "included", "decision", ""]
LABEL_VALUES = ["", "1", "0", "yes", "no", "include", "exclude", "maybe", "TRUE", "perhaps"]


@st.composite
def delimited_file(draw):
    import csv

    delimiter = draw(st.sampled_from([",", "\t", ";", "|"]))
    header = draw(st.lists(st.one_of(st.sampled_from(COLUMN_NAMES), TEXT), max_size=5))
    if draw(st.integers(0, 9)) < 9:  # most files have a title column
        header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(["title", "Title", "TI", "Article Title"])))
    width = max(len(header), 1)
    cell = st.one_of(TEXT, st.sampled_from(LABEL_VALUES), st.text("abc xyz", min_size=1, max_size=12))
    ragged = draw(st.integers(0, 4)) == 4  # mostly rows as wide as the header
    rows = draw(st.lists(st.lists(cell, min_size=0 if ragged else width, max_size=width + ragged), max_size=5))
    if draw(st.booleans()):  # a proper writer: quotes as needed
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=delimiter, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue()
    return "\n".join(delimiter.join(r) for r in [header] + rows)  # a careless one


@fuzz_settings(150)
@given(text=st.one_of(ris_file(), medline_file()), encoding=st.sampled_from(ENCODINGS),
       ext=st.sampled_from(EXTENSIONS[:4]))
def test_generated_tagged_files(workdir, watchdog, text, encoding, ext):
    p = workdir / ("tagged" + ext)
    p.write_bytes(encode(text, encoding))
    check(watchdog, p)


@fuzz_settings(150)
@given(text=delimited_file(), encoding=st.sampled_from(ENCODINGS), ext=st.sampled_from([".csv", ".tsv", ".txt"]),
       allow_empty=st.booleans())
def test_generated_delimited_files(workdir, watchdog, text, encoding, ext, allow_empty):
    p = workdir / ("table" + ext)
    p.write_bytes(encode(text, encoding))
    check(watchdog, p, allow_empty)


# --- .xlsx --------------------------------------------------------------------------------------

#: Cell values openpyxl can write (it refuses C0 controls other than tab, LF and CR).
CELL_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"],
                                  exclude_characters=[chr(c) for c in range(32) if c not in (9, 10, 13)]),
                    max_size=20)
CELL = st.one_of(st.none(), CELL_TEXT, st.sampled_from(COLUMN_NAMES + LABEL_VALUES), st.integers(-10**6, 10**6),
                 st.floats(allow_nan=True, allow_infinity=False, width=32), st.booleans(),
                 st.dates(), st.datetimes())


def workbook_bytes(rows) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def remix(data: bytes, member_mutations) -> bytes:
    """The zip `data` with byte mutations applied inside some of its (decompressed) XML parts."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    names = zin.namelist()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for i, name in enumerate(names):
            part = zin.read(name)
            for which, mutations in member_mutations:
                if which % len(names) == i:
                    part = mutate_bytes(part, mutations)
            zout.writestr(name, part)
    return out.getvalue()


XML_TOKENS = [b"<", b">", b"</", b'"', b"&", b"&amp;", b"&#x9b;", b"&#27;", b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>",
              b'r="XFD1"', b'r="99999999"', b'<row r="5000000">', b't="s"', b't="d"', b'<v>1e308</v>',
              b"<v>99999999</v>", b'ref="A1:XFD1048576"', b"_x001B_", b"</sheetData>", b"<c>"]


@st.composite
def xml_mutation(draw):
    kind, at, arg = draw(byte_mutation())
    if draw(st.booleans()):
        return "token", at, draw(st.sampled_from(XML_TOKENS))
    return kind, at, arg


@fuzz_settings(80)
@given(rows=st.lists(st.lists(CELL, max_size=4), max_size=5),
       header=st.lists(st.sampled_from(COLUMN_NAMES), max_size=3),
       member_mutations=st.lists(st.tuples(st.integers(0, 20), st.lists(xml_mutation(), max_size=4)), max_size=2),
       zip_mutations=st.one_of(st.just([]), st.lists(byte_mutation(), max_size=2)))
def test_generated_and_mutated_workbooks(workdir, watchdog, rows, header, member_mutations, zip_mutations):
    data = workbook_bytes([["Title"] + header] + rows)
    if member_mutations:
        data = remix(data, member_mutations)
    p = workdir / "book.xlsx"
    p.write_bytes(mutate_bytes(data, zip_mutations))
    check(watchdog, p)
