"""CSV/TSV/xlsx reader: column variants, labels, errors naming rows and columns."""

import pytest
from openpyxl import Workbook

from triage.errors import ImportFormatError
from triage.io.read import read_file
from triage.io.tabular import map_columns, parse_delimited


def lines(text: str):
    return list(enumerate(text.splitlines(), start=1))


def test_csv_columns_labels_and_multiline_fields(exports):
    fmt, recs = read_file(exports / "records.csv")
    assert fmt == "csv" and len(recs) == 4
    a, b, c, d = recs
    assert a.authors == ["Larsen, Mette", "Haugen, Ole"] and a.year == 2019 and a.keywords == ["osteoarthritis", "exercise"]
    assert a.journal == "Osteoarthritis and Cartilage" and a.doi == "10.1016/j.joca.2019.01.009"
    assert a.fields["record_id"] == "1" and a.fields["Title"] == a.title
    assert [r.label for r in recs] == ["include", "exclude", None, "exclude"]
    assert "\nA second paragraph" in b.abstract  # quoted field spanning two lines
    assert [r.line for r in recs] == [2, 3, 5, 6]  # line where each row starts
    assert c.pmid == "31234111" and d.title == "" and d.abstract


def test_tsv_web_of_science_headers_and_yes_no_labels(exports):
    fmt, recs = read_file(exports / "records.tsv")
    assert fmt == "tsv"
    assert recs[0].title == "Walking groups for older adults with depression"  # "Article Title"
    assert recs[0].journal == "Aging & Mental Health"  # "Source Title"
    assert recs[0].keywords == ["walking", "depression"]  # "Author Keywords"
    assert [r.label for r in recs] == ["include", "exclude", None]


@pytest.mark.parametrize("header,expected", [
    (["Primary_Title", "Notes_Abstract", "TI"], {"title": 0}),
    (["TI", "AB", "PY", "KW", "label_included"], {"title": 0, "abstract": 1, "year": 2, "keywords": 3, "label": 4}),
    (["Abstract Note", "Title", "Publication Year", "PubMed ID", "Decision"],
     {"abstract": 0, "title": 1, "year": 2, "pmid": 3, "label": 4}),
])
def test_column_variants(header, expected):
    assert map_columns(header) == expected


@pytest.mark.parametrize("value,label", [("1", "include"), ("0", "exclude"), ("Y", "include"), ("n", "exclude"),
                                         ("Include", "include"), ("maybe", "maybe"), ("TRUE", "include"),
                                         ("false", "exclude"), ("", None)])
def test_label_values(value, label):
    recs = parse_delimited(lines(f"title,included\nSome title,{value}\n"), "x.csv", ",")
    assert recs[0].label == label


def test_unknown_label_names_line_and_value(exports):
    with pytest.raises(ImportFormatError, match=r"bad_label.csv, line 3: unknown label value 'perhaps'"):
        read_file(exports / "bad_label.csv")


def test_no_title_column_lists_columns(exports):
    with pytest.raises(ImportFormatError, match=r"no title column; columns found: 'id', 'Abstract', 'Year', 'DOI'"):
        read_file(exports / "bad_no_title.csv")


def test_semicolon_delimiter_is_sniffed(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text("Title;Abstract;Year\nA study of things;Some text, with a comma;2020\n", encoding="utf-8")
    fmt, recs = read_file(p)
    assert fmt == "csv" and recs[0].abstract == "Some text, with a comma" and recs[0].year == 2020


def test_extra_cells_are_an_error():
    with pytest.raises(ImportFormatError, match=r"line 2: row has 3 cells but the header has 2"):
        parse_delimited(lines("title,abstract\nA title, with comma,abstract\n"), "x.csv", ",")


def test_xlsx_read_only(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["record_id", "Title", "Abstract", "Publication Year", "label_included"])
    ws.append([7, "Walking groups for older adults", "Walking helped.", 2022, 1])
    ws.append([None, None, None, None, None])
    ws.append([8, "Reading glasses and falls", None, 2016.0, 0])
    p = tmp_path / "export.xlsx"
    wb.save(p)
    fmt, recs = read_file(p)
    assert fmt == "xlsx" and [r.title for r in recs] == ["Walking groups for older adults", "Reading glasses and falls"]
    assert [r.label for r in recs] == ["include", "exclude"] and recs[1].year == 2016
    assert recs[0].fields["record_id"] == "7" and recs[0].line is None and recs[1].position == 2


def test_xlsx_bad_label_names_the_row(tmp_path):
    wb = Workbook()
    wb.active.append(["title", "decision"])
    wb.active.append(["A title", "unsure"])
    p = tmp_path / "export.xlsx"
    wb.save(p)
    with pytest.raises(ImportFormatError, match=r"record 1: unknown label value 'unsure' in sheet row 2"):
        read_file(p)


# --- hardening (issue #10 items 6, 7, 13) ------------------------------------------------------

SHEET = "xl/worksheets/sheet1.xml"


def _xlsx(tmp_path, name="export.xlsx", rows=(("Title", "Abstract"), ("A trial of peer support", "Text.")),
          edit=None, level=6):
    """An .xlsx saved by openpyxl, with `edit` (member -> function of its bytes) applied after."""
    import zipfile

    wb = Workbook()
    for r in rows:
        wb.active.append(list(r))
    plain = tmp_path / ("plain_" + name)
    wb.save(plain)
    p = tmp_path / name
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if edit and info.filename in edit:
                data = edit[info.filename](data)
            zout.writestr(info.filename, data)
    return p


def _rows_before_end(xml_rows: str):
    return lambda data: data.replace(b"</sheetData>", xml_rows.encode() + b"</sheetData>")


def test_xlsx_zip_bomb_is_refused_before_parsing(tmp_path):
    row = '<row><c t="inlineStr"><is><t>A title of a paper</t></is></c></row>'
    p = _xlsx(tmp_path, edit={SHEET: _rows_before_end(row * 40_000)}, level=9)  # 2.6 MB of XML in ~10 KB
    assert p.stat().st_size < 50_000
    with pytest.raises(ImportFormatError, match=r"export.xlsx: the workbook part 'xl/worksheets/sheet1.xml' would "
                                                r"expand \d+ times .* refused as a possible zip bomb"):
        read_file(p)


def test_xlsx_total_uncompressed_size_is_bounded(tmp_path, monkeypatch):
    from triage.io import tabular

    monkeypatch.setattr(tabular, "MAX_XLSX_UNCOMPRESSED", 4000)
    with pytest.raises(ImportFormatError, match=r"export.xlsx: the workbook would expand to [\d,]+ bytes of XML, "
                                                r"more than the limit of 4,000"):
        read_file(_xlsx(tmp_path))


def test_xlsx_part_lying_about_its_size_is_an_error(tmp_path):
    """zipfile stops a part at its declared size and checks its CRC: the declared sizes bound the read."""
    import struct

    p = _xlsx(tmp_path, rows=[("Title",)] + [(f"A title number {i}",) for i in range(2000)])
    b = bytearray(p.read_bytes())
    name = SHEET.encode()
    for sig, size_at, name_len_at, name_at in ((b"PK\x01\x02", 24, 28, 46), (b"PK\x03\x04", 22, 26, 30)):
        i = b.find(sig)
        while i >= 0:
            n = struct.unpack_from("<H", b, i + name_len_at)[0]
            if b[i + name_at:i + name_at + n] == name:
                struct.pack_into("<I", b, i + size_at, 5000)  # declares 5,000 bytes; holds ~100,000
            i = b.find(sig, i + 4)
    p.write_bytes(bytes(b))
    with pytest.raises(ImportFormatError, match=r"export.xlsx: .*damaged zip archive \(Bad CRC-32"):
        read_file(p)


def test_xlsx_row_far_below_is_bounded_not_a_hang(tmp_path, monkeypatch, watchdog):
    from triage.io import tabular

    monkeypatch.setattr(tabular, "MAX_ROWS", 1000)
    # openpyxl yields every missing row before row 50,000,000: a 5 KB file, minutes of work
    p = _xlsx(tmp_path, edit={SHEET: _rows_before_end('<row r="50000000"><c r="A50000000" t="inlineStr">'
                                                      '<is><t>late</t></is></c></row>')})
    with watchdog(30), pytest.raises(ImportFormatError, match=r"export.xlsx: sheet row 1,002: more than 1,000 rows "
                                                              r"after the header; split the file"):
        read_file(p)


def test_xlsx_cells_beyond_the_column_limit(tmp_path, watchdog):
    far = _rows_before_end('<row r="3"><c r="A3" t="inlineStr"><is><t>x</t></is></c>'
                           '<c r="XFD3" t="inlineStr"><is><t>far</t></is></c></row>')
    with watchdog(30), pytest.raises(ImportFormatError, match=r"export.xlsx: sheet row 3 has cells beyond column 1,000"):
        read_file(_xlsx(tmp_path, edit={SHEET: far}))
    # empty (formatted) cells far to the right are ignored
    styled = _rows_before_end('<row r="3"><c r="A3" t="inlineStr"><is><t>Third title</t></is></c><c r="XFD3" s="0"/></row>')
    assert [r.title for r in read_file(_xlsx(tmp_path, name="styled.xlsx", edit={SHEET: styled}))[1]][-1] == "Third title"


def test_xlsx_wrong_dimension_does_not_drop_rows(tmp_path):
    """openpyxl read-only stops at the sheet's declared dimension; writers that get it wrong lost rows."""
    import re

    rows = [("Title",), ("First title",), ("Second title",), ("Third title",)]
    p = _xlsx(tmp_path, rows=rows, edit={SHEET: lambda d: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:A2"', d)})
    assert [r.title for r in read_file(p)[1]] == ["First title", "Second title", "Third title"]


@pytest.mark.parametrize("member", [SHEET, "xl/workbook.xml", "xl/styles.xml"])
def test_xlsx_malformed_xml_names_the_file(tmp_path, member):
    p = _xlsx(tmp_path, edit={member: lambda d: d[: len(d) // 2]})
    with pytest.raises(ImportFormatError, match=r"export.xlsx: .*malformed XML inside the workbook \(.*\); open it in "
                                                r"Excel and save it again, or save the sheet as CSV"):
        read_file(p)


def test_repeated_header_names_are_numbered():
    from triage.io.tabular import unique_names

    assert unique_names(["Title", "", "Title", "Title (2)", "Title", ""]) == [
        "Title", "column 2", "Title (2)", "Title (2) (2)", "Title (3)", "column 6"]
    names = unique_names(["title"] * 1000)
    assert len(set(names)) == 1000 and names[-1] == "title (1000)"


def test_header_with_thousands_of_columns_is_refused(tmp_path, watchdog):
    p = tmp_path / "wide.csv"
    p.write_text(",".join(["title"] * 4000) + "\nA title\n")  # 24 KB: ran > 90 s (quadratic renaming)
    with watchdog(30), pytest.raises(ImportFormatError, match=r"wide.csv, line 1: the header row has 4,000 columns, "
                                                              r"more than the 1,000 a search export can have"):
        read_file(p)


def test_duplicate_columns_keep_their_values(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("Title,Notes,Notes,\nA trial of peer support,first,second,unnamed\n")
    assert read_file(p)[1][0].fields == {"Title": "A trial of peer support", "Notes": "first", "Notes (2)": "second",
                                          "column 4": "unnamed"}


def test_csv_rows_are_bounded(monkeypatch):
    from triage.io import tabular

    monkeypatch.setattr(tabular, "MAX_ROWS", 3)
    with pytest.raises(ImportFormatError, match=r"x.csv, line 5: more than 3 rows after the header; split the file"):
        parse_delimited(lines("title\na\nb\n\nc\nd\n"), "x.csv", ",")


def test_unterminated_quote_names_the_line_where_it_opened(tmp_path):
    p = tmp_path / "quote.csv"
    body = "".join(f"Title {i},Abstract {i}\n" for i in range(3, 12))
    p.write_text("title,abstract\nFirst title,First abstract\n" + body + 'Peer "support",\"An abstract that never ends\n'
                 + "".join(f"Title {i},Abstract {i}\n" for i in range(13, 40)))
    with pytest.raises(ImportFormatError, match=r"quote.csv, line 12: a quoted field opened here is never closed: "
                                                r"every line after it up to the end of the file \(line 39\)"):
        read_file(p)


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_unterminated_quote_on_the_last_line_or_in_the_header(delimiter):
    d = delimiter
    with pytest.raises(ImportFormatError, match=r"line 3: a quoted field opened here is never closed"):
        parse_delimited(lines(f'title{d}abstract\nA{d}b\nC{d}"open'), "x", d)
    with pytest.raises(ImportFormatError, match=r"line 1: a quoted field opened here is never closed"):
        parse_delimited(lines(f'title{d}"abstract\nA{d}b\n'), "x", d)


@pytest.mark.parametrize("tail", ["", "\n", "\n\n"])
def test_multiline_quoted_fields_still_import(tail):
    text = 'title,abstract\n"A title",\"First paragraph.\n\nSecond, with ""quotes"".\"\nB,"Last\nrecord"' + tail
    recs = parse_delimited(lines(text), "x.csv", ",")
    assert [r.abstract for r in recs] == ['First paragraph.\n\nSecond, with "quotes".', "Last\nrecord"]
    assert [r.line for r in recs] == [2, 5]


def test_empty_header_cells_at_the_end_do_not_count_as_columns():
    recs = parse_delimited(lines("title,abstract" + "," * 5000 + "\nA title,An abstract\n"), "x.csv", ",")
    assert recs[0].fields == {"title": "A title", "abstract": "An abstract"}
