"""Label values typed by reviewers, and batch label files (CSV/TSV) applied all or nothing.

A batch file has one row per record: columns `record_id` and `label` are required, `note`,
`reason` and `round` optional (column names are case-insensitive). An empty label means "not
yet screened" and is skipped. Every row is checked before anything is stored; the valid file is
then stored in one transaction, so a bad file leaves the project unchanged.
"""

from __future__ import annotations

import codecs
import csv
import errno
import getpass
import io
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from triage.errors import LabelError, OutputError
from triage.history import parse_label
from triage.io.writers import ExportRow
from triage.store.project import Project

REQUIRED_COLUMNS = ("record_id", "label")


#: Environment variable naming the reviewer (before the OS user name).
REVIEWER_ENV = "TRIAGE_REVIEWER"


def default_reviewer() -> str:
    """$TRIAGE_REVIEWER, else the OS user name, else "reviewer"."""
    name = os.environ.get(REVIEWER_ENV, "").strip()
    if name:
        return name
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
    reviewer: str = ""  # from a `reviewer` column (a colleague's decisions); "" = the reviewer importing
    key: str = ""  # the record's id in the --id-column (DOI, PMID, the imported file's own id)


_INT = re.compile(r"[0-9]+(?:\.0*)?", re.ASCII)  # 12, or 12.0 as spreadsheets write it
#: Columns the reader uses; each may appear only once in the header.
KNOWN_COLUMNS = ("record_id", "label", "note", "reason", "round", "origin", "reviewer")
#: Bad rows listed in one error message (the total is always given).
MAX_REPORTED = 20
#: A label file larger than this is refused (a batch of 10^5 records with abstracts is ~150 MB).
MAX_LABEL_FILE_BYTES = 512 * 1024 * 1024


def _int_cell(value: str) -> int:
    """An ASCII whole number, or a spreadsheet's `12.0`; ValueError otherwise (`1e2`, `١٢`, `-3`)."""
    v = value.strip()
    if not _INT.fullmatch(v):
        raise ValueError(v)
    return int(v.split(".")[0])


def _read_bytes(path: Path) -> bytes:
    """The bytes of a regular file; LabelError for a folder, pipe, device, link loop or unreadable file.

    The file is opened non-blocking and checked with fstat before reading, so a FIFO never hangs."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise LabelError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LabelError(f"{path}: is a folder, not a label file (give the CSV file inside it)") from None
    except PermissionError:
        raise LabelError(f"{path}: permission denied (the file is not readable for you)") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LabelError(f"{path}: symbolic link loop (the link points back to itself); give the real file") from None
        raise LabelError(f"{path}: cannot open ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise LabelError(f"{path}: is a folder, not a label file (give the CSV file inside it)")
        if not stat.S_ISREG(st.st_mode):
            raise LabelError(f"{path}: not a regular file (a pipe, socket or device); save the labels to a CSV file "
                             "and give that")
        if st.st_size > MAX_LABEL_FILE_BYTES:
            raise LabelError(f"{path}: {st.st_size / 2**20:.0f} MB is too large for a label file "
                             f"(at most {MAX_LABEL_FILE_BYTES // 2**20} MB)")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise LabelError(f"{path}: cannot read ({e.strerror})") from None
    finally:
        os.close(fd)


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise LabelError(f"{path}, line {line}: not UTF-8 text (byte offset {e.start}); save it as CSV UTF-8") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise LabelError(f"{path}, line {line}: binary data (NUL bytes): not a label file; save it as CSV")
    return text


def _header_of(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=delimiter), [])
    except csv.Error:
        return []


def _names(header: list[str]) -> list[str]:
    return [h.replace("\ufeff", "").strip().lower() for h in header]


def _sniff(path: Path, text: str, required: tuple = REQUIRED_COLUMNS) -> str:
    """The delimiter whose header holds record_id and label: tab, comma, semicolon or pipe
    (Excel writes semicolons in many locales); the extension decides for .tsv/.tab."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    candidates = (",", ";", "\t", "|")
    for d in candidates:
        if all(c in _names(_header_of(text, d)) for c in required):
            return d
    first = text.split("\n", 1)[0]
    return max(candidates, key=first.count) if any(d in first for d in candidates) else ","


def _too_many(path: Path, errors: list[tuple]) -> LabelError:
    """One LabelError listing every bad row (up to MAX_REPORTED), ordered by line. Each error is
    (line, problem) or (line, where, problem) with `where` e.g. 'lines 2 and 4'."""
    errors = sorted(((e[0], f"line {e[0]}", e[1]) if len(e) == 2 else e for e in errors), key=lambda e: e[0])
    if len(errors) == 1:
        _, where, msg = errors[0]
        return LabelError(f"{path}, {where}: {msg}")
    shown = [f"  {where}: {msg}" for _, where, msg in errors[:MAX_REPORTED]]
    more = [f"  ... and {len(errors) - MAX_REPORTED} more"] if len(errors) > MAX_REPORTED else []
    return LabelError("\n".join([f"{path}: {len(errors)} rows cannot be used (nothing was stored):"] + shown + more))


def _parse(path: Path, id_column: str | None = None) -> tuple[list[LabelRow], list[tuple[int, str]]]:
    """(rows that parsed, [(line, problem)] for those that did not). Raises LabelError for a file
    that is not a label file at all (unreadable, no header, missing or repeated column).

    id_column: the column that identifies records instead of triage's record_id (its text is kept
    in LabelRow.key and record_id is -1, resolved later against the project)."""
    idc = id_column.strip().lower() if id_column else None
    required = (idc or "record_id", "label")
    known = KNOWN_COLUMNS + ((idc,) if idc and idc not in KNOWN_COLUMNS else ())
    text = _decode(path, _read_bytes(path))
    delimiter = _sniff(path, text, required)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long abstracts in a `triage next` batch
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise LabelError(f"{path}, line 1: cannot read the header ({e})") from None
    if not header or not any(h.strip() for h in header):
        raise LabelError(f"{path}: empty file (expected a header with columns record_id and label)")
    names = _names(header)
    missing = [c for c in required if c not in names]
    if missing:
        raise LabelError(f"{path}, line 1: missing column {missing[0]!r} (found: {', '.join(header)}; "
                         f"a label file needs {required[0]} and label columns, separated by commas, semicolons or "
                         "tabs" + ("; --id-column names the column that identifies the records" if idc else "") + ")")
    for name in known:
        at = [i + 1 for i, n in enumerate(names) if n == name]
        if len(at) > 1:
            raise LabelError(f"{path}, line 1: columns {' and '.join(map(str, at))} are both named {name!r}; "
                             "keep one of them (nothing was stored)")
    cols = {n: i for i, n in enumerate(names) if n in known}
    need = max(cols[required[0]], cols["label"]) + 1

    def cell(row: list[str], name: str) -> str:
        i = cols.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    rows: list[LabelRow] = []
    errors: list[tuple[int, str]] = []
    end = reader.line_num
    while True:
        line = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            errors.append((line, f"{e}: a quoted cell that starts here does not end properly (the file may be "
                                 "cut short); export it again"))
            break
        end = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) < need:
            errors.append((line, f"only {len(row)} of the header's {len(header)} cells (the file may be cut short, "
                                 "or this row uses another separator)"))
            continue
        problems = []
        raw_id, raw_label = cell(row, required[0]), cell(row, "label")
        rid = round_id = None
        if idc:
            rid = -1
            if not raw_id:
                problems.append(f"empty {required[0]} (every row needs the id of its record)")
        else:
            try:
                rid = _int_cell(raw_id)
            except ValueError:
                problems.append(f"bad record_id {raw_id!r} (expected triage's record id, a whole number such as 12; "
                                "to use the imported file's own ids, DOIs or PMIDs give --id-column NAME)")
        try:
            label = parse_label_value(raw_label)
        except ValueError as e:
            problems.append(str(e))
        if cell(row, "round"):
            try:
                round_id = _int_cell(cell(row, "round"))
            except ValueError:
                problems.append(f"bad round {cell(row, 'round')!r} (expected a round id)")
        origin = cell(row, "origin").lower() or "ranked"
        if origin not in ("ranked", "random"):
            problems.append(f"bad origin {cell(row, 'origin')!r} (ranked, random or empty)")
        if problems:
            errors.append((line, "; ".join(problems)))
            continue
        rows.append(LabelRow(line, rid, label, cell(row, "note"), cell(row, "reason"), round_id, origin,
                             cell(row, "reviewer"), raw_id if idc else ""))
    return rows, errors


def read_label_file(path: str | Path) -> list[LabelRow]:
    """Parse and check every row of a batch label file (no project access).

    The delimiter (comma, semicolon, tab, pipe) is sniffed from the header; UTF-8 (with or without
    BOM) or UTF-16 with BOM. Raises LabelError naming the file and every bad line (up to
    MAX_REPORTED) for a missing or repeated column, a bad record id, label, round or origin, or a
    cut-short file. Fully blank rows are ignored; rows with an empty label are returned with label
    None (callers must skip them, not treat them as an undo)."""
    path = Path(path)
    rows, errors = _parse(path)
    if errors:
        raise _too_many(path, errors)
    return rows


@dataclass(frozen=True)
class BatchResult:
    """What `apply_label_file` stored: label events, empty rows skipped, labels that changed."""

    stored: int
    skipped_empty: int
    changed: int
    round_id: int | None


def _rep_map(project: Project) -> dict[int, int]:
    """record id -> its group's representative, for every record."""
    rep_of = {int(i): int(i) for i in project.record_ids()}
    rep_of.update({d: rep for rep, dups in project.duplicate_groups() for d in dups})
    return rep_of


def record_lookup(project: Project, id_column: str) -> dict[str, set[int]]:
    """id -> {group representatives} for --id-column: `doi` (normalised), `pmid`, or the name of
    an original column/tag of the imported files (records.fields, case-insensitive; e.g. a CSV's
    `record_id` or `ID`, a RIS `ID` or `AN` tag). Every record counts, merged duplicates too (their
    source ids point at their group)."""
    from triage.io.dedup import normalise_doi

    name = id_column.strip().lower()
    rep_of = _rep_map(project)
    out: dict[str, set[int]] = {}
    for rid, doi, pmid, fields in project.identifiers():
        if name == "doi":
            values = [normalise_doi(doi)] if doi else []
        elif name == "pmid":
            values = [pmid.strip()] if pmid else []
        else:
            values = []
            for k, v in fields.items():
                if str(k).strip().lower() == name:
                    values += [str(x).strip() for x in (v if isinstance(v, list) else [v]) if str(x).strip()]
        for v in values:
            out.setdefault(v, set()).add(rep_of.get(rid, rid))
    return out


#: Original columns/tags that hold an imported file's own record id (first found is used):
#: CSV/Excel record_id or ID, RIS ID / AN (accession number), Web of Science UT, Scopus EID.
SOURCE_ID_FIELDS = ("record_id", "id", "an", "ut", "eid", "accession number")


def source_ids(project: Project) -> dict[int, str]:
    """group representative -> the imported files' own ids of it and its merged duplicates
    ('; '-joined, first of SOURCE_ID_FIELDS found in each record's original fields)."""
    rep_of = _rep_map(project)
    out: dict[int, list[str]] = {}
    for rid, _, _, fields in project.identifiers():
        low = {str(k).strip().lower(): v for k, v in fields.items()}
        for name in SOURCE_ID_FIELDS:
            v = low.get(name)
            v = (v[0] if v else "") if isinstance(v, list) else v
            if v is not None and str(v).strip():
                ids = out.setdefault(rep_of.get(rid, rid), [])
                if str(v).strip() not in ids:
                    ids.append(str(v).strip())
                break
    return {k: "; ".join(v) for k, v in out.items()}


def _resolve_keys(project: Project, rows: list[LabelRow], id_column: str, errors: list) -> list[LabelRow]:
    """Rows with record_id set from their key (errors appended for unknown or ambiguous keys)."""
    import dataclasses

    from triage.io.dedup import normalise_doi

    lookup = record_lookup(project, id_column)
    if not lookup:
        raise LabelError(f"no record of the project has a {id_column!r} value; use doi, pmid, or a column/tag of the "
                         "imported files (e.g. record_id, ID, AN)")
    out = []
    for r in rows:
        key = normalise_doi(r.key) if id_column.strip().lower() == "doi" else r.key
        hits = lookup.get(key, set())
        if not hits:
            errors.append((r.line, f"no record with {id_column} {r.key!r}"))
        elif len(hits) > 1:
            errors.append((r.line, f"{id_column} {r.key!r} names {len(hits)} records ({', '.join(map(str, sorted(hits)))}); "
                                   "use triage's record_id for this row"))
        else:
            out.append(dataclasses.replace(r, record_id=next(iter(hits))))
    return out


def apply_label_file(project: Project, path: str | Path, reviewer: str, id_column: str | None = None) -> BatchResult:
    """Validate a batch file against the project, then store its labels in one transaction.

    Labels are origin 'ranked', or 'random' where an `origin` column says so (a certification
    sample from `triage sample`). Each ranked row's round is its `round` cell, else the project's
    latest round (None before the first round). Bad rows, unknown record ids or rounds, and one
    record given two different labels are all reported at once (LabelError naming the file and
    lines); then nothing is stored."""
    path = Path(path)
    rows, errors = _parse(path, id_column)
    if id_column:
        n_empty = sum(1 for r in rows if r.label is None)
        rows = _resolve_keys(project, [r for r in rows if r.label is not None], id_column, errors)
        rows += [LabelRow(0, -1, None)] * n_empty  # keeps the count of empty rows skipped
    rep_of = _rep_map(project)
    rounds = {r.id for r in project.rounds()}
    latest = max(rounds) if rounds else None
    for r in rows:
        if r.label is None and r.record_id == -1:
            continue
        if r.record_id not in rep_of:
            errors.append((r.line, f"no record with id {r.record_id}"))
        elif r.round_id is not None and r.round_id not in rounds:
            errors.append((r.line, f"no round with id {r.round_id}"))
    todo = [r for r in rows if r.label is not None and r.record_id in rep_of]
    first_row: dict[tuple, LabelRow] = {}
    for r in todo:  # one file, two different labels for one record: ask, never let the last row win
        first = first_row.setdefault((rep_of[r.record_id], r.reviewer or reviewer), r)
        if first.label != r.label:
            dup = "" if first.record_id == r.record_id else f" (records {first.record_id} and {r.record_id} are duplicates)"
            errors.append((r.line, f"lines {first.line} and {r.line}",
                           f"record {rep_of[r.record_id]} is labelled both {first.label!r} and {r.label!r}{dup}; "
                           "keep one of the two rows"))
    if errors:
        raise _too_many(path, errors)
    dual = project.mode() == "dual"
    changed = 0
    for who in {r.reviewer or reviewer for r in todo} if dual else [None]:
        # dual mode: changes of each reviewer's own decisions; single mode: of the records' labels
        before = project.reviewer_labels(who) if dual else project.current_labels()
        after = dict(before)
        for r in todo:
            if not dual or (r.reviewer or reviewer) == who:
                after[rep_of[r.record_id]] = r.label
        changed += sum(1 for rid, old in before.items() if after[rid] != old)
    project.add_labels([(r.record_id, r.label) for r in todo], reviewer=reviewer, origin="ranked",
                       reviewers=[r.reviewer or reviewer for r in todo],
                       notes=[r.note for r in todo], reasons=[r.reason for r in todo],
                       round_ids=[None if r.origin == "random" else latest if r.round_id is None else r.round_id
                                  for r in todo],
                       origins=[r.origin for r in todo])
    return BatchResult(len(todo), len(rows) - len(todo), changed, latest)


def unimported_labels(project: Project, path: str | Path, reviewer: str | None = None) -> int:
    """How many filled-in labels of an existing batch file the project never stored.

    Lenient: a file that is not a label file (no record_id and label columns, unreadable) holds 0;
    a filled label cell that cannot be parsed, or names an unknown record, counts as not imported."""
    path = Path(path)
    if not path.is_file():
        return 0
    try:
        text = _decode(path, _read_bytes(path))
    except LabelError:
        return 0
    delimiter = _sniff(path, text)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        names = _names(next(reader, []))
        if not all(c in names for c in REQUIRED_COLUMNS):
            return 0
        i_id, i_label = names.index("record_id"), names.index("label")
        rep_of = _rep_map(project)
        # every (record, label) the project has ever stored: a label imported and later changed
        # (e.g. in `triage screen`) is not pending work
        # (dual screening with `reviewer`: only that reviewer's own decisions, so a colleague's equal
        # label does not make a batch look imported)
        mine = reviewer is not None and project.mode() == "dual"
        given = {(e.record_id, e.label) for e in project.label_events() if e.label is not None
                 and (not mine or (e.reviewer == reviewer and e.kind == "decision"))}
        pending = 0
        for row in reader:
            raw = row[i_label].strip() if i_label < len(row) else ""
            if not raw:
                continue
            try:
                rid = rep_of[_int_cell(row[i_id] if i_id < len(row) else "")]
                same = (rid, parse_label_value(raw)) in given
            except (ValueError, KeyError):
                same = False
            pending += not same
        return pending
    except csv.Error:
        return 1  # a batch cut short or damaged: treat as holding work


def refuse_unimported(project: Project, path: str | Path, reviewer: str | None = None) -> None:
    """Raise OutputError when `path` holds labels the project does not have yet (`triage next` and
    `triage sample` never overwrite a filled-in batch)."""
    n = unimported_labels(project, path, reviewer)
    if n:
        raise OutputError(
            f"{path} holds {n} label{'s' if n != 1 else ''} not yet imported into the project; nothing was written. "
            f"Import it first with `triage label {project.directory} {path}`, or choose another --out")


#: `triage export --which` choices -> the current label they select (None: unlabelled).
WHICH = {"included": "include", "excluded": "exclude", "maybe": "maybe", "unlabelled": None, "all": "all"}


def export_rows(project: Project, which: str = "all", reviewer: str | None = None) -> list[ExportRow]:
    """The de-duplicated records selected by `which` (a key of WHICH), in record id order, each with
    its label and the note/reason of the event that set it, and its source file names.

    Single mode: the current label. Dual mode: with `reviewer`, that reviewer's own decisions only
    (blinded); without, the final labels (resolved or agreed; conflicts count as unlabelled) with
    the note/reason of the resolution."""
    if which not in WHICH:
        raise LabelError(f"unknown selection {which!r} (use {', '.join(WHICH)})")
    dual = project.mode() == "dual"
    if not dual:
        current = project.current_labels()
    elif reviewer:
        current = project.reviewer_labels(reviewer)
    else:
        current = project.final_labels()
    last_event = {}
    for e in project.label_events():
        if not dual or (e.reviewer == reviewer and e.kind == "decision" if reviewer else e.kind != "decision"):
            last_event[e.record_id] = e
    want = WHICH[which]
    ids = [int(i) for i in project.record_ids() if want == "all" or current.get(int(i)) == want]
    own_ids = source_ids(project)
    rows = []
    for r in project.records(ids):
        label = current.get(r.id)
        ev = last_event.get(r.id) if label is not None else None
        names = list(dict.fromkeys(name for name, _, _ in project.record_sources(r.id)))
        rows.append(ExportRow(r.id, r.title, r.abstract, r.authors, r.year, r.journal, r.doi, r.pmid, r.keywords,
                              r.fields, label, ev.note if ev else "", ev.reason if ev else "", names,
                              own_ids.get(r.id, "")))
    return rows
