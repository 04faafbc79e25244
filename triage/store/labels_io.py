"""Label values typed by reviewers, and batch label files (CSV/TSV) applied all or nothing.

A batch file has one row per record: columns `record_id` and `label` are required, `note`,
`reason` and `round` optional (column names are case-insensitive). An empty label means "not
yet screened" and is skipped. Every row is checked before anything is stored; the valid file is
then stored in one transaction, so a bad file leaves the project unchanged.
"""

from __future__ import annotations

import csv
import getpass
from dataclasses import dataclass
from pathlib import Path

from triage.errors import LabelError
from triage.history import parse_label
from triage.io.writers import ExportRow
from triage.store.project import Project

REQUIRED_COLUMNS = ("record_id", "label")


def default_reviewer() -> str:
    """The OS user name, or "reviewer" when none is set."""
    try:
        return getpass.getuser() or "reviewer"
    except Exception:  # getuser raises OSError/KeyError/ImportError depending on platform and version
        return "reviewer"


parse_label_value = parse_label  # the one vocabulary (triage.history)


@dataclass(frozen=True)
class LabelRow:
    """One data row of a batch file. `label` None means the row was left empty (not screened)."""

    line: int
    record_id: int
    label: str | None
    note: str = ""
    reason: str = ""
    round_id: int | None = None  # from a `round` column, when the file has one and the cell is set
    origin: str = "ranked"  # "random" for rows of a certification sample (`triage sample`)


def _int_cell(value: str) -> int:
    v = value.strip()
    try:
        return int(v)
    except ValueError:
        f = float(v)  # spreadsheets write 12 as 12.0
        if not f.is_integer():
            raise
        return int(f)


def read_label_file(path: str | Path) -> list[LabelRow]:
    """Parse and check every row of a batch label file (no project access).

    Raises LabelError naming the file, line and value for a missing column, a bad record id,
    label or round. Fully blank rows are ignored; rows with an empty label are returned with
    label None (callers must skip them, not treat them as an undo)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise LabelError(f"{path}: not a UTF-8 text file ({e.reason})") from None
    first = text.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") or ("\t" in first and "," not in first) else ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise LabelError(f"{path}: empty file (expected a header with columns record_id and label)")
    cols = {name.strip().lower(): i for i, name in reversed(list(enumerate(header)))}
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise LabelError(f"{path}, line 1: missing column {missing[0]!r} (found: {', '.join(header)})")

    def cell(row: list[str], name: str) -> str:
        i = cols.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    rows = []
    for line, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        raw_id, raw_label = cell(row, "record_id"), cell(row, "label")
        try:
            rid = _int_cell(raw_id)
        except ValueError:
            raise LabelError(f"{path}, line {line}: bad record_id {raw_id!r} (expected a record id number)") from None
        try:
            label = parse_label_value(raw_label)
        except ValueError as e:
            raise LabelError(f"{path}, line {line}: {e}") from None
        round_id = None
        if cell(row, "round"):
            try:
                round_id = _int_cell(cell(row, "round"))
            except ValueError:
                raise LabelError(f"{path}, line {line}: bad round {cell(row, 'round')!r} (expected a round id)") from None
        origin = cell(row, "origin").lower() or "ranked"
        if origin not in ("ranked", "random"):
            raise LabelError(f"{path}, line {line}: bad origin {cell(row, 'origin')!r} (ranked, random or empty)")
        rows.append(LabelRow(line, rid, label, cell(row, "note"), cell(row, "reason"), round_id, origin))
    return rows


@dataclass(frozen=True)
class BatchResult:
    """What `apply_label_file` stored: label events, empty rows skipped, labels that changed."""

    stored: int
    skipped_empty: int
    changed: int
    round_id: int | None


def apply_label_file(project: Project, path: str | Path, reviewer: str) -> BatchResult:
    """Validate a batch file against the project, then store its labels in one transaction.

    Labels are origin 'ranked', or 'random' where an `origin` column says so (a certification
    sample from `triage sample`). Each ranked row's round is its `round` cell, else the project's
    latest round (None before the first round). Unknown record ids or rounds, and one record given
    two different labels, raise LabelError naming the file, line and value; then nothing is stored."""
    rows = read_label_file(path)
    rep_of = {int(i): int(i) for i in project.record_ids()}
    rep_of.update({d: rep for rep, dups in project.duplicate_groups() for d in dups})
    rounds = {r.id for r in project.rounds()}
    latest = max(rounds) if rounds else None
    for r in rows:
        if r.record_id not in rep_of:
            raise LabelError(f"{path}, line {r.line}: no record with id {r.record_id}")
        if r.round_id is not None and r.round_id not in rounds:
            raise LabelError(f"{path}, line {r.line}: no round with id {r.round_id}")
    todo = [r for r in rows if r.label is not None]
    first_row: dict[int, LabelRow] = {}
    for r in todo:  # one file, two different labels for one record: ask, never let the last row win
        first = first_row.setdefault(rep_of[r.record_id], r)
        if first.label != r.label:
            dup = "" if first.record_id == r.record_id else f" (records {first.record_id} and {r.record_id} are duplicates)"
            raise LabelError(f"{path}, lines {first.line} and {r.line}: record {rep_of[r.record_id]} is labelled "
                             f"both {first.label!r} and {r.label!r}{dup}; keep one of the two rows")
    before = project.current_labels()
    after = dict(before)
    for r in todo:
        after[rep_of[r.record_id]] = r.label
    changed = sum(1 for rid, old in before.items() if after[rid] != old)
    project.add_labels([(r.record_id, r.label) for r in todo], reviewer=reviewer, origin="ranked",
                       notes=[r.note for r in todo], reasons=[r.reason for r in todo],
                       round_ids=[None if r.origin == "random" else latest if r.round_id is None else r.round_id
                                  for r in todo],
                       origins=[r.origin for r in todo])
    return BatchResult(len(todo), len(rows) - len(todo), changed, latest)


#: `triage export --which` choices -> the current label they select (None: unlabelled).
WHICH = {"included": "include", "excluded": "exclude", "maybe": "maybe", "unlabelled": None, "all": "all"}


def export_rows(project: Project, which: str = "all") -> list[ExportRow]:
    """The de-duplicated records selected by `which` (a key of WHICH), in record id order, each with
    its current label and the note/reason of the event that set it, and its source file names."""
    if which not in WHICH:
        raise LabelError(f"unknown selection {which!r} (use {', '.join(WHICH)})")
    current = project.current_labels()
    last_event = {}
    for e in project.label_events():
        last_event[e.record_id] = e
    want = WHICH[which]
    ids = [int(i) for i in project.record_ids() if want == "all" or current.get(int(i)) == want]
    rows = []
    for r in project.records(ids):
        label = current.get(r.id)
        ev = last_event.get(r.id) if label is not None else None
        names = list(dict.fromkeys(name for name, _, _ in project.record_sources(r.id)))
        rows.append(ExportRow(r.id, r.title, r.abstract, r.authors, r.year, r.journal, r.doi, r.pmid, r.keywords,
                              r.fields, label, ev.note if ev else "", ev.reason if ev else "", names))
    return rows
