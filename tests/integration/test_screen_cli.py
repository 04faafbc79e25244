"""`triage screen`: keys label, skip, undo, note and quit; every label is saved at once."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from triage.cli.main import cli
from triage.store.project import Project

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "van_de_Schoot_2018_sample.csv"


def _project(tmp_path: Path) -> Path:
    data = tmp_path / "records.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    # keep 60 records and drop the label column, so nothing is labelled yet
    import csv
    import io

    rows = list(csv.reader(io.StringIO("\n".join(lines))))[:61]
    out = io.StringIO()
    csv.writer(out).writerows([r[:4] for r in rows])
    data.write_text(out.getvalue(), encoding="utf-8")
    proj = tmp_path / "proj"
    r = CliRunner().invoke(cli, ["init", str(proj), "--question", "PTSD trajectories after trauma"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["import", str(proj), str(data)])
    assert r.exit_code == 0, r.output
    return proj


def test_screen_keys_store_labels_and_undo(tmp_path):
    proj = _project(tmp_path)
    # include, exclude, skip, maybe, undo (the maybe), exclude, quit
    r = CliRunner().invoke(cli, ["screen", str(proj), "--reviewer", "ann", "--preset", "tfidf_svm",
                                 "--retrain-every", "2"], input="iesmueq")
    assert r.exit_code == 0, r.output
    assert "Saved. Screened 3, found 1." in r.output
    with Project.open(proj) as p:
        labels = p.current_labels()
        events = p.label_events()
        assert sorted(labels.values()) == ["exclude", "exclude", "include"]
        assert [e.label for e in events] == ["include", "exclude", "maybe", None, "exclude"]
        assert {e.reviewer for e in events} == {"ann"} and {e.origin for e in events} == {"ranked"}
        assert len(p.rounds()) >= 2  # the first ranking plus a background retrain after 2 labels


def test_screen_note_prompts_and_is_stored(tmp_path):
    proj = _project(tmp_path)
    r = CliRunner().invoke(cli, ["screen", str(proj), "--preset", "tfidf_svm"],
                           input="nwrong population\nexclude\nq")
    assert r.exit_code == 0, r.output
    with Project.open(proj) as p:
        (e,) = p.label_events()
        assert (e.label, e.note) == ("exclude", "wrong population")


def test_screen_reads_piped_keys_line_by_line_and_saves_at_their_end(tmp_path):
    """Keys from a pipe or file (no terminal): blanks between keys are ignored and the end of
    the input quits cleanly, keeping every label."""
    proj = _project(tmp_path)
    r = CliRunner().invoke(cli, ["screen", str(proj), "--preset", "tfidf_svm"], input="i\ne\n\ne\n")
    assert r.exit_code == 0, r.output
    assert "Saved. Screened 3, found 1." in r.output
    with Project.open(proj) as p:
        assert sorted(p.current_labels().values()) == ["exclude", "exclude", "include"]


def test_read_key_without_a_terminal(monkeypatch):
    import io

    from triage.cli.screen_cmds import _read_key

    monkeypatch.setattr("sys.stdin", io.StringIO("i\n\n e"))
    assert [_read_key() for _ in range(4)] == ["i", "e", "q", "q"]  # blanks skipped; "q" at the end
