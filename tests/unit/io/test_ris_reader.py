"""RIS reader: vendor quirks, tag variants, labels, and agreement with rispy where rispy works."""

import pytest
import rispy

from triage.errors import ImportFormatError
from triage.io.ris import find_doi, parse_ris, parse_year
from triage.io.read import read_file


def lines(text: str):
    return list(enumerate(text.splitlines(), start=1))


def test_ovid_tags_continuation_lines_and_pmid_from_accession_number(exports):
    fmt, recs = read_file(exports / "ovid_medline.ris")
    assert fmt == "ris" and len(recs) == 4
    r = recs[0]
    assert r.title.startswith("Mindfulness-based stress reduction")  # T1
    assert r.authors == ["Hartmann, Lena", "O'Neill, Sean P", "Kowalczyk, Marta"]  # A1
    assert r.year == 2019  # Y1 "2019//"
    assert r.journal == "Journal of affective disorders"  # JF preferred over JA
    assert r.doi == "10.1016/J.JAD.2019.03.014"  # from the M3 URL
    assert r.pmid == "30901234"  # AN, because DB is Ovid MEDLINE
    assert r.abstract.endswith("(d = 0.41).") and "limited. METHODS" in r.abstract  # N2 + continuation
    assert "  " not in r.abstract
    assert r.fields["KW"][2] == "*Mindfulness" and r.fields["JA"] == "J Affect Disord"
    assert (r.position, r.line) == (1, 1)
    assert recs[1].line == 27 and recs[1].doi == ""


def test_ebsco_bom_crlf_keeps_first_record(exports):
    _, recs = read_file(exports / "ebsco_cinahl.ris")
    assert [r.year for r in recs] == [2020, 2018, 2021]
    assert recs[0].title.startswith("Effects of <i>Lactobacillus")
    assert recs[0].fields["TY"] == "JOUR"
    assert recs[0].doi == "10.1186/S12888-020-02567-1"
    assert recs[0].pmid == ""  # a CINAHL accession number is not a PMID
    assert recs[1].title.startswith("Prévalence")
    assert not any("\r" in r.abstract or "\ufeff" in r.title for r in recs)


def test_missing_final_er_and_odd_tag_spacing_scopus(exports):
    _, recs = read_file(exports / "scopus.ris")
    assert len(recs) == 3
    last = recs[2]
    assert last.title == "Virtual reality exposure therapy for fear of flying: a randomised trial"  # "TI -  "
    assert last.abstract.endswith("virtual reality exposure or in-vivo exposure.")  # unindented continuation
    assert last.journal == "Cyberpsychology, Behavior, and Social Networking"  # T2


def test_wos_doi_with_prefix_and_month_year(exports):
    _, recs = read_file(exports / "wos.ris")
    assert recs[1].doi == "10.1016/j.jad.2019.03.014"  # "DOI 10.1016/..."
    assert recs[0].year == 2019 and recs[0].fields["AN"] == "WOS:000465123400008"


def test_endnote_author_fallback_and_dois_in_url_and_notes(exports):
    _, recs = read_file(exports / "endnote.ris")
    assert recs[0].authors == ["Rossi, Giulia", "Bianchi, Marco"]  # A2 (editor) not an author
    assert recs[1].authors == ["Kim, Ji-woo"] and recs[1].doi == "10.1016/j.sleh.2021.01.004"  # A1, UR
    assert recs[2].doi == "10.1007/978-3-030-12345-6_7"  # "DOI: ..." in N1, trailing text dropped
    assert recs[0].keywords == [] and recs[1].keywords == ["sleep", "smartphone", "adolescents"]


def test_zotero_year_slashes_pmid_in_notes_and_url(exports):
    _, recs = read_file(exports / "zotero.ris")
    assert [r.year for r in recs] == [2021, 2020, 2019]
    assert recs[0].pmid == "33456789" and recs[0].doi == "10.1111/dme.14501"
    assert recs[2].pmid == "30812345"  # pubmed URL; last record has no ER


def test_asreview_notes_become_prior_labels(exports):
    _, recs = read_file(exports / "asreview_labels.ris")
    assert [r.label for r in recs] == ["include", "exclude", None, None]
    assert recs[2].fields["N1"] == ["Imported from Scopus", "ASReview_not_seen"]


def test_agrees_with_rispy_where_rispy_reads_the_file(exports):
    for name in ("ovid_medline.ris", "endnote.ris", "wos.ris", "asreview_labels.ris"):
        with open(exports / name, encoding="utf-8") as f:
            theirs = rispy.load(f)
        _, ours = read_file(exports / name)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a.title == (b.get("title") or b.get("primary_title"))
            assert a.authors == (b.get("authors") or b.get("first_authors") or [])


def test_rispy_drops_records_that_we_keep(exports):
    """Why rispy is not used: BOM and missing final ER lose records silently."""
    for name, n in (("ebsco_cinahl.ris", 3), ("scopus.ris", 3), ("zotero.ris", 3)):
        with open(exports / name, encoding="utf-8") as f:
            assert len(rispy.load(f)) < n
        assert len(read_file(exports / name)[1]) == n


def test_repeated_tags_become_lists_and_single_tags_stay_strings():
    recs = parse_ris(lines("TY  - JOUR\nTI  - A title of four words\nKW  - a\nKW  - b\nER  - \n"))
    assert recs[0].fields == {"TY": "JOUR", "TI": "A title of four words", "KW": ["a", "b"]}


def test_missing_er_between_records_starts_a_new_record():
    recs = parse_ris(lines("TY  - JOUR\nTI  - First\nTY  - JOUR\nTI  - Second\nER  - \n"))
    assert [r.title for r in recs] == ["First", "Second"] and recs[1].line == 3


def test_tag_outside_a_record_is_an_error():
    with pytest.raises(ImportFormatError, match=r"line 3: tag AU outside a record"):
        parse_ris(lines("TY  - JOUR\nER  - \nAU  - Smith\n"), "x.ris")


def test_file_cut_inside_a_record_is_reported(exports):
    with pytest.raises(ImportFormatError, match=r"line 6: the file ends inside record 2 .* truncated"):
        read_file(exports / "bad_cut_mid_record.ris")


def test_cut_with_garbage_is_reported_with_line(exports):
    with pytest.raises(ImportFormatError, match=r"bad_truncated.ris, line 11: binary data .* truncated"):
        read_file(exports / "bad_truncated.ris")


@pytest.mark.parametrize("text,year", [("2019///", 2019), ("2019/05/01/", 2019), ("MAY 2019", 2019),
                                       ("2021 Nov-Dec", 2021), ("n.d.", None), ("12345", None)])
def test_parse_year(text, year):
    assert parse_year(text) == year


@pytest.mark.parametrize("text,doi", [
    ("https://doi.org/10.1000/xyz123", "10.1000/xyz123"),
    ("DOI: 10.1016/S0140-6736(18)32345-6.", "10.1016/S0140-6736(18)32345-6"),
    ("(see 10.1000/abc)", "10.1000/abc"),
    ("https://x.org/a?doi=10.1016%2Fj.jad.2019.03.014&md5=1", "10.1016/j.jad.2019.03.014"),
    ("no identifier here", ""),
])
def test_find_doi(text, doi):
    assert find_doi(text) == doi


def test_wiley_sici_dois_are_kept_whole_and_match_the_csv_export(exports):
    """SICI DOIs hold '<' and '>' (issue #13 item 7): cut at '<', they no longer de-duplicate."""
    from triage.io.dedup import normalise_doi

    ris = read_file(exports / "wiley_sici.ris")[1]
    csv = read_file(exports / "wiley_sici.csv")[1]
    assert [r.doi for r in ris] == ["10.1002/1097-4679(198901)45:1<76::aid-jclp2270450111>3.0.co;2-h",  # DO
                                    "10.1002/(SICI)1097-4679(199712)53:8<809::AID-JCLP4>3.0.CO;2-A"]  # UR, %3C %3E
    assert [normalise_doi(r.doi) for r in ris] == [normalise_doi(r.doi) for r in csv]


@pytest.mark.parametrize("text,doi", [
    ("<10.1000/xyz>", "10.1000/xyz"),
    ('<a href="https://doi.org/10.1000/x">10.1000/x</a>', "10.1000/x"),
    ("doi 10.1000/x<br>", "10.1000/x"),
    ("10.1002/x&lt;1::aid&gt;3.0.co;2-h", "10.1002/x<1::aid>3.0.co;2-h"),
])
def test_find_doi_angle_brackets_around_a_doi_are_not_part_of_it(text, doi):
    assert find_doi(text) == doi


def test_long_wrapped_ris_field_joins_in_linear_time(watchdog):
    """A 3.4 MB abstract wrapped over 40,000 lines took minutes (each line copied the value so far)."""
    lines_ = [(1, "TY  - JOUR"), (2, "TI  - A title"), (3, "AB  - start")]
    lines_ += [(i + 4, "   " + "word " * 16) for i in range(40_000)] + [(40_004, "ER  - ")]
    with watchdog(30):
        recs = parse_ris(lines_, "x.ris")
    assert len(recs[0].abstract) == len("start") + 40_000 * len(" word" * 16)
    assert recs[0].abstract.startswith("start word word") and recs[0].abstract.endswith("word word")


def test_continuation_joining_keeps_its_rules():
    recs = parse_ris(lines("TY  - JOUR\nTI  -\n  wrapped\n  title\nKW  - a\n b\nKW  - c\nER  - \n"))
    assert recs[0].title == "wrapped title" and recs[0].fields["KW"] == ["a b", "c"]
