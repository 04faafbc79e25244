"""Snapshots before a schema migration, online backup, check; the atomic output helper."""

from __future__ import annotations

import errno
import sqlite3

import pytest

import triage.store.project as project_mod
from triage.errors import OutputError, ProjectDamagedError
from triage.io.output import atomic_write, protected_reason, write_output
from triage.io.writers import table_text
from triage.store.backup import check_project, latest_snapshot, snapshots
from triage.store.project import DB_NAME, Project

NEXT = project_mod.SCHEMA_VERSION + 1  # a made-up next schema version


def test_a_migration_takes_a_snapshot_first(project_dir, monkeypatch):
    with Project.open(project_dir) as p:
        p.add_labels([(1, "include")], reviewer="me")
    monkeypatch.setitem(project_mod._MIGRATIONS, NEXT, "CREATE TABLE extra (x INTEGER)")
    monkeypatch.setattr(project_mod, "SCHEMA_VERSION", NEXT)
    with Project.open(project_dir) as p:
        assert p._conn.execute("PRAGMA user_version").fetchone()[0] == NEXT
    snap = latest_snapshot(project_dir)
    assert snap is not None and snap.name.startswith(f"before-schema-{NEXT}-")
    conn = sqlite3.connect(snap)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == NEXT - 1
    assert conn.execute("SELECT label FROM label_events").fetchall() == [("include",)]
    conn.close()
    with Project.open(project_dir):  # no second migration, no second snapshot
        pass
    assert len(snapshots(project_dir)) == 1


def test_open_on_an_older_schema_read_only_asks_for_write_access(project_dir, monkeypatch):
    """A project that cannot be written cannot be upgraded by a reading command: it says how."""
    monkeypatch.setitem(project_mod._MIGRATIONS, NEXT, "CREATE TABLE extra (x INTEGER)")
    monkeypatch.setattr(project_mod, "SCHEMA_VERSION", NEXT)
    monkeypatch.setattr(project_mod.os, "access", lambda path, mode: False)  # (root may write anything)
    with pytest.raises(project_mod.ProjectError, match="older project schema"):
        Project.open(project_dir, readonly=True)


def test_open_on_an_older_writable_project_read_only_upgrades_it_first(project_dir, monkeypatch):
    monkeypatch.setitem(project_mod._MIGRATIONS, NEXT, "CREATE TABLE extra (x INTEGER)")
    monkeypatch.setattr(project_mod, "SCHEMA_VERSION", NEXT)
    with Project.open(project_dir, readonly=True) as p:
        assert p.counts()["records"] == 6
        assert p._conn.execute("PRAGMA user_version").fetchone()[0] == NEXT


def test_check_reports_missing_tables_and_bad_rounds(project_dir):
    assert check_project(project_dir).ok
    conn = sqlite3.connect(project_dir / DB_NAME)
    conn.execute("INSERT INTO rounds(created_at, preset, params, seed, versions, last_event_id, n_train, n_included, "
                 "n_excluded, record_ids, scores, seconds) VALUES ('t', 'p', '{}', 0, '{}', 0, 0, 0, 0, ?, ?, 0)",
                 (b"\0" * 16, b"\0" * 8))
    conn.commit()
    conn.close()
    res = check_project(project_dir)
    assert not res.ok and any("different lengths" in p for p in res.problems)
    assert res.verdict().startswith("DAMAGED: ")


def test_readonly_project_refuses_writes(project_dir):
    with Project.open(project_dir, readonly=True) as p:
        assert p.counts()["records"] == 6
        with pytest.raises(project_mod.ProjectError, match="opened read-only"):
            p.add_labels([(1, "include")], reviewer="me")


def test_a_damaged_message_names_the_latest_snapshot(project_dir):
    with Project.open(project_dir) as p:
        from triage.store.backup import snapshot

        snap = snapshot(p)
    (project_dir / DB_NAME).write_bytes(b"")
    with pytest.raises(ProjectDamagedError) as e:
        Project.open(project_dir)
    assert f"triage restore {project_dir} {snap}" in str(e.value)


# -- the output helper ----------------------------------------------------------------------------
def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    out = tmp_path / "r.png"
    out.write_bytes(b"old")

    def half(tmp):
        tmp.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="the disk is full"):
        atomic_write(out, half)
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.png"]


def test_atomic_write_writes_through_a_symlink_and_keeps_the_mode(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_output(link, "new")
    assert link.is_symlink() and real.read_text() == "new" and (real.stat().st_mode & 0o777) == 0o640


def test_protected_paths(tmp_path, project_dir):
    assert protected_reason(project_dir / DB_NAME)
    assert protected_reason(project_dir / "cache" / "deep" / "x.csv")
    assert protected_reason(project_dir / "backups" / "x.sqlite")
    assert protected_reason(project_dir / "sample-1.csv") is None
    assert protected_reason(tmp_path / "elsewhere.md") is None
    with pytest.raises(OutputError, match="is a folder"):
        write_output(tmp_path, "x")


def test_table_text_neutralises_text_not_numbers():
    text = table_text(["a", "b"], [["=1+1", -0.5], ["@x", 3], [None, "-2"]])
    assert text.splitlines() == ["a,b", "'=1+1,-0.5", "'@x,3", ",'-2"]
