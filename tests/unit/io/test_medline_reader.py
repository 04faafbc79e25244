"""PubMed/MEDLINE reader."""

import pytest

from triage.errors import ImportFormatError
from triage.io.medline import parse_medline
from triage.io.read import read_file


def test_pubmed_nbib(exports):
    fmt, recs = read_file(exports / "pubmed.nbib")
    assert fmt == "medline" and [r.pmid for r in recs] == ["30901234", "29876543", "34567890"]
    r = recs[0]
    assert r.title == "Mindfulness-based stress reduction for anxiety in university students: a randomised controlled trial."
    assert r.abstract.startswith("BACKGROUND: Anxiety") and "limited. METHODS" in r.abstract
    assert r.authors == ["Hartmann, Lena", "O'Neill, Sean P"]  # FAU preferred over AU
    assert r.year == 2019 and r.journal == "Journal of affective disorders"
    assert r.doi == "10.1016/j.jad.2019.03.014"  # the [doi] AID, not the [pii]
    assert r.keywords == ["mindfulness", "students", "Adolescent", "Anxiety/*therapy", "*Mindfulness"]
    assert r.fields["PT"] == ["Journal Article", "Randomized Controlled Trial"]
    assert (r.line, recs[1].line, recs[2].line) == (1, 33, 48)
    assert recs[1].doi == "" and recs[2].year == 2021


def test_medline_detected_despite_csv_extension(exports, tmp_path):
    p = tmp_path / "pubmed.csv"
    p.write_bytes((exports / "pubmed.nbib").read_bytes())
    assert read_file(p)[0] == "medline"


def test_tag_before_first_pmid_is_an_error():
    with pytest.raises(ImportFormatError, match="line 1: tag TI before the first 'PMID- ' line"):
        parse_medline([(1, "TI  - A title"), (2, "PMID- 1")], "x.nbib")


def test_garbled_line_is_an_error():
    with pytest.raises(ImportFormatError, match="line 2: not a MEDLINE tag line"):
        parse_medline([(1, "PMID- 1"), (2, "this is not a tag")], "x.nbib")


def test_long_wrapped_medline_field_joins_in_linear_time(watchdog):
    """A 3.4 MB abstract wrapped over 40,000 lines took minutes (each line copied the value so far)."""
    lines = [(1, "PMID- 1"), (2, "TI  - A title"), (3, "AB  - start")]
    lines += [(i + 4, "      " + "word " * 16) for i in range(40_000)] + [(40_004, "FAU - Smith, J")]
    with watchdog(30):
        recs = parse_medline(lines, "x.nbib")
    assert len(recs[0].abstract) == len("start") + 40_000 * len(" word" * 16)
    assert recs[0].authors == ["Smith, J"]


def test_medline_continuation_of_repeated_tags():
    text = "PMID- 1\nTI  - A\n      title\nOT  - one\n      two\nOT  - three\n\nPMID- 2\nTI  - B\n"
    recs = parse_medline(list(enumerate(text.splitlines(), start=1)), "x.nbib")
    assert recs[0].title == "A title" and recs[0].keywords == ["one two", "three"] and recs[1].title == "B"
