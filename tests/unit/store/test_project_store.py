"""Project store: schema versions, import, de-duplication, label events, history, rounds."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from triage.errors import LabelError, ProjectError
from triage.io.record import Record
from triage.history import PRIOR, RANKED
from triage.store.project import DB_NAME, SCHEMA_VERSION, NewRound, Project


# -- schema version / migration --------------------------------------------------------------
def test_open_refuses_a_version_0_database(tmp_path):
    """Only `Project.create` (triage init) makes a project: an SQLite file with user_version 0 is
    not one (it used to be silently turned into an empty project)."""
    d = tmp_path / "old"
    d.mkdir()
    conn = sqlite3.connect(d / DB_NAME)
    conn.execute("CREATE TABLE t (x)")  # a real SQLite file, user_version 0
    conn.close()
    with pytest.raises(ProjectError, match="is damaged"):
        Project.open(d)


def test_open_newer_schema_is_refused(tmp_path):
    d = tmp_path / "new"
    d.mkdir()
    conn = sqlite3.connect(d / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ProjectError, match="newer"):
        Project.open(d)


def test_open_missing_and_non_database(tmp_path):
    with pytest.raises(ProjectError, match="not a triage project"):
        Project.open(tmp_path / "nothing")
    d = tmp_path / "junk"
    d.mkdir()
    (d / DB_NAME).write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ProjectError):
        Project.open(d)


def test_create_refuses_existing_project(project_dir):
    with pytest.raises(ProjectError, match="already"):
        Project.create(project_dir)


# -- import ---------------------------------------------------------------------------------
def test_import_counts_and_reimport_adds_nothing(tmp_path, sample_records, import_into):
    with Project.create(tmp_path / "p") as p:
        recs = sample_records(5)
        r1 = import_into(p, tmp_path, recs)
        assert (r1.n_read, r1.n_new, r1.n_duplicates) == (5, 5, 0)
        r2 = import_into(p, tmp_path, recs)  # same file, same bytes
        assert r2.skipped_file and r2.n_new == 0
        assert p.counts()["records"] == 5 and p.counts()["identified"] == 5
        assert len(p.sources()) == 1


def test_import_is_all_or_nothing(tmp_path, sample_records, import_into, monkeypatch):
    """An exception in the middle of an import leaves no record, source or label behind."""
    import triage.store.project as project_mod

    recs = sample_records(5)
    recs[0].label = "include"
    calls = {"n": 0}
    real = project_mod.content_hash

    def failing_hash(r):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk on fire")
        return real(r)

    with Project.create(tmp_path / "p") as p:
        monkeypatch.setattr(project_mod, "content_hash", failing_hash)
        with pytest.raises(RuntimeError):
            import_into(p, tmp_path, recs)
        assert calls["n"] == 4
        monkeypatch.setattr(project_mod, "content_hash", real)
        assert p.counts()["records"] == 0 and p.counts()["identified"] == 0
        assert p.sources() == [] and p.label_events() == []
        # the same file can be imported afterwards: its hash was not recorded
        r = import_into(p, tmp_path, recs)
        assert r.n_new == 5 and not r.skipped_file
        assert p.current_labels() == {1: "include"}


def test_import_prior_labels_do_not_override_project_labels(tmp_path, sample_records, import_into):
    with Project.create(tmp_path / "p") as p:
        import_into(p, tmp_path, sample_records(2), name="a.csv")
        p.add_labels([(1, "exclude")], reviewer="ann")
        again = sample_records(2)
        again[0].doi = ""  # not identical content, but matches record 1 by PMID
        again[0].label = "include"
        again[1].label = "include"
        r = import_into(p, tmp_path, again, name="b.csv")
        assert r.n_labels == 1
        assert p.current_labels() == {1: "exclude", 2: "include"}
        assert [e.origin for e in p.label_events(2)] == ["prior"]


# -- duplicates -----------------------------------------------------------------------------
def _dup_records():
    a = Record(title="Exercise for depression in older adults", year=2010, doi="10.1/abc", position=1)
    b = Record(title="Exercise for depression in older adults.", year=2010, doi="https://doi.org/10.1/ABC",
               abstract="other export", position=1)  # same DOI
    c = Record(title="Exercise for Depression in Older Adults", year=2010, position=2)  # title + year
    d = Record(title="Exercise for depression in older adults", year=2010, doi="10.1/other", position=3)
    e = Record(title="Something else entirely about diet", year=2011, pmid="00123", position=4)
    f = Record(title="Another paper on diet and mood", year=2012, pmid="123", position=5)  # PMID
    return [a], [b, c, d, e, f]


def test_duplicate_groups_and_match_keys(tmp_path, import_into):
    first, second = _dup_records()
    with Project.create(tmp_path / "p") as p:
        import_into(p, tmp_path, first, name="a.ris")
        import_into(p, tmp_path, second, name="b.ris")
        # 1=a, 2=b (doi of a), 3=c (title of a), 4=d (different DOI: distinct), 5=e, 6=f (pmid of e)
        assert p.duplicate_groups() == [(1, [2, 3]), (5, [6])]
        assert list(p.record_ids()) == [1, 4, 5]
        keys = dict(p._conn.execute("SELECT id, match_key FROM records WHERE match_key IS NOT NULL"))
        assert keys == {2: "doi", 3: "title", 6: "pmid"}
        assert p.counts()["duplicates"] == 3 and p.counts()["identified"] == 6
        assert p.record_sources(1) == [("a.ris", 1, None), ("b.ris", 1, None), ("b.ris", 2, None)]


CASE_REPORT = ("The authors report a case history of a woman with Wilson disease who carried two pregnancies "
               "to term while taking penicillamine, with normal infants and stable copper levels throughout")
REVIEW = ("Wilson disease is a rare autosomal recessive disorder of copper transport; this review summarises "
          "fertility, counselling, chelation dosing and obstetric management across published series")


def test_same_generic_title_with_unrelated_abstracts_stays_apart(tmp_path, import_into):
    title = "Wilson's disease and pregnancy"  # no year, no DOI: only the title could match
    records = [Record(title=title, abstract=CASE_REPORT, position=1),
               Record(title=title, abstract=REVIEW, position=2),  # another work: kept apart
               Record(title=title.upper(), abstract=CASE_REPORT.replace("penicillamine", "D-penicillamine"),
                      position=3),  # the case report again, from another database: merged
               Record(title=title, abstract="Short note.", position=4)]  # too short to tell: merged
    with Project.create(tmp_path / "p") as p:
        import_into(p, tmp_path, records, name="a.ris")
        assert p.duplicate_groups() == [(1, [3, 4])]
        assert list(p.record_ids()) == [1, 2]


def test_distinct_abstracts_threshold():
    from triage.io.dedup import abstract_words, distinct_abstracts

    a, b = abstract_words(CASE_REPORT), abstract_words(REVIEW)
    assert distinct_abstracts(a, b) and not distinct_abstracts(a, a)
    assert not distinct_abstracts(a, abstract_words("Short note."))  # fewer than 10 words: cannot tell


def test_labels_on_a_duplicate_land_on_its_representative(tmp_path, import_into):
    first, second = _dup_records()
    with Project.create(tmp_path / "p") as p:
        import_into(p, tmp_path, first + second)
        p.add_labels([(3, "include")], reviewer="ann")
        assert p.current_labels() == {1: "include"}
        assert [e.record_id for e in p.label_events()] == [1]


def test_split_duplicate_is_never_remerged(tmp_path, import_into):
    first, second = _dup_records()
    with Project.create(tmp_path / "p") as p:
        import_into(p, tmp_path, first, name="a.ris")
        import_into(p, tmp_path, second, name="b.ris")
        p.split_duplicate(3)
        assert p.duplicate_groups() == [(1, [2]), (5, [6])]
        assert 3 in p.record_ids()
        # a later file with the very same entry, and another near-copy of it
        c_again = Record(title="Exercise for Depression in Older Adults", year=2010, position=1)
        c_near = Record(title="Exercise for depression in older adults!", year=2010, abstract="x", position=2)
        import_into(p, tmp_path, [c_again, c_near], name="c.ris")
        groups = dict(p.duplicate_groups())
        assert all(3 not in members for members in groups.values())
        assert 3 in p.record_ids()
        with pytest.raises(LabelError):
            p.split_duplicate(3)  # no longer a duplicate
        with pytest.raises(LabelError):
            p.split_duplicate(999)


# -- labels ---------------------------------------------------------------------------------
def test_label_events_are_append_only_with_undo(project_dir):
    with Project.open(project_dir) as p:
        p.add_labels([(1, "include")], reviewer="ann", note="looks relevant")
        p.add_labels([(1, "exclude")], reviewer="bob", reason="wrong population")
        p.add_labels([(2, "maybe")], reviewer="ann")
        assert p.current_labels() == {1: "exclude", 2: "maybe"}
        p.add_labels([(1, None)], reviewer="bob")
        assert p.current_labels() == {2: "maybe"}
        ev = p.label_events(1)
        assert [(e.label, e.reviewer) for e in ev] == [("include", "ann"), ("exclude", "bob"), (None, "bob")]
        assert ev[0].note == "looks relevant" and ev[1].reason == "wrong population"
        assert p.counts()["labelled"] == 1 and p.counts()["unlabelled"] == 5


def test_add_labels_rejects_bad_input_and_stores_nothing(project_dir):
    with Project.open(project_dir) as p:
        with pytest.raises(LabelError, match="999"):
            p.add_labels([(1, "include"), (999, "include")], reviewer="ann")
        with pytest.raises(LabelError, match="relevant"):
            p.add_labels([(1, "include"), (2, "relevant")], reviewer="ann")
        with pytest.raises(LabelError):
            p.add_labels([(1, "include")], reviewer="ann", origin="oracle")
        assert p.label_events() == []


def test_history_order_and_maybe_counts_as_relevant(project_dir):
    with Project.open(project_dir) as p:
        p.add_labels([(3, "include")], reviewer="a", origin="prior")
        p.add_labels([(1, "exclude"), (5, "maybe")], reviewer="a", origin="ranked", round_id=7)
        p.add_labels([(3, "exclude")], reviewer="a")  # relabel keeps its place
        h = p.history()
        assert list(h.record_ids) == [3, 1, 5]
        assert list(h.labels) == [0, 0, 1]
        assert list(h.origins) == [PRIOR, RANKED, RANKED]
        assert list(h.rounds) == [-1, 7, 7]
        assert h.n_records == 6


def test_history_undo_then_relabel_moves_to_the_end(project_dir):
    with Project.open(project_dir) as p:
        p.add_labels([(1, "include"), (2, "exclude")], reviewer="a")
        p.add_labels([(1, None)], reviewer="a")
        assert list(p.history().record_ids) == [2]
        p.add_labels([(1, "maybe")], reviewer="a", round_id=4)
        h = p.history()
        assert list(h.record_ids) == [2, 1]
        assert list(h.rounds) == [-1, 4]


# -- rounds ---------------------------------------------------------------------------------
def test_rounds_round_trip_arrays(project_dir):
    with Project.open(project_dir) as p:
        assert p.latest_round() is None
        ids = np.array([4, 2, 6], dtype=np.int64)
        scores = np.array([0.9, 0.5, -1.25])
        r1 = p.add_round(NewRound("fast", {"C": 1.0}, 3, {"triage": "0.1"}, 0, 0, 0, 0, ids, scores, 0.5))
        r2 = p.add_round(NewRound("fast", {}, 3, {}, 0, 0, 0, 0, np.array([], dtype=np.int64), np.array([]), 0.1))
        rows = p.rounds()
        assert [r.id for r in rows] == [r1, r2]
        np.testing.assert_array_equal(rows[0].record_ids, ids)
        np.testing.assert_array_equal(rows[0].scores, scores)
        assert rows[0].record_ids.dtype == np.int64 and rows[0].params == {"C": 1.0}
        assert rows[0].versions == {"triage": "0.1"} and rows[0].seed == 3
        assert len(rows[1].record_ids) == 0
        assert p.latest_round().id == r2
        assert p.counts()["rounds"] == 2


def test_notes_reasons_and_reviewer_names_are_stored_without_control_characters(project_dir):
    """A note typed or read from a label file must not carry terminal escape codes into `screen`."""
    with Project.open(project_dir) as p:
        p.add_labels([(1, "exclude")], reviewer="bob\x1b[2J", note="see \x1b]0;PWNED\x07 p. 3",
                     reason="wrong\x00design")
        e = p.label_events()[-1]
    assert (e.reviewer, e.note, e.reason) == ("bob [2J", "see  ]0;PWNED  p. 3", "wrong design")
