"""Issue #10, label files: non-regular files, strict record ids, repeated columns, sniffed
delimiters, every bad row at once; a Hypothesis property test over `read_label_file`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from triage.errors import LabelError, TriageError
from triage.store.labels_io import apply_label_file, read_label_file
from triage.store.project import Project

ROOT = Path(__file__).resolve().parents[3]


def _file(tmp_path: Path, text: str, name: str = "labels.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- 8. folders, link loops, unreadable files, FIFOs ------------------------------------------------
def test_a_folder_is_refused(tmp_path):
    with pytest.raises(LabelError, match="is a folder, not a label file"):
        read_label_file(tmp_path)


def test_a_symlink_loop_is_refused(tmp_path):
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(LabelError, match="symbolic link loop"):
        read_label_file(loop)


def test_an_unreadable_file_is_refused(tmp_path):
    p = _file(tmp_path, "record_id,label\n1,include\n")
    p.chmod(0)
    code = ("import sys; from triage.store.labels_io import read_label_file\n"
            "from triage.errors import LabelError\n"
            "try:\n    read_label_file(sys.argv[1])\nexcept LabelError as e:\n    print(e)\n")
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    try:
        from _subprocess_cli import _drop_file_capabilities
    finally:
        sys.path.pop(0)
    preexec = _drop_file_capabilities if os.geteuid() == 0 else None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=60,
                       preexec_fn=preexec, env=env)
    p.chmod(0o644)
    assert "permission denied (the file is not readable for you)" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "labels.csv"
    os.mkfifo(fifo)
    code = ("import sys; from triage.store.labels_io import read_label_file\n"
            "from triage.errors import LabelError\n"
            "try:\n    read_label_file(sys.argv[1])\nexcept LabelError as e:\n    print(e)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=30, env=env)
    assert "not a regular file (a pipe, socket or device)" in r.stdout, r.stdout + r.stderr


# -- record ids, columns, delimiters -------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["1e2", "١٢", "１２", "12.5", "-3", "0x10", "1_000", " "])
def test_record_ids_are_ascii_whole_numbers(tmp_path, raw):
    with pytest.raises(LabelError, match="line 2: bad record_id"):
        read_label_file(_file(tmp_path, f"record_id,label\n{raw},include\n"))


def test_spreadsheet_whole_numbers_are_accepted(tmp_path):
    rows = read_label_file(_file(tmp_path, "record_id,label,round\n12.0,include,3.0\n7,no,\n"))
    assert [(r.record_id, r.label, r.round_id) for r in rows] == [(12, "include", 3), (7, "exclude", None)]


@pytest.mark.parametrize("header", ["record_id,label,label", "record_id,Label,title,LABEL",
                                    "record_id,label,record_id"])
def test_a_repeated_column_is_refused_naming_both(tmp_path, header):
    n = len(header.split(","))
    with pytest.raises(LabelError, match=r"line 1: columns \d and \d are both named"):
        read_label_file(_file(tmp_path, header + "\n" + ",".join(["1"] + ["include"] * (n - 1)) + "\n"))


@pytest.mark.parametrize("sep", [";", "\t", ",", "|"])
def test_the_delimiter_is_sniffed(tmp_path, sep):
    text = sep.join(["record_id", "title", "label"]) + "\n" + sep.join(["3", "A, b; c", "exclude"]) + "\n"
    text = text.replace("A, b; c", '"A, b; c"')
    assert [(r.record_id, r.label) for r in read_label_file(_file(tmp_path, text))] == [(3, "exclude")]


def test_utf16_with_bom_is_read(tmp_path):
    p = tmp_path / "l.csv"
    p.write_bytes("record_id\tlabel\r\n4\tmaybe\r\n".encode("utf-16"))
    assert [(r.record_id, r.label) for r in read_label_file(p)] == [(4, "maybe")]


def test_every_bad_row_is_reported_at_once(tmp_path):
    text = "record_id,label\n1,include\n1e2,include\n3,yes please\n4,exclude\nx,maybe\n"
    with pytest.raises(LabelError) as e:
        read_label_file(_file(tmp_path, text))
    msg = str(e.value)
    assert "3 rows cannot be used (nothing was stored)" in msg
    assert "line 3: bad record_id '1e2'" in msg and "line 4: unknown label 'yes please'" in msg
    assert "line 6: bad record_id 'x'" in msg


def test_many_bad_rows_are_capped_with_the_total(tmp_path):
    from triage.store.labels_io import MAX_REPORTED

    text = "record_id,label\n" + "".join(f"{i},bad\n" for i in range(100))
    with pytest.raises(LabelError) as e:
        read_label_file(_file(tmp_path, text))
    msg = str(e.value)
    assert "100 rows cannot be used" in msg and f"... and {100 - MAX_REPORTED} more" in msg
    assert msg.count("\n  line ") == MAX_REPORTED


def test_file_and_project_problems_are_reported_together(project_dir, tmp_path):
    text = "record_id,label\n1,include\n999,include\n2,maybe?\n1,exclude\n"
    with Project.open(project_dir) as p:
        with pytest.raises(LabelError) as e:
            apply_label_file(p, _file(tmp_path, text), "me")
        assert p.label_events() == []
    msg = str(e.value)
    assert "line 3: no record with id 999" in msg and "line 4: unknown label 'maybe?'" in msg
    assert "lines 2 and 5: record 1 is labelled both" in msg


def test_quoted_newlines_keep_line_numbers(tmp_path):
    text = 'record_id,title,label\n1,"two\nlines",include\n2,t,nope\n'
    with pytest.raises(LabelError, match="line 4: unknown label 'nope'"):
        read_label_file(_file(tmp_path, text))


# -- 15. property test: any file either parses or raises a TriageError ------------------------------
_CELLS = st.one_of(st.sampled_from(["1", "12.0", "1e2", "include", "exclude", "maybe", "?", "", "yes", "0",
                                    "random", "ranked", "٣", '"', '""', "\r", "\n", ";", "\t", "=1+1"]),
                   st.text(max_size=12))
_HEADERS = st.lists(st.sampled_from(["record_id", "label", "note", "reason", "round", "origin", "title",
                                     "Label", " record_id ", "", "x"]), min_size=0, max_size=7)


@st.composite
def _label_files(draw) -> bytes:
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(_HEADERS)
    rows = draw(st.lists(st.lists(_CELLS, max_size=8), max_size=8))
    text = "\n".join(sep.join(r) for r in [header] + rows)
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])), errors="surrogatepass")
    if draw(st.booleans()):  # mutate: cut, flip or insert bytes
        cut = draw(st.integers(0, len(data)))
        junk = draw(st.binary(max_size=6))
        data = data[:cut] + junk + data[cut + draw(st.integers(0, 3)):]
    return data


@settings(derandomize=True, database=None, max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=_label_files())
def test_read_label_file_parses_or_raises_a_triage_error(tmp_path, data):
    p = tmp_path / "fuzz.csv"
    p.write_bytes(data)
    try:
        rows = read_label_file(p)
    except TriageError:
        return
    for r in rows:
        assert isinstance(r.record_id, int) and r.record_id >= 0
        assert r.label in (None, "include", "exclude", "maybe") and r.origin in ("ranked", "random")
