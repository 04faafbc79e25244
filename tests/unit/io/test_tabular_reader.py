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
