"""`triage status`, `label`, `export`, `prisma`, `duplicates` end to end through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli.main import cli
from triage.io.read import read_file
from triage.io.record import Record
from triage.store.project import Project

FIXTURES = Path(__file__).parents[1] / "fixtures" / "exports"
COUNT_KEYS = {"records", "duplicates", "labelled", "included", "excluded", "maybe", "unlabelled",
              "identified", "rounds", "sources"}


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], lines[0]


def _dup_project(tmp_path, make_project, import_into) -> Path:
    d = make_project(tmp_path, [Record(title="Yoga for chronic low back pain in adults", year=2015,
                                       doi="10.5/yoga", position=1),
                                Record(title="Tai chi for balance in older people", year=2016, position=2)],
                     name="pubmed.nbib")
    with Project.open(d) as p:
        import_into(p, tmp_path, [
            Record(title="Yoga for Chronic Low Back Pain in Adults.", year=2015, doi="https://doi.org/10.5/YOGA",
                   abstract="embase copy", position=1, line=1),
            Record(title="Tai Chi for balance in older people", year=2016, abstract="copy", position=2, line=9),
            Record(title="Something unrelated on sleep hygiene", year=2020, position=3, line=17)], name="embase.ris")
    return d


# -- status / prisma ------------------------------------------------------------------------
def test_status_json_and_table(project_dir):
    run("label", project_dir, "--record", 1, "include")
    run("label", project_dir, "--record", 2, "n")
    run("label", project_dir, "--record", 3, "maybe")
    data = json.loads(run("status", project_dir, "--json").output)
    assert COUNT_KEYS <= set(data)
    assert (data["records"], data["labelled"], data["included"], data["excluded"], data["maybe"],
            data["unlabelled"]) == (6, 3, 1, 1, 1, 3)
    assert [s["name"] for s in data["sources"]] == ["search.csv"]
    table = run("status", project_dir).output
    assert "Unlabelled" in table and "search.csv" in table


def test_prisma_counts(tmp_path, make_project, import_into):
    d = _dup_project(tmp_path, make_project, import_into)
    run("label", d, "--record", 1, "include")
    run("label", d, "--record", 5, "exclude")
    data = json.loads(run("prisma", d, "--json").output)
    assert data["identified_by_source"] == [{"source": "pubmed.nbib", "records": 2},
                                            {"source": "embase.ris", "records": 3}]
    assert (data["identified"], data["duplicates_removed"], data["screened"], data["included"], data["excluded"],
            data["maybe"], data["not_screened"]) == (5, 2, 2, 1, 1, 0, 1)
    text = run("prisma", d).output
    assert "Duplicates removed: 2" in text and "Not yet screened: 1" in text


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("args, fragment", [
    (["status", "{missing}"], "not a triage project"),
    (["prisma", "{missing}", "--json"], "not a triage project"),
    (["label", "{proj}", "--record", "99", "include"], "no record with id 99"),
    (["label", "{proj}", "--record", "1", "relevant"], "unknown label 'relevant'"),
    (["label", "{proj}", "--record", "1", "--undo"], "no label to undo"),
    (["label", "{proj}", "--record", "1"], "either a label or --undo"),
    (["label", "{proj}"], "give a label file"),
    (["label", "{proj}", "{tmp}/nope.csv"], "no such file"),
    (["duplicates", "{proj}", "--split", "1"], "not a merged duplicate"),
    (["export", "{proj}", "--out", "{tmp}/no/such/dir/out.ris"], "cannot write"),
])
def test_errors_are_one_line_exit_2(project_dir, tmp_path, args, fragment):
    sub = {"{missing}": str(tmp_path / "missing"), "{proj}": str(project_dir), "{tmp}": str(tmp_path)}
    for k, v in sub.items():
        args = [a.replace(k, v) for a in args]
    assert_one_line_error(run(*args, ok=False), fragment)


# -- label ----------------------------------------------------------------------------------
def test_label_record_relabel_undo_and_audit(project_dir):
    out = run("label", project_dir, "--record", 4, "YES", "--note", "fits PICO", "--reviewer", "ann").output
    assert out.startswith("Saved") and "include" in out
    assert "was include" in run("label", project_dir, "--record", 4, "exclude", "--reason", "wrong design").output
    run("label", project_dir, "--record", 4, "--undo")
    with Project.open(project_dir) as p:
        assert 4 not in p.current_labels()
        ev = p.label_events(4)
    assert [e.label for e in ev] == ["include", "exclude", None]
    assert (ev[0].note, ev[0].reviewer, ev[1].reason) == ("fits PICO", "ann", "wrong design")
    assert ev[2].reviewer  # the OS user name or "reviewer"


def test_label_batch_file(project_dir, tmp_path):
    f = tmp_path / "batch.csv"
    f.write_text("record_id,title,label,note\n1,t,Include,\n2,t,0,off topic\n3,t,,\n4,t,maybe,\n",
                 encoding="utf-8")
    run("label", project_dir, "--record", 2, "include")
    out = run("label", project_dir, f, "--reviewer", "bob").output
    assert "Saved 3 labels" in out and "1 empty row skipped" in out and "1 changed" in out
    with Project.open(project_dir) as p:
        assert p.current_labels() == {1: "include", 2: "exclude", 4: "maybe"}
        assert {e.origin for e in p.label_events() if e.reviewer == "bob"} == {"ranked"}


@pytest.mark.parametrize("content, fragment", [
    ("record_id,label\n1,include\n2,exclude\n3,perhaps\n", "line 4: unknown label 'perhaps'"),
    ("record_id,label\n1,include\n42,exclude\n", "line 3: no record with id 42"),
    ("id,label\n1,include\n", "missing column 'record_id'"),
    ("record_id,label\n1,include\n2,exclude\n1,exclude\n",
     "lines 2 and 4: record 1 is labelled both 'include' and 'exclude'; keep one of the two rows"),
])
def test_label_batch_is_all_or_nothing(project_dir, tmp_path, content, fragment):
    """A bad row (or two rows disagreeing on one record) stores nothing from the file."""
    f = tmp_path / "batch.csv"
    f.write_text(content, encoding="utf-8")
    result = run("label", project_dir, f, ok=False)
    assert_one_line_error(result, str(f), fragment)
    assert "Saved" not in result.output
    with Project.open(project_dir) as p:
        assert p.label_events() == []


# -- export ---------------------------------------------------------------------------------
def test_export_csv_neutralises_formulas(tmp_path, make_project):
    evil = ["=HYPERLINK(\"http://x\",\"click\")", "+SUM(A1:A9)", "-2+3 looks like a formula", "@cmd|' /C calc'!A0",
            "\tTabbed title here", "\rCarriage title here"]
    d = make_project(tmp_path, [Record(title=t, abstract="=1+1", authors=["-Dash, A."], position=i + 1)
                                for i, t in enumerate(evil)])
    run("label", d, "--record", 1, "include", "--note", "=cmd()")
    out = run("export", d, "--format", "csv").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["title"] for r in rows] == ["'" + t for t in evil]
    assert {r["abstract"] for r in rows} == {"'=1+1"} and {r["authors"] for r in rows} == {"'-Dash, A."}
    assert rows[0]["note"] == "'=cmd()" and rows[0]["label"] == "include"
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    assert not any(cell.startswith(dangerous) for r in rows for cell in r.values())


def test_export_selection_ris_and_out_file(project_dir, tmp_path):
    run("label", project_dir, "--record", 2, "include", "--note", "key trial")
    run("label", project_dir, "--record", 3, "exclude")
    ris = run("export", project_dir, "--which", "included", "--format", "ris").output
    assert ris.count("ER  - ") == 1
    assert "TI  - Effect of exercise training on outcome 1" in ris
    for line in ("N1  - triage: include", "N1  - triage note: key trial", "DO  - 10.1000/trial.1", "PY  - 2001",
                 "AU  - Author1, A.", "KW  - exercise training", "N1  - PMID: 100001", "JO  - Journal of Trials"):
        assert line in ris.splitlines()
    out = tmp_path / "unlabelled.csv"
    run("export", project_dir, "--which", "unlabelled", "--format", "csv", "--out", out)
    ids = [r["record_id"] for r in csv.DictReader(out.open(encoding="utf-8", newline=""))]
    assert ids == ["1", "4", "5", "6"]


def _fields(r) -> tuple:
    return (r.title, " ".join(r.abstract.split()), r.authors, r.year, r.journal, r.doi.lower(), r.pmid, r.keywords)


@pytest.mark.parametrize("fmt", ["ris", "csv"])
def test_export_reimports_to_the_same_records(tmp_path, fmt):
    src = tmp_path / "src"
    run("init", src)
    run("import", src, FIXTURES / "scopus.ris", FIXTURES / "pubmed.nbib", FIXTURES / "records.csv")
    with Project.open(src) as p:
        ids = [int(i) for i in p.record_ids()]
        originals = p.records()
    run("label", src, "--record", ids[0], "include")
    run("label", src, "--record", ids[1], "exclude")
    with Project.open(src) as p:
        src_labels = {ids.index(rid): label for rid, label in p.current_labels().items()}
    assert len(src_labels) > 2  # records.csv brings prior labels too
    out = tmp_path / f"export.{fmt}"
    run("export", src, "--format", fmt, "--out", out)
    _, read_back = read_file(out)
    assert len(read_back) == len(originals) > 5
    dst = tmp_path / "dst"
    run("init", dst)
    run("import", dst, out)
    with Project.open(dst) as p:
        again = p.records()
        labels = p.current_labels()
        assert p.duplicate_groups() == []
    assert [_fields(r) for r in again] == [_fields(r) for r in originals]
    # labels come back as prior labels (CSV: label column; RIS: `N1  - triage: include`)
    assert {[r.id for r in again].index(rid): label for rid, label in labels.items()} == src_labels


def test_neutralised_csv_cells_read_back_unchanged(tmp_path, make_project):
    d = make_project(tmp_path, [Record(title="-2 dB hearing loss in adults after noise", abstract="=SUM(A1)")])
    out = tmp_path / "out.csv"
    run("export", d, "--format", "csv", "--out", out)
    assert "'-2 dB" in out.read_text(encoding="utf-8")
    _, back = read_file(out)
    assert (back[0].title, back[0].abstract) == ("-2 dB hearing loss in adults after noise", "=SUM(A1)")


# -- duplicates -----------------------------------------------------------------------------
def test_duplicates_list_and_split(tmp_path, make_project, import_into):
    d = _dup_project(tmp_path, make_project, import_into)
    groups = json.loads(run("duplicates", d, "--json").output)
    assert [(g["representative"], [m["id"] for m in g["members"]]) for g in groups] == [(1, [1, 3]), (2, [2, 4])]
    yoga = groups[0]["members"]
    assert yoga[0]["match_key"] is None and yoga[1]["match_key"] == "doi"
    assert groups[1]["members"][1]["match_key"] == "title"
    assert yoga[1]["sources"] == [{"file": "embase.ris", "position": 1, "line": 1}]
    assert yoga[0]["sources"][0]["file"] == "pubmed.nbib"
    text = run("duplicates", d).output
    assert "matched on doi" in text and "embase.ris #1" in text
    assert "split" in run("duplicates", d, "--split", 4).output
    groups = json.loads(run("duplicates", d, "--json").output)
    assert [g["representative"] for g in groups] == [1]
    with Project.open(d) as p:
        assert 4 in p.record_ids()
        import_into(p, tmp_path, [Record(title="Tai chi for balance in older people!", year=2016, abstract="3rd",
                                         position=1)], name="cinahl.ris")
        assert all(4 not in members for _, members in p.duplicate_groups())
    assert_one_line_error(run("duplicates", d, "--split", 4, ok=False), "not a merged duplicate")


def test_label_batch_repeating_a_row_with_the_same_label_is_fine(project_dir, tmp_path):
    f = tmp_path / "batch.csv"
    f.write_text("record_id,label\n1,include\n1,yes\n", encoding="utf-8")
    assert "Saved 2 labels" in run("label", project_dir, f).output
    with Project.open(project_dir) as p:
        assert p.current_labels() == {1: "include"}
