"""Dual (blinded) screening in the store: one decision per reviewer, the decision per record,
the ranking policy for disagreements, and the schema 1 -> 2 migration."""

from __future__ import annotations

import sqlite3

import pytest

from triage.history import RANKED
from triage.store import decisions
from triage.store.backup import latest_snapshot
from triage.store.project import DB_NAME, SCHEMA_VERSION, Project


def test_single_mode_keeps_one_label_per_record(project_dir):
    """Single mode (the default) behaves as before: a second reviewer's label replaces the first."""
    with Project.open(project_dir) as p:
        assert p.mode() == "single"
        p.add_labels([(1, "maybe")], reviewer="ann")
        p.add_labels([(1, "exclude")], reviewer="bob")
        assert p.current_labels() == {1: "exclude"} == p.final_labels()
        assert p.done_for("carl") == {1}
        assert "conflicts" not in p.counts()


def test_dual_mode_keeps_every_reviewers_decision(project_dir):
    with Project.open(project_dir) as p:
        p.set_mode("dual")
        p.add_labels([(1, "maybe"), (2, "exclude"), (3, "include")], reviewer="ann")
        p.add_labels([(1, "exclude"), (2, "exclude")], reviewer="bob")
        assert p.reviewer_labels("ann") == {1: "maybe", 2: "exclude", 3: "include"}
        assert p.reviewer_labels("bob") == {1: "exclude", 2: "exclude"}
        # ranking: the most inclusive label of a disagreement; a single decision counts meanwhile
        assert p.current_labels() == {1: "maybe", 2: "exclude", 3: "include"}
        # final: only agreed (2) or resolved records
        assert p.final_labels() == {2: "exclude"}
        # blinded: bob still has record 3 to screen; ann has nothing of these
        assert 3 not in p.done_for("bob") and {1, 2, 3} <= p.done_for("ann")
        c = p.counts()
        assert (c["conflicts"], c["awaiting_second"], c["excluded"], c["labelled"]) == (1, 1, 1, 3)
        p.add_labels([(1, "exclude")], reviewer="lead", kind="resolution")
        assert p.final_labels() == {1: "exclude", 2: "exclude"}
        assert p.current_labels()[1] == "exclude"
        assert 1 in p.done_for("carl")  # resolved records are not shown to anyone again
        assert p.counts()["conflicts"] == 0


def test_dual_mode_history_places_records_by_first_decision(project_dir):
    with Project.open(project_dir) as p:
        p.set_mode("dual")
        p.add_labels([(2, "exclude")], reviewer="ann", round_id=None)
        p.add_labels([(1, "include")], reviewer="ann")
        p.add_labels([(2, "include")], reviewer="bob")  # disagreement: include wins for ranking
        p.add_labels([(1, None)], reviewer="ann")  # ann undoes: record 1 leaves the history
        h = p.history()
        assert h.record_ids.tolist() == [2] and h.labels.tolist() == [1] and h.origins.tolist() == [RANKED]


def test_undo_by_one_reviewer_keeps_the_others_decision(project_dir):
    with Project.open(project_dir) as p:
        p.set_mode("dual")
        p.add_labels([(1, "include")], reviewer="ann")
        p.add_labels([(1, "exclude")], reviewer="bob")
        p.add_labels([(1, None)], reviewer="bob")
        assert p.reviewer_labels("bob") == {} and p.current_labels() == {1: "include"}


def test_unknown_mode_and_kind_are_refused(project_dir):
    with Project.open(project_dir) as p:
        with pytest.raises(Exception, match="unknown screening mode"):
            p.set_mode("triple")
        with pytest.raises(Exception, match="unknown label event kind"):
            p.add_labels([(1, "include")], reviewer="a", kind="vote")


def test_fold_is_pure_and_matches_the_store():
    ev = [decisions.Event(1, 7, "include", "ranked", "a", 0), decisions.Event(2, 7, "exclude", "ranked", "b", 0)]
    states = decisions.fold(ev, "dual")
    assert states[7].status("dual") == decisions.CONFLICT and states[7].final("dual") is None
    assert states[7].for_ranking("dual") == "include"
    assert decisions.fold(ev, "single")[7].final("single") == "exclude"


def _downgrade_to_v1(directory):
    """Rewrite a project file as schema 1 had it (no `kind` column, no mode)."""
    conn = sqlite3.connect(directory / DB_NAME)
    conn.execute("ALTER TABLE label_events DROP COLUMN kind")
    conn.execute("DROP INDEX IF EXISTS label_events_reviewer")
    conn.execute("DELETE FROM meta WHERE key = 'mode'")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_schema_1_project_migrates_with_a_snapshot(project_dir):
    with Project.open(project_dir) as p:
        p.add_labels([(1, "include")], reviewer="import", origin="prior")
        p.add_labels([(2, "exclude")], reviewer="ann")
    _downgrade_to_v1(project_dir)
    if sqlite3.connect(project_dir / DB_NAME).execute("PRAGMA table_info(label_events)").fetchall()[-1][1] == "kind":
        pytest.skip("this SQLite cannot drop a column")
    with Project.open(project_dir) as p:
        assert p._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert p.mode() == "single"
        assert [e.kind for e in p.label_events()] == ["import", "decision"]
        assert p.current_labels() == {1: "include", 2: "exclude"}
    snap = latest_snapshot(project_dir)
    assert snap is not None and snap.name.startswith("before-schema-2-")


def test_a_read_only_command_upgrades_an_older_writable_project_first(project_dir):
    """Was: `triage report DIR` on a schema-1 project said 'open it once with write access'."""
    from triage.store.project import SCHEMA_VERSION

    _downgrade_to_v1(project_dir)
    with Project.open(project_dir, readonly=True) as p:
        assert p.counts()["records"] == 6
    with Project.open(project_dir) as p:
        assert p._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert any(f.name.startswith(f"before-schema-{SCHEMA_VERSION}-") for f in (project_dir / "backups").iterdir())
