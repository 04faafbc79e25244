"""read_file: format detection from content, encodings, bad files, progress."""

import zipfile

import pytest

from triage.errors import ImportFormatError
from triage.io.read import file_sha256, read_file

RIS = "TY  - JOUR\nTI  - {title}\nAB  - An abstract.\nPY  - 2020\nER  - \n\n"


@pytest.mark.parametrize("name,fmt,n", [
    ("ovid_medline.ris", "ris", 4), ("ebsco_cinahl.ris", "ris", 3), ("scopus.ris", "ris", 3), ("wos.ris", "ris", 2),
    ("endnote.ris", "ris", 3), ("zotero.ris", "ris", 3), ("asreview_labels.ris", "ris", 4),
    ("pubmed.nbib", "medline", 3), ("records.csv", "csv", 4), ("records.tsv", "tsv", 3),
    ("cp1252.ris", "ris", 1), ("utf16.tsv", "tsv", 2),
])
def test_every_fixture_reads(exports, name, fmt, n):
    got_fmt, recs = read_file(exports / name)
    assert (got_fmt, len(recs)) == (fmt, n)
    assert all(r.title or r.abstract for r in recs)
    assert [r.position for r in recs] == list(range(1, n + 1))


def test_cp1252_is_detected_and_decoded(exports):
    r = read_file(exports / "cp1252.ris")[1][0]
    assert r.authors == ["Müller, Jürgen", "Ødegård, Søren"]
    assert r.title == "Patients’ views on café-based “memory clinics”: a qualitative study"
    assert "65–90" in r.abstract and r.journal == "Revue française de gériatrie"


def test_utf16_with_bom(exports):
    recs = read_file(exports / "utf16.tsv")[1]
    assert [r.title for r in recs] == ["Étude de cohorte sur la dépression", "Studie zur Angststörung"]
    assert recs[1].year == 2019


def test_mixed_utf8_and_cp1252_lines_decode_each_correctly(tmp_path):
    p = tmp_path / "mixed.ris"
    p.write_bytes(RIS.format(title="Café society in Zürich (UTF-8)").encode("utf-8")
                  + RIS.format(title="Naïve café-goers’ views (Windows)").encode("cp1252"))
    titles = [r.title for r in read_file(p)[1]]
    assert titles == ["Café society in Zürich (UTF-8)", "Naïve café-goers’ views (Windows)"]


def test_undecodable_byte_names_offset_and_line(tmp_path):
    p = tmp_path / "bad.ris"
    good = RIS.format(title="A readable title of some length").encode("cp1252")
    head = good + "TY  - JOUR\nTI  - Ré".encode("cp1252")
    p.write_bytes(head + bytes(range(128, 256)) + b"\n")
    at = len(head) + 2  # b"\xe9\x80\x81" is valid UTF-8: 0x82 is the first bad byte
    with pytest.raises(ImportFormatError, match=rf"bad.ris, line 8: not valid UTF-8 \(byte 0x82 at byte offset {at}\)") as e:
        read_file(p)
    assert "UTF-8" in str(e.value)


def test_empty_and_blank_files(exports, tmp_path):
    with pytest.raises(ImportFormatError, match=r"bad_empty.ris: empty file"):
        read_file(exports / "bad_empty.ris")
    p = tmp_path / "blank.ris"
    p.write_text("\n  \n\r\n")
    with pytest.raises(ImportFormatError, match="empty file"):
        read_file(p)


def test_binary_files_are_named(exports, tmp_path):
    with pytest.raises(ImportFormatError, match=r"bad_png_renamed.ris: binary file: a PNG image"):
        read_file(exports / "bad_png_renamed.ris")
    z = tmp_path / "export.ris"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("export.ris", RIS.format(title="x"))
    with pytest.raises(ImportFormatError, match="binary file: a zip archive"):
        read_file(z)


def test_content_decides_over_extension_and_errors_say_what_was_detected(exports, tmp_path):
    p = tmp_path / "really_ris.csv"
    p.write_bytes((exports / "wos.ris").read_bytes())
    assert read_file(p)[0] == "ris"
    q = tmp_path / "really_csv.ris"
    q.write_bytes((exports / "bad_no_title.csv").read_bytes())
    with pytest.raises(ImportFormatError, match=r"no title column.*content read as CSV; the \.ris extension was ignored"):
        read_file(q)


def test_record_without_title_or_abstract_is_named(exports):
    with pytest.raises(ImportFormatError, match=r"line 5: record 2 has neither title nor abstract"):
        read_file(exports / "bad_no_title_abstract.ris")


def test_ris_preamble_before_first_record_is_skipped(tmp_path):
    p = tmp_path / "publisher.ris"
    p.write_text("Provider: Some Publisher\nContent: text/plain; charset=\"UTF-8\"\n\n" + RIS.format(title="T"))
    fmt, recs = read_file(p)
    assert fmt == "ris" and recs[0].line == 4


def test_large_file_streams_with_progress(tmp_path):
    p = tmp_path / "big.ris"
    n = 6000  # ~3 MB: progress is reported per MB
    abstract = "word " * 100
    with open(p, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(f"TY  - JOUR\nTI  - Record number {i}\nAB  - {abstract}\nPY  - 2001\nER  - \n\n")
    calls = []
    fmt, recs = read_file(p, progress=lambda done, total: calls.append((done, total)))
    size = p.stat().st_size
    assert len(recs) == n and recs[-1].title == f"Record number {n - 1}"
    assert len(calls) >= 3 and calls[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:])) and all(t == size for _, t in calls)


def test_file_sha256(exports):
    import hashlib
    p = exports / "pubmed.nbib"
    assert file_sha256(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_bundled_sample_data_reads_with_labels():
    from pathlib import Path
    p = Path(__file__).resolve().parents[3] / "data" / "van_de_Schoot_2018_sample.csv"
    fmt, recs = read_file(p)
    assert fmt == "csv" and len(recs) == 500
    assert sum(r.label == "include" for r in recs) == 38 and sum(r.label == "exclude" for r in recs) == 462


def test_doi_prefix_variants_normalise_to_the_same_key():
    from triage.io.dedup import normalise_doi

    for d in ("doi.org/10.1/X", "DOI 10.1/x", "doi:10.1/x", "https://dx.doi.org/10.1/x", "10.1/x.", " 10.1/X "):
        assert normalise_doi(d) == "10.1/x"
    assert normalise_doi("not a doi") == ""


def test_stray_control_characters_read_as_spaces(tmp_path):
    f = tmp_path / "c.csv"
    f.write_bytes(b"title,abstract\nA trial of peer support in recovery,affects \x016 million adults\n")
    _, recs = read_file(f)
    assert recs[0].abstract == "affects  6 million adults"


def test_records_without_text_are_an_error_unless_allowed(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("title,abstract,label_included\nA trial of peer support workers,,1\n,,0\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="record 2 has neither title nor abstract"):
        read_file(f)
    _, recs = read_file(f, allow_empty=True)
    assert [r.label for r in recs] == ["include", "exclude"]


# --- control characters (issue #10 item 5): every reader cleans them the same way -------------

HOSTILE = "Peer support \x1b]0;PWNED\x07\x1b[2J in \x9b31mrecovery\x7f"
CLEANED = "Peer support  ]0;PWNED  [2J in  31mrecovery"  # each control character -> one space


def _strings(rec):
    """Every string a record carries, attributes and `fields` keys and values."""
    out = [rec.title, rec.abstract, rec.journal, rec.doi, rec.pmid, rec.note, *rec.authors, *rec.keywords]
    for k, v in rec.fields.items():
        out += [k] + (v if isinstance(v, list) else [v] if isinstance(v, str) else [])
    return out


def _hostile_file(tmp_path, kind):
    from openpyxl import Workbook

    p = tmp_path / f"hostile.{kind}"
    if kind == "xlsx":  # XML 1.0 cannot hold C0 controls but holds C1 ones, CR and DEL
        title = "Peer support \x9b2J in \x9b31mrecovery\x7f\r\nsecond line"
        wb = Workbook()
        wb.active.append(["Title\x85", "Abstract"])
        wb.active.append([title, "An \x90abstract"])
        wb.save(p)
        return p
    rows = {
        "csv": f"title,abstract,notes\n\"{HOSTILE}\",An\x01abstract,x\x1b[8m\n",
        "tsv-utf16": f"title\tabstract\n{HOSTILE}\tAn\x01abstract\n",
        "ris": f"TY  - JOUR\nTI  - {HOSTILE}\nAB  - An\x01abstract\nAU  - Smith\x1b[2J, J\nER  - \n",
        "nbib": f"PMID- 1\nTI  - {HOSTILE}\nAB  - An\x01abstract\n      \x9bmore\n",
    }
    text = rows[kind]
    p.write_bytes(text.encode("utf-16") if kind == "tsv-utf16" else text.encode("utf-8"))
    return p


@pytest.mark.parametrize("kind", ["csv", "tsv-utf16", "ris", "nbib", "xlsx"])
def test_every_reader_removes_control_characters(tmp_path, kind):
    import unicodedata

    _, recs = read_file(_hostile_file(tmp_path, kind))
    for s in _strings(recs[0]):
        bad = [c for c in s if unicodedata.category(c) == "Cc" and c not in "\t\n"]
        assert not bad, (kind, s)
    if kind == "xlsx":
        assert recs[0].title == "Peer support  2J in  31mrecovery \nsecond line"  # CR LF -> LF
        assert list(recs[0].fields) == ["Title", "Abstract"]  # header cells cleaned too
    else:
        assert recs[0].title == CLEANED and recs[0].abstract.startswith("An abstract")


def test_nul_characters_in_utf16_are_refused_like_nul_bytes(tmp_path):
    p = tmp_path / "nul.tsv"
    p.write_bytes("title\tabstract\nA title\tab\x00c\n".encode("utf-16"))
    with pytest.raises(ImportFormatError, match=r"nul.tsv, line 2: binary data \(NUL characters\)"):
        read_file(p)


def test_clean_text_rules():
    from triage.io.record import clean_text

    assert clean_text("a\tb\nc\r\nd\re\x00f\x1bg\x85h\x9fi\x7fj") == "a\tb\nc\nd\ne f g h i j"
    assert clean_text(clean_text("x\x1b\r\ny")) == clean_text("x\x1b\r\ny")  # idempotent
    assert clean_text("ünïcödé — “quotes” \u00a0") == "ünïcödé — “quotes” \u00a0"  # printable text untouched


def test_damaged_zip_is_named_as_such(tmp_path):
    from openpyxl import Workbook

    p = tmp_path / "export.xlsx"
    Workbook().save(p)
    p.write_bytes(p.read_bytes()[:-30])  # the end of the zip directory is cut off
    with pytest.raises(ImportFormatError, match=r"export.xlsx: not a readable Excel .xlsx workbook: damaged zip archive"):
        read_file(p)
    q = tmp_path / "export.zip"
    q.write_bytes(p.read_bytes())
    with pytest.raises(ImportFormatError, match=r"export.zip: binary file: a damaged zip archive"):
        read_file(q)
