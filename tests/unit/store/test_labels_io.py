"""Label value parsing and batch label files (all or nothing)."""

from __future__ import annotations

import numpy as np
import pytest

from triage.errors import LabelError
from triage.io.record import Record
from triage.store.labels_io import apply_label_file, export_rows, parse_label_value, read_label_file
from triage.store.project import NewRound, Project


@pytest.mark.parametrize("text, expected", [
    ("include", "include"), ("INCLUDE", "include"), (" Exclude ", "exclude"), ("maybe", "maybe"),
    ("1", "include"), ("0", "exclude"), ("y", "include"), ("N", "exclude"), ("Yes", "include"), ("no", "exclude"),
    ("", None), ("   ", None), (None, None),
])
def test_parse_label_value(text, expected):
    assert parse_label_value(text) == expected


@pytest.mark.parametrize("text", ["2", "relevant", "inc", "yes please", "-1"])
def test_parse_label_value_rejects(text):
    with pytest.raises(ValueError, match="unknown label"):
        parse_label_value(text)


def test_read_label_file_columns_and_empty_rows(tmp_path):
    f = tmp_path / "batch.csv"
    f.write_text("Record_ID,title,Label,note,reason,round\n"
                 "3,A title,include,good fit,,2\n"
                 "4,Another,,,,2\n"
                 ",,,,,\n"
                 "5.0,Third,n,,wrong design,\n", encoding="utf-8")
    rows = read_label_file(f)
    assert [(r.line, r.record_id, r.label, r.note, r.reason, r.round_id) for r in rows] == [
        (2, 3, "include", "good fit", "", 2), (3, 4, None, "", "", 2), (5, 5, "exclude", "", "wrong design", None)]


def test_read_label_file_tsv(tmp_path):
    f = tmp_path / "batch.tsv"
    f.write_text("record_id\tlabel\n1\tyes\n", encoding="utf-8")
    assert [(r.record_id, r.label) for r in read_label_file(f)] == [(1, "include")]


@pytest.mark.parametrize("content, message", [
    ("record_id,decision\n1,include\n", "line 1: missing column 'label'"),
    ("record_id,label\n1,include\n2,relevant\n", "line 3: unknown label 'relevant'"),
    ("record_id,label\nabc,include\n", "line 2: bad record_id 'abc'"),
    ("record_id,label,round\n1,include,first\n", "line 2: bad round 'first'"),
    ("", "empty file"),
])
def test_read_label_file_errors_name_file_line_value(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(LabelError) as e:
        read_label_file(f)
    assert str(e.value).startswith(str(f)) and message in str(e.value)


def _with_round(project_dir) -> int:
    with Project.open(project_dir) as p:
        return p.add_round(NewRound("t", {}, 0, {}, 0, 0, 0, 0, np.array([1, 2], dtype=np.int64), np.array([1.0, 0.5]), 0.0))


def test_apply_label_file_stores_ranked_labels_with_rounds(project_dir, tmp_path):
    r1 = _with_round(project_dir)
    r2 = _with_round(project_dir)
    with Project.open(project_dir) as p:
        p.add_labels([(1, "include"), (2, "exclude")], reviewer="ann", origin="prior")
    f = tmp_path / "batch.csv"
    f.write_text("record_id,label,note,round\n1,exclude,changed mind,1\n2,no,,\n3,maybe,,\n4,,,\n", encoding="utf-8")
    with Project.open(project_dir) as p:
        res = apply_label_file(p, f, reviewer="bob")
        assert (res.stored, res.skipped_empty, res.changed) == (3, 1, 1)
        assert p.current_labels() == {1: "exclude", 2: "exclude", 3: "maybe"}
        new = p.label_events()[2:]
        assert [(e.record_id, e.origin, e.reviewer, e.round_id) for e in new] == [
            (1, "ranked", "bob", r1), (2, "ranked", "bob", r2), (3, "ranked", "bob", r2)]
        assert new[0].note == "changed mind"


def test_apply_label_file_is_all_or_nothing(project_dir, tmp_path):
    bad_value = tmp_path / "bad_value.csv"
    bad_value.write_text("record_id,label\n1,include\n2,exclude\n3,perhaps\n", encoding="utf-8")
    bad_id = tmp_path / "bad_id.csv"
    bad_id.write_text("record_id,label\n1,include\n77,exclude\n", encoding="utf-8")
    bad_round = tmp_path / "bad_round.csv"
    bad_round.write_text("record_id,label,round\n1,include,9\n", encoding="utf-8")
    with Project.open(project_dir) as p:
        for f, msg in [(bad_value, "line 4"), (bad_id, "line 3: no record with id 77"), (bad_round, "no round")]:
            with pytest.raises(LabelError, match=msg):
                apply_label_file(p, f, reviewer="ann")
        assert p.label_events() == []


def test_apply_label_file_duplicate_ids_land_on_representative(tmp_path, make_project):
    recs = [Record(title="Yoga for low back pain in adults", year=2015, doi="10.5/yoga", position=1),
            Record(title="Yoga for Low Back Pain in Adults.", year=2015, doi="10.5/YOGA", abstract="x", position=2)]
    d = make_project(tmp_path, recs)
    f = tmp_path / "batch.csv"
    f.write_text("record_id,label\n2,include\n", encoding="utf-8")
    with Project.open(d) as p:
        assert p.duplicate_groups() == [(1, [2])]
        apply_label_file(p, f, reviewer="ann")
        assert p.current_labels() == {1: "include"}


def test_export_rows_selects_by_label(project_dir):
    with Project.open(project_dir) as p:
        p.add_labels([(1, "include"), (2, "exclude"), (3, "maybe")], reviewer="a", note="n", reason="r")
        p.add_labels([(1, "include")], reviewer="a", note="second thoughts")
        assert [r.record_id for r in export_rows(p, "included")] == [1]
        assert [r.record_id for r in export_rows(p, "excluded")] == [2]
        assert [r.record_id for r in export_rows(p, "maybe")] == [3]
        assert [r.record_id for r in export_rows(p, "unlabelled")] == [4, 5, 6]
        rows = export_rows(p, "all")
        assert len(rows) == 6 and rows[0].note == "second thoughts" and rows[1].reason == "r"
        assert rows[0].sources == ["search.csv"] and rows[3].label is None
        with pytest.raises(LabelError):
            export_rows(p, "everything")
