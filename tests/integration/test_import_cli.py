"""`triage init` and `triage import` end to end with click's CliRunner."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli.main import cli
from triage.store.project import Project

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
THREE = [str(EXPORTS / n) for n in ("ovid_medline.ris", "scopus.ris", "pubmed.nbib")]


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "review"
    result = CliRunner().invoke(cli, ["init", str(d), "--seed", "7"])
    assert result.exit_code == 0, result.output
    return d


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def counts(d):
    with Project.open(d) as p:
        return p.counts(), p.sources(), len(p.label_events())


def test_init_stores_question_criteria_and_seed(tmp_path):
    crit = tmp_path / "criteria.txt"
    crit.write_text("Include: RCTs in adults.\nExclude: reviews – and protocols.\n", encoding="utf-8")
    d = tmp_path / "review"
    result = run("init", d, "--question", "Does exercise help?", "--criteria", crit, "--seed", "42")
    assert result.exit_code == 0
    with Project.open(d) as p:
        assert p.meta("question") == "Does exercise help?"
        assert p.meta("criteria") == crit.read_text(encoding="utf-8") and p.seed == 42
    again = run("init", d)
    assert again.exit_code == 2 and "already holds a triage project" in again.output


def test_import_three_exports_counts_and_dedup(project):
    result = run("import", project, *THREE, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(f["read"], f["new"], f["duplicates"], f["already_in_project"]) for f in out["files"]] == [
        (4, 4, 0, 0), (3, 2, 1, 0), (3, 1, 2, 0)]  # scopus: DOI case; pubmed: DOI and PMID-only matches
    assert out["totals"] == {"read": 10, "new": 7, "duplicates": 3, "already_in_project": 0, "prior_labels": 0}
    c, _, _ = counts(project)
    assert (c["identified"], c["records"], c["duplicates"]) == (10, 7, 3)


def test_importing_twice_gives_the_same_counts_as_once(project):
    assert run("import", project, *THREE).exit_code == 0
    once = counts(project)
    second = run("import", project, *THREE, "--json")
    assert second.exit_code == 0
    out = json.loads(second.output)
    assert out["totals"]["new"] == 0 and out["totals"]["duplicates"] == 0
    assert all(f["file_already_imported"] for f in out["files"])
    assert counts(project) == once


def test_a_copy_under_another_name_adds_no_records(project, tmp_path):
    assert run("import", project, THREE[0]).exit_code == 0
    before = counts(project)[0]
    copy = tmp_path / "renamed.ris"
    shutil.copy(THREE[0], copy)
    assert run("import", project, copy).exit_code == 0  # same content hash: the store skips the file
    assert counts(project)[0] == before


def test_prior_labels_are_imported(project):
    result = run("import", project, EXPORTS / "asreview_labels.ris", EXPORTS / "records.csv", "--json")
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert [f["prior_labels"] for f in out["files"]] == [2, 2]  # not_seen and empty labels stay unlabelled
    c, _, _ = counts(project)
    assert (c["included"], c["excluded"]) == (1, 3)  # "Exercise" was excluded first: the project's label wins


@pytest.mark.parametrize("bad,message", [
    ("bad_png_renamed.ris", "binary file: a PNG image"),
    ("bad_truncated.ris", "line 11: binary data"),
    ("bad_no_title.csv", "no title column"),
    ("bad_empty.ris", "empty file"),
])
def test_a_bad_file_changes_nothing_and_errors_in_one_line(project, bad, message):
    before = counts(project)
    result = run("import", project, THREE[0], EXPORTS / bad, THREE[1])  # good files before and after
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and bad in lines[0] and message in lines[0]
    assert "Traceback" not in result.output
    assert counts(project) == before


def test_missing_project_and_missing_file(project, tmp_path):
    result = run("import", tmp_path / "nowhere", THREE[0])
    assert result.exit_code == 2 and "not a triage project" in result.output
    result = run("import", project, tmp_path / "missing.ris")
    assert result.exit_code == 2 and "missing.ris: no such file" in result.output


def test_human_output_has_per_file_rows_and_totals(project):
    result = run("import", project, *THREE)
    assert result.exit_code == 0
    rows = result.output.strip().splitlines()
    assert len(rows) == 5 and rows[-1].split() == ["total", "10", "7", "3", "0", "0"]
    assert rows[3].split()[-5:] == ["3", "1", "2", "0", "0"]


def test_progress_bar_only_for_large_files(project, tmp_path, monkeypatch):
    import triage.cli.project_cmds as cmds

    monkeypatch.setattr(cmds, "PROGRESS_BAR_BYTES", 1000)
    result = CliRunner().invoke(cli, ["import", str(project), THREE[0], str(EXPORTS / "wos.ris")])
    assert result.exit_code == 0
    assert "Reading ovid_medline.ris" in result.stderr  # 2.5 kB > 1000 bytes
    assert "Reading wos.ris" not in result.stderr  # 0.8 kB
    assert "Reading" not in result.stdout


def test_init_with_preset_and_presets_listing(tmp_path):
    import json as _json

    from click.testing import CliRunner

    from triage.cli.main import cli
    from triage.learn.presets import DEFAULT_PRESET
    from triage.store.project import Project

    r = CliRunner().invoke(cli, ["init", str(tmp_path / "p"), "--preset", "tfidf_lr"])
    assert r.exit_code == 0, r.output
    with Project.open(tmp_path / "p") as p:
        assert p.meta("preset") == "tfidf_lr"
    r = CliRunner().invoke(cli, ["init", str(tmp_path / "q"), "--preset", "nope"])
    assert r.exit_code == 2 and "unknown preset 'nope'" in r.output and not (tmp_path / "q").exists()
    r = CliRunner().invoke(cli, ["presets", "--json"])
    listed = _json.loads(r.output)
    assert {p["name"] for p in listed if p["default"]} == {DEFAULT_PRESET} and len(listed) >= 8


def test_an_entry_repeated_within_one_file_counts_as_a_duplicate(project, tmp_path):
    f = tmp_path / "twice.csv"
    f.write_text("title,abstract\nExercise for low back pain,A trial.\nExercise for low back pain,A trial.\n"
                 "Yoga for stress,A cohort.\n", encoding="utf-8")
    out = json.loads(run("import", project, f, "--json").output)
    assert out["totals"] == {"read": 3, "new": 2, "duplicates": 1, "already_in_project": 0, "prior_labels": 0}
    g = tmp_path / "again.csv"  # the same entry exported again, in another file: already in the project
    g.write_text("title,abstract\nExercise for low back pain,A trial.\n", encoding="utf-8")
    out = json.loads(run("import", project, g, "--json").output)
    assert out["totals"]["already_in_project"] == 1 and out["totals"]["duplicates"] == 0
    c, _, _ = counts(project)
    assert (c["identified"], c["records"], c["duplicates"]) == (4, 2, 2)


def test_question_command_shows_sets_and_each_round_records_the_text_it_used(project, tmp_path):
    assert "Question: (none)" in run("question", project).output
    assert run("import", project, *THREE).exit_code == 0
    with Project.open(project) as p:
        ids = [r.id for r in p.records()][:2]
    labels = tmp_path / "labels.csv"
    labels.write_text(f"record_id,label\n{ids[0]},include\n{ids[1]},exclude\n", encoding="utf-8")
    assert run("label", project, labels).exit_code == 0
    first = run("rank", project, "--preset", "tfidf_svm")
    assert first.exit_code == 0 and "and the review question" not in first.output
    crit = tmp_path / "criteria.txt"
    crit.write_text("Adults; randomised trials.", encoding="utf-8")
    out = run("question", project, "Does exercise reduce depression?", "--criteria", crit)
    assert out.exit_code == 0 and "Saved" in out.output and "Adults; randomised trials." in out.output
    second = run("rank", project, "--preset", "tfidf_svm", "--json")
    assert json.loads(second.output)["question_record"] is True
    with Project.open(project) as p:
        rounds = p.rounds()
    assert rounds[0].params["question"] == "" and not rounds[0].params["question_record"]
    assert rounds[1].params["question"] == "Does exercise reduce depression?\nAdults; randomised trials."
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("crit\xe8res".encode("latin-1"))
    refused = run("question", project, "--criteria", bad)
    assert refused.exit_code == 2 and "not UTF-8 text" in refused.output
    assert "Does exercise reduce depression?" in run("question", project).output  # nothing lost


def test_a_project_without_records_says_so_instead_of_you_may_stop(project):
    for cmd in (["rank"], ["next"]):
        r = run(*cmd, project)
        assert r.exit_code == 2 and "has no records yet: import your search exports first" in r.output
    report = run("report", project)
    assert report.exit_code == 0 and "No records yet" in report.output and "You may stop" not in report.output


def test_an_error_naming_a_file_never_passes_terminal_escape_codes_on(tmp_path):
    """A file name (or quoted cell) in an error message is printed without control characters."""
    from click.testing import CliRunner

    from triage.cli.main import cli

    proj = tmp_path / "p"
    assert CliRunner().invoke(cli, ["init", str(proj)]).exit_code == 0
    bad = tmp_path / "x\x1b]0;PWNED\x07\x1b[2J.ris"
    bad.write_bytes(b"")
    r = CliRunner().invoke(cli, ["import", str(proj), str(bad)])
    assert r.exit_code == 2 and "empty file" in r.output
    assert "\x1b" not in r.output and "\x07" not in r.output
