"""Issue #10, the project file: only `init` creates one; a damaged file, a full disk or a held
write lock is a clear message (never a traceback, never half-stored labels); backup, check and
restore."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from _cli_helpers import assert_error, run
from _subprocess_cli import ROOT
from triage.cli.main import cli
from triage.io.record import Record
from triage.store.project import DB_NAME, Project


def _big_project(tmp_path, make_project, n=300) -> Path:
    recs = [Record(title=f"Randomised trial {i} of an intervention for condition {i % 17}", abstract="words " * 80,
                   position=i + 1) for i in range(n)]
    return make_project(tmp_path, recs)


def _set_user_version(d: Path, v: int) -> None:
    conn = sqlite3.connect(d / DB_NAME)
    conn.execute(f"PRAGMA user_version = {v}")
    conn.close()


def _corrupt(d: Path) -> None:
    """Overwrite every other page after the first three with garbage (header intact)."""
    db = d / DB_NAME
    data = bytearray(db.read_bytes())
    for off in range(4096 * 3, len(data) - 4096, 8192):
        data[off:off + 4096] = bytes((i * 131 + 7) % 256 for i in range(4096))
    db.write_bytes(bytes(data))


# -- 2. only init creates a project ------------------------------------------------------------------
def test_a_zero_byte_project_file_is_refused_not_recreated(project_dir):
    (project_dir / DB_NAME).write_bytes(b"")
    for cmd in (["status"], ["label", "--record", "1", "include"], ["rank", "--preset", "tfidf_svm"]):
        r = run(cmd[0], project_dir, *cmd[1:], ok=False)
        assert_error(r, f"{project_dir / DB_NAME} is damaged (the file is empty (0 bytes))", "triage restore")
    assert (project_dir / DB_NAME).stat().st_size == 0  # left as it was, for recovery


def test_a_file_that_is_not_sqlite_is_refused(project_dir):
    (project_dir / DB_NAME).write_text("hello", encoding="utf-8")
    assert_error(run("status", project_dir, ok=False), "is damaged (the file is not an SQLite database)")


# -- 12. damaged files --------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [-1, 0])
def test_a_bad_schema_version_says_damaged(project_dir, version):
    _set_user_version(project_dir, version)
    r = run("label", project_dir, "--record", "1", "include", ok=False)
    assert_error(r, f"is damaged (schema version {version}", f"triage check {project_dir}")


def test_a_file_corrupted_past_its_header_says_damaged_and_points_to_the_snapshot(tmp_path, make_project):
    d = _big_project(tmp_path, make_project)
    run("label", d, "--record", 1, "include")
    run("backup", d)
    snap = next((d / "backups").glob("*.sqlite"))
    _corrupt(d)
    r = run("status", d, ok=False)
    assert_error(r, "is damaged (database disk image is malformed)", f"triage restore {d} {snap}")
    r = run("check", d, ok=False)
    assert r.exit_code == 1 and r.output.startswith("DAMAGED: ") and f"triage restore {d} {snap}" in r.output
    data = json.loads(run("check", d, "--json", ok=False).output)
    assert data["ok"] is False and data["problems"] and data["latest_snapshot"] == str(snap)
    r = run("restore", d, snap)
    assert "the previous file is kept as" in r.output
    assert json.loads(run("status", d, "--json").output)["labelled"] == 1
    assert run("check", d).output.startswith("OK: ")
    assert len(list((d / "backups").glob("damaged-*.sqlite"))) == 1


# -- 14. backup -------------------------------------------------------------------------------------
def test_backup_to_a_file_is_a_complete_project_and_never_overwrites(project_dir, tmp_path):
    run("label", project_dir, "--record", 2, "exclude")
    out = tmp_path / "copy.sqlite"
    assert "Backed up" in run("backup", project_dir, "--out", out).output
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / DB_NAME).write_bytes(out.read_bytes())
    with Project.open(restored, readonly=True) as p:
        assert p.current_labels() == {2: "exclude"}
    assert_error(run("backup", project_dir, "--out", out, ok=False), "exists; a backup never overwrites")


def test_restore_refuses_a_damaged_snapshot(project_dir, tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"")
    assert_error(run("restore", project_dir, bad, ok=False), "is not a healthy triage project either")
    assert json.loads(run("status", project_dir, "--json").output)["records"] == 6


# -- 10. full disk during label -----------------------------------------------------------------------
def test_a_full_disk_during_label_stores_nothing_and_says_so(tmp_path, make_project, monkeypatch):
    d = _big_project(tmp_path, make_project)
    real = Project._connect

    def full(path, *args, **kwargs):  # the database may not grow: SQLite answers SQLITE_FULL
        conn = real(path, *args, **kwargs)
        n = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {n}")
        return conn

    monkeypatch.setattr(Project, "_connect", staticmethod(full))
    batch = tmp_path / "b.csv"
    batch.write_text("record_id,label,note\n" + "".join(f"{i},include,{'n' * 2000}\n" for i in range(1, 301)),
                     encoding="utf-8")
    r = run("label", d, batch, ok=False)
    assert_error(r, f"{d / DB_NAME}: the disk is full; nothing from this command was stored")
    monkeypatch.undo()
    with Project.open(d) as p:
        assert p.label_events() == [] and p.integrity_check() == "ok"


# -- 11. another process holds the write lock --------------------------------------------------------
def test_a_held_write_lock_waits_with_a_message_then_fails_clearly(project_dir):
    holder = sqlite3.connect(project_dir / DB_NAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = run("label", project_dir, "--record", 1, "include", ok=False, env={"TRIAGE_LOCK_TIMEOUT": "0.3"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "waiting for another triage process" in r.stderr and f"to finish writing {project_dir}" in r.stderr
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"Error: {project_dir} is still being written by another process" in r.stderr
    assert "nothing was stored" in r.stderr
    run("label", project_dir, "--record", 1, "include")  # free again: works


def test_the_wait_names_another_triage_writer(project_dir):
    """A triage process in a write transaction leaves PID and command for those who wait."""
    code = ("import sys, time; from triage.store.project import Project\n"
            "p = Project.open(sys.argv[1])\n"
            "with p.transaction():\n    print('locked', flush=True); time.sleep(30)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", code, str(project_dir)], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"locked\n"
        r = run("label", project_dir, "--record", 1, "include", ok=False, env={"TRIAGE_LOCK_TIMEOUT": "0.2"})
    finally:
        child.kill()
        child.wait()
    assert f"(PID {child.pid}: " in r.stderr, r.stderr


def test_screen_keeps_its_place_when_the_lock_is_held(project_dir, monkeypatch):
    from triage.errors import ProjectLockedError

    real = Project.add_labels
    calls = {"n": 0}

    def add_labels(self, items, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ProjectLockedError(f"{project_dir} is still being written by another process")
        return real(self, items, *args, **kwargs)

    monkeypatch.setattr(Project, "add_labels", add_labels)
    r = CliRunner().invoke(cli, ["screen", str(project_dir), "--preset", "tfidf_svm", "--retrain-every", "50"],
                           input="iiq")
    assert r.exit_code == 0, r.output
    assert "Not saved: " in r.output and "Press the key again to retry" in r.output
    with Project.open(project_dir) as p:
        assert len(p.current_labels()) == 1  # the second key press saved the same record


# -- sample -n larger than the pool -------------------------------------------------------------------
def test_sample_larger_than_the_pool_is_refused(project_dir, tmp_path):
    run("label", project_dir, "--record", 1, "include")
    r = run("sample", project_dir, "-n", 600, "--out", tmp_path / "s.csv", ok=False)
    assert_error(r, "-n 600 is more than the pool holds (5 unlabelled records); give -n 5 or less")
    assert not (tmp_path / "s.csv").exists()
