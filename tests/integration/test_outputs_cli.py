"""Issue #10, outputs: no command writes onto a project's own files or over a filled-in batch;
every output is written atomically; one CSV writer neutralises formulas; a read-only folder or
a full disk is a clear error (and `sample` stores no sample it could not write)."""

from __future__ import annotations

import csv
import errno
import io
import os
import re
from pathlib import Path

import pytest

from _cli_helpers import assert_error, run
from _subprocess_cli import make_read_only, make_writable, run_cli
from triage.io.record import Record
from triage.store.project import DB_NAME, Project

ROOT = Path(__file__).resolve().parents[2]


def _status_ok(d: Path) -> dict:
    import json

    return json.loads(run("status", d, "--json").output)


def _fill(batch: Path, labels: dict[int, str]) -> None:
    rows = list(csv.reader(io.StringIO(batch.read_text(encoding="utf-8"), newline="")))
    head = rows[0]
    for r in rows[1:]:
        if int(r[0]) in labels:
            r[head.index("label")] = labels[int(r[0])]
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    batch.write_text(buf.getvalue(), encoding="utf-8")


# -- 1. never onto the project's own files, never over a filled-in batch --------------------------
@pytest.mark.parametrize("target", [DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", "cache/x.md", "backups/b.md"])
def test_report_out_onto_the_projects_own_files_is_refused(project_dir, target):
    (project_dir / "cache").mkdir(exist_ok=True)
    (project_dir / "backups").mkdir(exist_ok=True)
    before = (project_dir / DB_NAME).read_bytes()
    r = run("report", project_dir, "--format", "md", "--out", project_dir / target, ok=False)
    assert_error(r, "refusing to write there", "nothing was written")
    assert (project_dir / DB_NAME).read_bytes() == before
    assert _status_ok(project_dir)["records"] == 6


def test_export_onto_another_projects_database_is_refused(tmp_path, make_project):
    a, b = make_project(tmp_path, directory="a"), make_project(tmp_path, directory="b")
    r = run("export", a, "--format", "csv", "--out", b / DB_NAME, ok=False)
    assert_error(r, "refusing to write there", "project's own database file")
    assert _status_ok(b)["records"] == 6


def test_export_through_a_hard_link_to_the_database_is_refused(project_dir, tmp_path):
    link = tmp_path / "innocent.csv"
    os.link(project_dir / DB_NAME, link)
    r = run("export", project_dir, "--format", "csv", "--out", link, ok=False)
    assert_error(r, "refusing to write there")
    assert _status_ok(project_dir)["records"] == 6


def test_next_never_overwrites_a_batch_with_labels_not_yet_imported(project_dir, tmp_path):
    batch = tmp_path / "batch1.csv"
    run("next", project_dir, "-n", 4, "--out", batch, "--preset", "tfidf_svm")
    ids = [int(r["record_id"]) for r in csv.DictReader(batch.open(encoding="utf-8", newline=""))]
    _fill(batch, {ids[0]: "include", ids[1]: "exclude"})
    filled = batch.read_bytes()
    r = run("next", project_dir, "-n", 4, "--out", batch, "--preset", "tfidf_svm", ok=False)
    assert_error(r, f"{batch} holds 2 labels not yet imported", f"triage label {project_dir} {batch}",
                 "choose another --out")
    assert batch.read_bytes() == filled
    run("label", project_dir, batch)  # imported: the batch may now be replaced
    run("next", project_dir, "-n", 2, "--out", batch, "--preset", "tfidf_svm")
    assert batch.read_bytes() != filled


def test_sample_never_overwrites_a_filled_in_sample(project_dir, tmp_path):
    out = tmp_path / "s.csv"
    run("sample", project_dir, "-n", 2, "--out", out)
    ids = [int(r["record_id"]) for r in csv.DictReader(out.open(encoding="utf-8", newline=""))]
    _fill(out, {ids[0]: "exclude"})
    r = run("sample", project_dir, "-n", 2, "--out", out, ok=False)
    assert_error(r, "holds 1 label not yet imported")
    with Project.open(project_dir) as p:
        assert len(p.samples()) == 1


def test_a_batch_with_a_mistyped_label_counts_as_holding_work(project_dir, tmp_path):
    batch = tmp_path / "b.csv"
    batch.write_text("record_id,label\n1,incldue\n", encoding="utf-8")
    assert_error(run("next", project_dir, "--out", batch, "--preset", "tfidf_svm", ok=False), "holds 1 label")


# -- 3. atomic outputs -------------------------------------------------------------------------
def _full_disk_after(monkeypatch, n_bytes: int):
    """os.write writes at most n_bytes in total, then fails with ENOSPC (a disk filling up)."""
    real = os.write
    left = {"n": n_bytes}

    def write(fd, data):
        if left["n"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        k = real(fd, bytes(data[:left["n"]]))
        left["n"] -= k
        return k

    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_during_next_keeps_the_old_batch_whole(project_dir, tmp_path, monkeypatch):
    batch = tmp_path / "b.csv"
    run("next", project_dir, "-n", 2, "--out", batch, "--preset", "tfidf_svm")
    old = batch.read_bytes()
    _full_disk_after(monkeypatch, 100)
    r = run("next", project_dir, "-n", 6, "--out", batch, "--preset", "tfidf_svm", ok=False)
    assert_error(r, f"{batch}: cannot write: the disk is full; nothing was written")
    assert batch.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


@pytest.mark.parametrize("cmd", [["report", "--format", "md"], ["export", "--format", "csv"]])
def test_a_full_disk_during_report_or_export_is_a_clear_error(project_dir, tmp_path, monkeypatch, cmd):
    out = tmp_path / "out.txt"
    _full_disk_after(monkeypatch, 10)
    r = run(cmd[0], project_dir, *cmd[1:], "--out", out, ok=False)
    assert_error(r, "the disk is full; nothing was written")
    assert not out.exists()


def test_a_full_disk_during_sample_stores_no_sample(project_dir, tmp_path, monkeypatch):
    _full_disk_after(monkeypatch, 10)
    r = run("sample", project_dir, "-n", 2, "--out", tmp_path / "s.csv", ok=False)
    assert_error(r, "the disk is full")
    monkeypatch.undo()
    with Project.open(project_dir) as p:
        assert p.samples() == []


def test_label_refuses_a_batch_cut_short_mid_row(project_dir, tmp_path):
    batch = tmp_path / "cut.csv"
    batch.write_text('record_id,title,abstract,score,label,round\n1,"T",include,0.5,include,\n'
                     '2,"A title","An abstract that was cut off when the wri', encoding="utf-8")
    r = run("label", project_dir, batch, ok=False)
    assert r.exit_code == 2 and "line 3" in r.stderr and "cut short" in r.stderr, r.output
    assert _status_ok(project_dir)["labelled"] == 0


# -- 4. one CSV writer: formulas are neutralised everywhere ---------------------------------------
FORMULAS = ["=cmd|' /C calc'!A0 trial", "+1+2 trial", "-3 trial", "@SUM(1) trial"]


def test_sample_neutralises_formula_cells(tmp_path, make_project):
    d = make_project(tmp_path, [Record(title=t, abstract=t, position=i + 1) for i, t in enumerate(FORMULAS)])
    out = tmp_path / "s.csv"
    run("sample", d, "-n", 4, "--out", out)
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert sorted(r["title"] for r in rows) == sorted("'" + t for t in FORMULAS)
    assert all(r["abstract"].startswith("'") for r in rows)


def test_one_csv_writer_in_the_package():
    """Only triage/io/writers.py creates csv writers; every other module goes through write_table."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "triage").rglob("*.py")
                 if p.name != "writers.py" and re.search(r"csv\.(Dict)?[wW]riter\(", p.read_text(encoding="utf-8"))]
    assert offenders == []


# -- 9. read-only output folder (real permissions) ------------------------------------------------
@pytest.mark.parametrize("cmd", [["next", "--preset", "tfidf_svm"], ["report", "--format", "md"], ["sample", "-n", "2"]])
def test_out_into_a_read_only_folder_is_a_clear_error(project_dir, tmp_path, cmd):
    folder = tmp_path / "ro"
    folder.mkdir()
    make_read_only(folder)
    try:
        r = run_cli(cmd[0], project_dir, *cmd[1:], "--out", folder / "x.csv")
    finally:
        make_writable(folder)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert f"Error: {folder / 'x.csv'}: cannot write: permission denied" in r.stderr
    with Project.open(project_dir) as p:
        assert p.samples() == []  # sample stored nothing it could not write


# -- a read-only project can be read ----------------------------------------------------------------
def test_status_export_report_work_on_a_read_only_project(project_dir, tmp_path):
    run("label", project_dir, "--record", 1, "include")
    make_read_only(project_dir)
    try:
        for args in (["status", "--json"], ["export", "--format", "csv"], ["report", "--format", "md"],
                     ["prisma"], ["duplicates"], ["check"]):
            r = run_cli(args[0], project_dir, *args[1:])
            assert r.returncode == 0, (args, r.stderr)
        r = run_cli("label", project_dir, "--record", 2, "exclude")
        assert r.returncode == 2 and "read-only" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert sorted(p.name for p in project_dir.iterdir()) == [DB_NAME]  # nothing written
    finally:
        make_writable(project_dir)
    assert _status_ok(project_dir)["labelled"] == 1


def test_a_batch_imported_then_relabelled_in_the_project_may_be_replaced(project_dir, tmp_path):
    batch = tmp_path / "b.csv"
    batch.write_text("record_id,label\n1,include\n", encoding="utf-8")
    run("label", project_dir, batch)
    run("label", project_dir, "--record", 1, "exclude")  # changed later: the batch holds no new work
    run("next", project_dir, "-n", 2, "--out", batch, "--preset", "tfidf_svm")
    assert "record_id,title" in batch.read_text(encoding="utf-8")


def test_sigkill_mid_write_leaves_the_old_batch_whole(tmp_path):
    """A process killed while writing an output leaves the previous file complete (issue #10, 3)."""
    import signal
    import subprocess
    import sys

    batch = tmp_path / "batch.csv"
    batch.write_text("record_id,label\n1,include\n2,exclude\n", encoding="utf-8")
    old = batch.read_bytes()
    code = ("import sys, time\nfrom triage.io.output import write_output\n"
            "def half(tmp):\n    tmp.write_text('record_id,label\\n1,')\n    print('half', flush=True)\n"
            "    time.sleep(60)\n"
            "write_output(sys.argv[1], half)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", code, str(batch)], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"half\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert batch.read_bytes() == old
