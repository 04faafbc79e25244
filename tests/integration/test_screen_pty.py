"""`triage screen` in a real pseudo-terminal (pexpect): highlighting, the record's details, the
criteria key, reasons with single keys, notes, undo, Ctrl-C, the terminal width; and piped notes."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli.main import cli
from triage.store.project import Project

pexpect = pytest.importorskip("pexpect")

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "simulate" / "statins_small.csv"


def run(*args, input=None):
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert r.exit_code == 0, r.output
    return r


def _project(tmp_path: Path) -> Path:
    proj = tmp_path / "rv"
    crit = tmp_path / "criteria.txt"
    crit.write_text("Exclusion criteria:\n- not a randomised trial\n- animal study\n", encoding="utf-8")
    run("init", proj, "--preset", "tfidf_svm", "--question", "statins and major adverse cardiac events",
        "--criteria", crit)
    data = tmp_path / "search.csv"
    data.write_text("\n".join(line.rsplit(",", 1)[0] for line in FIXTURE.read_text(encoding="utf-8").splitlines()),
                    encoding="utf-8")  # without the label column
    run("import", proj, data)
    run("reasons", proj, "--from-criteria")
    run("terms", proj, "--include", "statin", "--exclude", "machine translation")
    return proj


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals need a POSIX system")
def test_screen_in_a_pseudo_terminal(tmp_path):
    proj = _project(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO), TERM="xterm-256color", HF_HUB_OFFLINE="1")
    env.pop("COLUMNS", None)
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, ["-m", "triage", "screen", str(proj), "--reviewer", "ann"],
                          env=env, dimensions=(40, 120), encoding="utf-8", timeout=60)
    try:
        child.expect(r"\[q\]uit")
        screen = child.before
        assert re.search(r"\x1b\[1;32m(\x1b\[[0-9;]*m)*statin", screen, re.I), "include term not highlighted"
        assert "─" * 120 in screen and "─" * 121 not in screen  # the whole terminal width
        assert "DOI 10.1234/fixture." in screen and "[c]riteria" in screen
        child.send("c")
        child.expect("Review question and criteria")
        child.expect("animal study")
        child.send("x")  # any key: back to the record
        child.expect(r"\[q\]uit")
        child.send("e")
        child.expect(r"Reason: \[1\] not a randomised trial")
        child.send("2")
        child.expect(r"\[q\]uit")
        child.send("n")
        child.expect("Note")
        child.sendline("check the dose")
        child.expect(r"Label: \[i\]nclude")
        child.send("i")
        child.expect(r"Saved: record \d+ -> include with the note")
        child.expect(r"\[q\]uit")
        child.send("u")
        child.expect(r"Undone: record \d+ \(was include\)")
        child.expect(r"\[q\]uit")
        child.sendintr()
        child.expect("Interrupted: every label you gave is saved")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    with Project.open(proj, readonly=True) as p:
        ev = p.label_events()
    assert [(e.label, e.reason, e.note) for e in ev] == [("exclude", "animal study", ""),
                                                         ("include", "", "check the dose"), (None, "", "")]


def test_piped_note_is_kept_and_single_key_label(tmp_path):
    proj = _project(tmp_path)
    run("screen", proj, input="n\nmy note\ninclude\nn\nsecond note\ne\nq\n")
    with Project.open(proj, readonly=True) as p:
        ev = p.label_events()
    assert [(e.label, e.note) for e in ev] == [("include", "my note"), ("exclude", "second note")]


def test_screen_help_lists_the_keys():
    out = CliRunner().invoke(cli, ["screen", "--help"]).output
    for key in ("i  include", "e  exclude", "u  undo", "c  show the review question", "q  quit"):
        assert key in out
