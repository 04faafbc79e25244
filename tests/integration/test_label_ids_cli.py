"""`label` in the reviewer's own terms (DOI, PMID, the imported file's id column); `next` and
`export` carry DOI, PMID, year, authors and the source ids; CLI messages for common slips."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from triage.cli.main import cli
from triage.store.project import Project

RECORDS = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "records.csv"


def run(*args, ok: bool = True):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, r.output
    return r


def _project(tmp_path: Path, text: str) -> Path:
    src = tmp_path / "search.csv"
    src.write_text(text, encoding="utf-8")
    proj = tmp_path / "rv"
    run("init", proj)
    run("import", proj, src)
    return proj


SEARCH = ("ID,Title,Abstract,Authors,Year,DOI,PMID\n"
          "W3041186171,Statins after stroke: a cohort study,Abstract one,Smith J; Lee K,2020,10.1000/A.1,111\n"
          "W2000000002,Exercise for knee pain in older adults,Abstract two,Ward A,2019,10.1000/b.2,222\n"
          "W2000000003,Aspirin and cancer incidence in a trial,Abstract three,Li X,2018,,333\n")


def test_label_file_by_the_imported_files_own_id_column(tmp_path):
    proj = _project(tmp_path, SEARCH)
    f = tmp_path / "mine.csv"
    f.write_text("ID,label\nW3041186171,include\nW2000000002,exclude\n", encoding="utf-8")
    r = run("label", proj, f, ok=False)  # without --id-column: the column record_id is missing
    assert r.exit_code == 2 and "missing column 'record_id'" in r.output
    assert "Saved 2 labels" in run("label", proj, f, "--id-column", "ID").output
    with Project.open(proj, readonly=True) as p:
        by_doi = {r.doi.lower(): r.id for r in p.records()}
        assert p.current_labels() == {by_doi["10.1000/a.1"]: "include", by_doi["10.1000/b.2"]: "exclude"}


def test_label_by_doi_and_pmid_and_unknown_ids_are_listed(tmp_path):
    proj = _project(tmp_path, SEARCH)
    f = tmp_path / "doi.csv"
    f.write_text("doi,label\nhttps://doi.org/10.1000/a.1,exclude\n10.9999/none,include\n", encoding="utf-8")
    r = run("label", proj, f, "--id-column", "doi", ok=False)
    assert r.exit_code == 2 and "line 3: no record with doi '10.9999/none'" in r.output
    out = run("label", proj, "--record", "333", "include", "--id-column", "pmid").output
    assert "-> include" in out
    r = run("label", proj, "--record", "W3041186171", "include", ok=False)
    assert r.exit_code == 2 and "--id-column" in r.output


def test_next_and_export_carry_identifiers(tmp_path):
    proj = _project(tmp_path, SEARCH)
    out = run("next", proj, "-n", 3, "--preset", "tfidf_svm").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"doi", "pmid", "year", "authors", "source_ids"} <= set(rows[0])
    assert {r["source_ids"] for r in rows} == {"W3041186171", "W2000000002", "W2000000003"}
    assert {r["pmid"] for r in rows} == {"111", "222", "333"}
    exp = list(csv.DictReader(io.StringIO(run("export", proj, "--format", "csv").stdout)))
    assert {r["source_ids"] for r in exp} == {"W3041186171", "W2000000002", "W2000000003"}


def test_label_with_a_positional_record_id_says_to_use_record(tmp_path):
    proj = _project(tmp_path, SEARCH)
    r = run("label", proj, "10", "include", ok=False)
    assert r.exit_code == 2 and f"triage label {proj} --record 10 include" in r.output
