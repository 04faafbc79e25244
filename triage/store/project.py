"""The review project: one SQLite file (`project.sqlite`) in a project directory.

Facts, not objects, are persisted (cf. ASReview's database): records with their original fields
and sources, append-only label events, and one row per round with everything needed to
reproduce its ranking. Every write is one transaction; labels are committed with
`synchronous=FULL` in WAL mode, so a label reported saved survives a kill or power cut.

Layout of a project directory:
    project.sqlite   the store (schema version in PRAGMA user_version)
    cache/           derived features (embeddings, TF-IDF); safe to delete, rebuilt on demand
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from triage.errors import (LabelError, ProjectDamagedError, ProjectError, ProjectLockedError, ProjectWriteError,
                           TriageError)
from triage.io.dedup import abstract_words, distinct_abstracts, match_keys, normalise_doi
from triage.io.record import LABELS, Record, clean_text
from triage.history import ORIGINS, RELEVANCE, History
from triage.store import decisions

DB_NAME = "project.sqlite"
SCHEMA_VERSION = 2
SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,            -- file name as given
    path TEXT NOT NULL,            -- absolute path at import time
    sha256 TEXT NOT NULL UNIQUE,   -- content hash: re-importing the same file adds nothing
    format TEXT NOT NULL,
    n_entries INTEGER NOT NULL,    -- records read from the file
    n_new INTEGER NOT NULL,        -- records that were new to the project
    n_duplicates INTEGER NOT NULL, -- records merged into an existing group
    imported_at TEXT NOT NULL
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL, abstract TEXT NOT NULL, authors TEXT NOT NULL, year INTEGER,
    journal TEXT NOT NULL, doi TEXT NOT NULL, pmid TEXT NOT NULL, keywords TEXT NOT NULL,
    fields TEXT NOT NULL,          -- JSON of every original tag/column
    content_hash TEXT NOT NULL,    -- hash of the bibliographic content (skips exact re-imports)
    duplicate_of INTEGER REFERENCES records(id),  -- NULL: represents its duplicate group
    match_key TEXT                 -- the key that made it a duplicate
);
CREATE INDEX records_content ON records(content_hash);
CREATE INDEX records_dup ON records(duplicate_of);
CREATE TABLE record_keys (key TEXT NOT NULL, record_id INTEGER NOT NULL REFERENCES records(id));
CREATE INDEX record_keys_key ON record_keys(key);
CREATE TABLE record_sources (
    record_id INTEGER NOT NULL REFERENCES records(id),
    source_id INTEGER NOT NULL REFERENCES sources(id),
    position INTEGER NOT NULL, line INTEGER
);
CREATE TABLE kept_apart (record_id INTEGER PRIMARY KEY REFERENCES records(id));
CREATE TABLE label_events (
    id INTEGER PRIMARY KEY,
    record_id INTEGER NOT NULL REFERENCES records(id),
    label TEXT CHECK (label IN ('include', 'exclude', 'maybe') OR label IS NULL),  -- NULL: undone
    origin TEXT NOT NULL CHECK (origin IN ('prior', 'ranked', 'random')),
    reviewer TEXT NOT NULL, round_id INTEGER, note TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL
);
CREATE INDEX label_events_record ON label_events(record_id);
CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    preset TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL, versions TEXT NOT NULL,
    last_event_id INTEGER NOT NULL,   -- the label events this round was trained on: id <= this
    n_train INTEGER NOT NULL, n_included INTEGER NOT NULL, n_excluded INTEGER NOT NULL,
    record_ids BLOB NOT NULL,         -- int64, the pool in ranked order
    scores BLOB NOT NULL,             -- float64, scores of record_ids
    seconds REAL NOT NULL
);
CREATE TABLE samples (             -- random-sample certification draws (stopping rules)
    id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, seed INTEGER NOT NULL,
    pool_size INTEGER NOT NULL, record_ids BLOB NOT NULL
);
"""
# Version 2: label events say what they are (kind: a reviewer's own decision, a resolution of a
# disagreement, or a label that came with an imported file); the project has a screening mode
# (meta `mode`: single or dual, see triage.store.decisions). Labels imported before version 2
# (reviewer 'import', origin 'prior') become kind 'import'.
_SCHEMA_V2 = """
ALTER TABLE label_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'decision'
    CHECK (kind IN ('decision', 'resolution', 'import'));
UPDATE label_events SET kind = 'import' WHERE origin = 'prior' AND reviewer = 'import';
CREATE INDEX label_events_reviewer ON label_events(reviewer);
INSERT OR IGNORE INTO meta(key, value) VALUES ('mode', 'single');
"""
_MIGRATIONS = {1: _SCHEMA_V1, 2: _SCHEMA_V2}  # version -> SQL that brings version-1 to version


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def content_hash(r: Record) -> str:
    payload = json.dumps(
        [r.title.strip(), r.abstract.strip(), [a.strip() for a in r.authors], r.year,
         r.journal.strip(), normalise_doi(r.doi), r.pmid.strip()],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ImportResult:
    source: str
    n_read: int
    n_new: int
    n_duplicates: int
    n_already: int  # exact copies of records stored by an earlier import (another export of the same entry)
    n_labels: int
    skipped_file: bool = False  # the same file (by content) was imported before


@dataclass(frozen=True)
class StoredRecord:
    id: int
    title: str
    abstract: str
    authors: list
    year: int | None
    journal: str
    doi: str
    pmid: str
    keywords: list
    fields: dict


@dataclass(frozen=True)
class LabelEvent:
    id: int
    record_id: int
    label: str | None
    origin: str
    reviewer: str
    round_id: int | None
    note: str
    reason: str
    created_at: str
    kind: str = "decision"  # decision / resolution / import (triage.store.decisions)


@dataclass(frozen=True)
class NewRound:
    """A round to store: everything needed to reproduce and audit its ranking.

    params: the preset's parameters plus what the round used (model, question, embedder id);
    versions: library versions; last_event_id: the label events it trained on (id <= this);
    record_ids / scores: the pool in ranked order (int64) and their scores (float64)."""

    preset: str
    params: dict
    seed: int
    versions: dict
    last_event_id: int
    n_train: int
    n_included: int
    n_excluded: int
    record_ids: np.ndarray
    scores: np.ndarray
    seconds: float


@dataclass(frozen=True)
class RoundRow(NewRound):
    """A stored round: its id and time, and what `add_round` stored."""

    id: int
    created_at: str


_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
_MESSAGES = {  # primary result code <- message, for Pythons without sqlite_errorcode (3.10)
    "database is locked": _BUSY, "database table is locked": _LOCKED,
    "attempt to write a readonly database": _READONLY, "disk i/o error": _IOERR,
    "database disk image is malformed": _CORRUPT, "database or disk is full": _FULL,
    "unable to open database file": _CANTOPEN, "file is not a database": _NOTADB,
}
#: Environment variable: seconds to wait for another process's write lock (default below).
LOCK_TIMEOUT_ENV = "TRIAGE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 120.0
_REQUIRED_TABLES = {"meta", "sources", "records", "record_keys", "record_sources", "kept_apart",
                    "label_events", "rounds", "samples"}
WRITER_NOTE = DB_NAME + "-writer"  # "<pid>\t<command>" of the process in a write transaction


def lock_timeout() -> float:
    """Seconds to wait for another process's write lock: $TRIAGE_LOCK_TIMEOUT, else 120."""
    try:
        return max(0.0, float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT)))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def sqlite_code(e: sqlite3.Error) -> int | None:
    """The primary SQLite result code of an error (SQLITE_BUSY = 5, ...), or None if unknown."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF
    return _MESSAGES.get(str(e).lower())


def damaged_message(directory: Path, problem: str) -> str:
    """'DIR/project.sqlite is damaged (problem)' plus how to recover: the latest snapshot, or steps."""
    from triage.store.backup import latest_snapshot

    snap = latest_snapshot(directory)
    db = directory / DB_NAME
    if snap is not None:
        return (f"{db} is damaged ({problem}). To recover, `triage restore {directory} {snap}` puts back its "
                f"latest snapshot (labels given after it must be given again); the damaged file is moved to "
                f"{directory / 'backups'}, not deleted. Details: `triage check {directory}`.")
    return (f"{db} is damaged ({problem}) and {directory / 'backups'} holds no snapshot. To recover, "
            f"`triage restore {directory} BACKUP_FILE` with a copy from your own backups (the damaged file is "
            f"moved aside, not deleted); see README 'If a project is damaged'. Details: `triage check {directory}`.")


def translate_db_error(e: sqlite3.Error, directory: Path) -> TriageError | None:
    """The TriageError a reviewer should see for an SQLite error on this project (None: a bug)."""
    if isinstance(e, (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.IntegrityError)):
        return None
    db = directory / DB_NAME
    code = sqlite_code(e)
    if code == _FULL:
        return ProjectWriteError(f"{db}: the disk is full; nothing from this command was stored "
                                 "(free some space and run it again)")
    if code in (_CORRUPT, _NOTADB):
        return ProjectDamagedError(damaged_message(directory, str(e)))
    if code == _READONLY:
        return ProjectWriteError(f"{directory} is read-only for you and this command writes to the project; "
                                 "nothing was stored (`status`, `export` and `report` work on a read-only project)")
    if code in (_BUSY, _LOCKED):
        return ProjectLockedError(f"{directory} is being written by another process; nothing was stored "
                                  "(run the command again when it has finished)")
    if code == _IOERR:
        return ProjectWriteError(f"{db}: disk I/O error ({e}); nothing from this command was stored; check the "
                                 f"disk, then run `triage check {directory}`")
    if code == _CANTOPEN:
        return ProjectError(f"{db}: cannot open the project database ({e}); check that the folder and file "
                            "exist and are readable")
    return ProjectError(f"{db}: database error ({e})")


def _guarded(fn):
    """Method wrapper: SQLite errors become the TriageError a reviewer can act on."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as e:
            err = translate_db_error(e, self.directory)
            if err is None:
                raise
            raise err from e
    return wrapper


# Open Projects of this process per database file. Closing ANY descriptor of a file drops all of
# the process's POSIX locks on it, including those SQLite holds for the other connections (their
# shared lock tells another process's closing connection not to checkpoint and delete the WAL
# under them: "disk I/O error" or worse). So the header check below opens the file only while no
# connection of this process has it open, and opening is serialised with that check.
_LIVE: dict[str, int] = {}
_LIVE_LOCK = threading.RLock()


def _live_key(directory: Path) -> str:
    return os.path.realpath(directory / DB_NAME)


def _check_file(directory: Path) -> None:
    """Refuse a project file that is empty or not an SQLite database, before SQLite opens it
    (SQLite would silently turn a 0-byte file into a new, empty database). Call with _LIVE_LOCK."""
    db = directory / DB_NAME
    try:
        size = db.stat().st_size
        if size and _LIVE.get(_live_key(directory)):
            return  # checked when this process opened it; another descriptor would drop its locks
        with open(db, "rb") as f:
            head = f.read(16)
    except PermissionError:
        raise ProjectError(f"{db}: permission denied (the project file is not readable for you)") from None
    except OSError as e:
        raise ProjectError(f"{db}: cannot read the project file ({e.strerror})") from None
    if size == 0:
        raise ProjectDamagedError(damaged_message(directory, "the file is empty (0 bytes)"))
    if head != SQLITE_HEADER:
        raise ProjectDamagedError(damaged_message(directory, "the file is not an SQLite database"))


class Project:
    """An open review project. Use `Project.create` / `Project.open`; close with `close()`
    or use as a context manager.

    Every public method turns SQLite errors into TriageErrors (damaged file, disk full, lock held
    too long, read-only). A write that finds another process holding the write lock waits up to
    `lock_timeout()` seconds, telling `on_wait` (default: a line on stderr) once."""

    def __init__(self, directory: Path, conn: sqlite3.Connection, readonly: bool = False,
                 on_wait: Callable[[str], None] | None = None):
        self.directory = directory
        self.readonly = readonly
        self._conn = conn
        self._on_wait = on_wait or _stderr_notice
        self._live = _live_key(directory)
        with _LIVE_LOCK:
            _LIVE[self._live] = _LIVE.get(self._live, 0) + 1

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def create(cls, directory: str | Path, question: str = "", criteria: str = "", seed: int = 0,
               mode: str = "single") -> "Project":
        """Create a new project (the only way a project file comes to exist). mode: single or
        dual (blinded dual screening, see triage.store.decisions)."""
        if mode not in decisions.MODES:
            raise ProjectError(f"unknown screening mode {mode!r} (use {' or '.join(decisions.MODES)})")
        directory = Path(directory)
        if (directory / DB_NAME).exists() or (directory / DB_NAME).is_symlink():
            raise ProjectError(f"{directory} already holds a triage project")
        if directory.exists() and not directory.is_dir():
            raise ProjectError(f"{directory} exists and is not a directory")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ProjectError(f"{directory}: cannot create the project folder ({e.strerror})") from None
        project = cls(directory, cls._connect(directory / DB_NAME))
        try:
            project._apply_migrations(0)
            with project.transaction() as c:
                for k, v in {"question": question, "criteria": criteria, "seed": str(seed),
                             "created_at": _now(), "preset": "", "mode": mode}.items():
                    c.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                              "SET value = excluded.value", (k, v))
        except sqlite3.Error as e:
            project.close()
            raise translate_db_error(e, directory) or e
        except BaseException:
            project.close()
            raise
        return project

    @classmethod
    def open(cls, directory: str | Path, readonly: bool = False,
             on_wait: Callable[[str], None] | None = None) -> "Project":
        """Open an existing project. `readonly`: never write (works on a read-only folder or copy).

        Raises ProjectError when DIR holds no project, ProjectDamagedError when its file is not a
        valid triage project (empty, not SQLite, unknown schema, tables missing)."""
        directory = Path(directory)
        db = directory / DB_NAME
        if not db.exists():
            raise ProjectError(f"{directory} is not a triage project (no {DB_NAME}); create one with `triage init {directory}`")
        with _LIVE_LOCK:
            _check_file(directory)
            project = cls(directory, cls._connect(db, readonly), readonly, on_wait)
        try:
            project._check_schema()
            if readonly and project._needs_upgrade() and os.access(db, os.W_OK) and os.access(directory, os.W_OK):
                # a read-only command on an older but writable project: upgrade it first (with its
                # snapshot), as any writing command would, then read
                project.close()
                cls.open(directory, readonly=False, on_wait=on_wait).close()
                project = cls(directory, cls._connect(db, readonly), readonly, on_wait)
                project._check_schema()
            project._migrate()
        except sqlite3.Error as e:
            project.close()  # do not leave the file open (and locked) after refusing it
            raise translate_db_error(e, directory) or e
        except BaseException:
            project.close()
            raise
        return project

    @staticmethod
    def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
        directory = path.parent
        busy = min(1.0, lock_timeout())  # SQLite's own wait per attempt; `_begin` waits longer
        try:
            if readonly:
                uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=busy)
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                except sqlite3.OperationalError as e:
                    if sqlite_code(e) not in (_CANTOPEN, _READONLY):  # SQLITE_READONLY_DIRECTORY
                        raise
                    # A WAL database in a read-only folder without its -shm file: only an
                    # immutable open can read it (nothing can write the folder meanwhile), and
                    # only when no write-ahead log holds changes not yet in the file itself.
                    conn.close()
                    wal = Path(str(path) + "-wal")
                    if wal.exists() and wal.stat().st_size > 0:
                        raise ProjectError(
                            f"{directory} is read-only and its {wal.name} holds changes not yet merged into "
                            f"{DB_NAME}; copy the whole project folder somewhere writable and use the copy")
                    conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, timeout=busy)
            else:
                conn = sqlite3.connect(str(path), isolation_level=None, timeout=busy)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as e:
            code = sqlite_code(e)
            if not readonly and code in (_READONLY, _CANTOPEN):
                raise ProjectWriteError(
                    f"{directory} is read-only for you and this command writes to the project (ask for write "
                    "access or work on a copy; `status`, `export` and `report` work on a read-only project)") from None
            raise translate_db_error(e, directory) or ProjectError(f"{path}: cannot open the project database ({e})") from e
        return conn

    def _check_schema(self) -> None:
        """Refuse a file that is not a triage project this version can use."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"{self.directory} was written by a newer triage (schema {version} > {SCHEMA_VERSION}); upgrade triage")
        if version < 1:
            raise ProjectDamagedError(damaged_message(
                self.directory, f"schema version {version}: not a triage project file, or its header was overwritten"))
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = sorted(_REQUIRED_TABLES - tables)
        if missing:
            raise ProjectDamagedError(damaged_message(self.directory, f"tables missing: {', '.join(missing)}"))

    def _needs_upgrade(self) -> bool:
        return self._conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION

    def _migrate(self) -> None:
        """Bring an older schema up to SCHEMA_VERSION, after a snapshot in DIR/backups/."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        if self.readonly:
            raise ProjectError(f"{self.directory} uses an older project schema ({version} < {SCHEMA_VERSION}); "
                               f"open it once with write access (e.g. `triage question {self.directory}`) to upgrade it")
        from triage.store.backup import snapshot

        snapshot(self, reason=f"before-schema-{SCHEMA_VERSION}")
        self._apply_migrations(version)

    def _apply_migrations(self, version: int) -> None:
        for v in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as c:
                for stmt in _MIGRATIONS[v].split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute(f"PRAGMA user_version = {v}")

    def close(self) -> None:
        with _LIVE_LOCK:  # closed before it stops counting (see _LIVE)
            self._conn.close()
            if not getattr(self, "_closed", False) and _LIVE.get(self._live):
                _LIVE[self._live] -= 1
            self._closed = True

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def backup(self, dest: str | Path) -> Path:
        """Copy the project, consistent even while others write, to `dest` with SQLite's online
        backup API (atomically: temporary file, fsync, rename). Returns dest."""
        from triage.io.output import atomic_write

        def write(tmp: Path) -> None:
            target = sqlite3.connect(str(tmp))
            try:
                self._conn.backup(target)
            finally:
                target.close()

        try:
            return atomic_write(dest, write)
        except sqlite3.Error as e:
            raise translate_db_error(e, self.directory) or e

    # -- transactions and the write lock -----------------------------------------------------
    def _writer(self) -> str:
        """'PID 123: triage import ...' of the process holding the write lock, if it left a note."""
        try:
            pid, command = (self.directory / WRITER_NOTE).read_text(encoding="utf-8").split("\t", 1)
            os.kill(int(pid), 0)  # still running?
        except (OSError, ValueError):
            return ""
        return f" (PID {pid}: {command.strip()[:80]})"

    def _begin(self, cur: sqlite3.Cursor) -> None:
        """BEGIN IMMEDIATE, waiting up to lock_timeout() for another process's write lock."""
        waited_since = None
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if sqlite_code(e) not in (_BUSY, _LOCKED):
                    raise
                now = time.monotonic()
                limit = lock_timeout()
                if waited_since is None:
                    waited_since = now
                    if limit > 0:
                        self._on_wait(f"waiting for another triage process{self._writer()} to finish writing "
                                      f"{self.directory} (up to {limit:.0f} s; {LOCK_TIMEOUT_ENV} changes this)...")
                if now - waited_since >= limit:
                    raise ProjectLockedError(
                        f"{self.directory} is still being written by another process{self._writer()} after "
                        f"{now - waited_since:.0f} s; nothing was stored (run the command again when it has "
                        f"finished, or stop it)") from None
                time.sleep(0.05)

    def _note_writer(self, on: bool) -> None:
        note = self.directory / WRITER_NOTE
        try:
            if on:
                note.write_text(f"{os.getpid()}\t{' '.join(sys.argv)}", encoding="utf-8")
            else:
                note.unlink(missing_ok=True)
        except OSError:
            pass  # only a courtesy for other processes waiting for the lock

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """BEGIN IMMEDIATE ... COMMIT; any exception rolls everything back.

        SQLite errors leave as TriageErrors (disk full, damaged file, lock held too long)."""
        if self.readonly:
            raise ProjectError(f"{self.directory} was opened read-only; this command cannot write to it")
        cur = self._conn.cursor()
        try:
            self._begin(cur)
        except sqlite3.Error as e:
            raise translate_db_error(e, self.directory) or e
        self._note_writer(True)
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException as e:
            if self._conn.in_transaction:
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolled back already (e.g. after SQLITE_FULL)
            if isinstance(e, sqlite3.Error):
                err = translate_db_error(e, self.directory)
                if err is not None:
                    raise err from e
            raise
        finally:
            self._note_writer(False)

    # -- meta --------------------------------------------------------------------------------
    def meta(self, key: str, default: str = "") -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, value))

    @property
    def seed(self) -> int:
        return int(self.meta("seed", "0"))

    # -- import and de-duplication -----------------------------------------------------------
    def import_records(self, path: str | Path, fmt: str, records: Sequence[Record], reviewer: str = "import",
                       file_bytes_hash: str | None = None) -> ImportResult:
        """Add records read from one file, all or nothing. Duplicates join an existing group.

        Prior labels found in the file are stored as label events with origin 'prior' (only for
        records that do not have a label yet: the project's own labels win)."""
        path = Path(path)
        sha = file_bytes_hash or hashlib.sha256(path.read_bytes()).hexdigest()
        if self._conn.execute("SELECT 1 FROM sources WHERE sha256 = ?", (sha,)).fetchone():
            return ImportResult(path.name, len(records), 0, 0, len(records), 0, skipped_file=True)
        n_new = n_dup = n_already = n_labels = 0
        now = _now()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO sources(name, path, sha256, format, n_entries, n_new, n_duplicates, imported_at) "
                "VALUES (?, ?, ?, ?, ?, 0, 0, ?)", (path.name, str(path.resolve()), sha, fmt, len(records), now))
            source_id = c.lastrowid
            kept_apart = {r[0] for r in c.execute("SELECT record_id FROM kept_apart")}
            stored_here: set[int] = set()
            for r in records:
                ch = content_hash(r)
                row = c.execute("SELECT id FROM records WHERE content_hash = ?", (ch,)).fetchone()
                if row:  # the very same entry is already stored: remember this source only
                    rid = row[0]
                    if rid in stored_here:  # repeated within this file: a duplicate, not a re-import
                        n_dup += 1
                    else:
                        n_already += 1
                else:
                    keys = match_keys(r.title, r.year, r.doi, r.pmid, r.abstract)
                    group, key = self._find_group(c, keys, normalise_doi(r.doi), kept_apart, r.abstract)
                    c.execute(
                        "INSERT INTO records(title, abstract, authors, year, journal, doi, pmid, keywords, fields, "
                        "content_hash, duplicate_of, match_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (r.title, r.abstract, json.dumps(r.authors, ensure_ascii=False), r.year, r.journal, r.doi,
                         r.pmid, json.dumps(r.keywords, ensure_ascii=False),
                         json.dumps(r.fields, ensure_ascii=False, default=str), ch, group, key))
                    rid = c.lastrowid
                    stored_here.add(rid)
                    c.executemany("INSERT INTO record_keys(key, record_id) VALUES (?, ?)", [(k, rid) for k in keys])
                    if group is None:
                        n_new += 1
                    else:
                        n_dup += 1
                c.execute("INSERT INTO record_sources(record_id, source_id, position, line) VALUES (?, ?, ?, ?)",
                          (rid, source_id, r.position, r.line))
                if r.label is not None:
                    rep = self._representative(c, rid)
                    if self._current_label(c, rep) is None:
                        c.execute(
                            "INSERT INTO label_events(record_id, label, origin, reviewer, round_id, note, reason, "
                            "created_at, kind) VALUES (?, ?, 'prior', ?, NULL, ?, '', ?, 'import')",
                            (rep, r.label, reviewer, r.note, now))
                        n_labels += 1
            c.execute("UPDATE sources SET n_new = ?, n_duplicates = ? WHERE id = ?", (n_new, n_dup, source_id))
        return ImportResult(path.name, len(records), n_new, n_dup, n_already, n_labels)

    @staticmethod
    def _find_group(c: sqlite3.Cursor, keys: list[str], doi: str, kept_apart: set[int],
                    abstract: str = "") -> tuple[int | None, str | None]:
        """The representative of the first group that one of `keys` matches, with that key."""
        words = abstract_words(abstract)
        for key in keys:
            for (rid,) in c.execute("SELECT record_id FROM record_keys WHERE key = ? ORDER BY record_id", (key,)).fetchall():
                if rid in kept_apart:
                    continue
                rep = Project._representative(c, rid)
                if rep in kept_apart:
                    continue
                if key.startswith("abstract:") and doi:  # same short title, year and abstract: unless DOIs differ
                    members = c.execute("SELECT doi FROM records WHERE id = ? OR duplicate_of = ?", (rep, rep)).fetchall()
                    if {normalise_doi(d) for d, in members} - {"", doi}:
                        continue
                if key.startswith("title:") and (doi or len(words) >= 10):
                    # Same title but different DOIs, or abstracts with almost no words in common:
                    # distinct works. Check the whole group, not only the matching record, or a
                    # DOI-less member would chain two distinct works together.
                    members = c.execute("SELECT doi, abstract FROM records WHERE id = ? OR duplicate_of = ?",
                                        (rep, rep)).fetchall()
                    if doi and {normalise_doi(d) for d, _ in members} - {"", doi}:
                        continue
                    if any(distinct_abstracts(words, abstract_words(a)) for _, a in members):
                        continue
                return rep, key.split(":", 1)[0]
        return None, None

    @staticmethod
    def _representative(c: sqlite3.Cursor, rid: int) -> int:
        row = c.execute("SELECT duplicate_of FROM records WHERE id = ?", (rid,)).fetchone()
        return rid if row is None or row[0] is None else row[0]

    def duplicate_groups(self) -> list[tuple[int, list[int]]]:
        """(representative id, [duplicate ids]) for every group with at least one duplicate."""
        groups: dict[int, list[int]] = {}
        for rid, rep in self._conn.execute("SELECT id, duplicate_of FROM records WHERE duplicate_of IS NOT NULL ORDER BY id"):
            groups.setdefault(rep, []).append(rid)
        return sorted(groups.items())

    def split_duplicate(self, record_id: int) -> None:
        """Undo a merge: the record becomes its own group and is never auto-merged again."""
        with self.transaction() as c:
            row = c.execute("SELECT duplicate_of FROM records WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                raise LabelError(f"no record with id {record_id}")
            if row[0] is None:
                raise LabelError(f"record {record_id} is not a merged duplicate (it represents its group)")
            c.execute("UPDATE records SET duplicate_of = NULL, match_key = NULL WHERE id = ?", (record_id,))
            c.execute("INSERT OR IGNORE INTO kept_apart(record_id) VALUES (?)", (record_id,))
            prefix = f"manual:{record_id}:"  # its own group, if it came with it in a manual merge
            for rid, key in c.execute("SELECT id, match_key FROM records WHERE match_key LIKE ?",
                                      (prefix + "%",)).fetchall():
                c.execute("UPDATE records SET duplicate_of = ?, match_key = ? WHERE id = ?",
                          (record_id, key[len(prefix):] or None, rid))

    def merge_records(self, keep: int, other: int) -> int:
        """Merge by hand: record `other` (with its group) joins the group of `keep`, match key
        'manual'; undo with `split_duplicate(other)`. Refused when `other`'s group has labels (they
        would be hidden: merge the other way). Returns the representative of the merged group."""
        with self.transaction() as c:
            for rid in (keep, other):
                if not c.execute("SELECT 1 FROM records WHERE id = ?", (rid,)).fetchone():
                    raise LabelError(f"no record with id {rid}")
            rep, orep = self._representative(c, keep), self._representative(c, other)
            if rep == orep:
                raise LabelError(f"records {keep} and {other} are already in one group (record {rep})")
            if c.execute("SELECT 1 FROM label_events WHERE record_id = ? LIMIT 1", (orep,)).fetchone():
                raise LabelError(f"record {other} has labels; merge the other way round (`--merge {other} {keep}`) "
                                 "so that they stay visible, or undo them first")
            moved = [r[0] for r in c.execute("SELECT id FROM records WHERE id = ? OR duplicate_of = ?", (orep, orep))]
            # members of OTHER's group remember it ('manual:<other>:<their key>'), so --split OTHER takes them back
            c.execute("UPDATE records SET duplicate_of = ?, match_key = 'manual' WHERE id = ?", (rep, orep))
            c.executemany("UPDATE records SET duplicate_of = ?, match_key = 'manual:' || ? || ':' || "
                          "COALESCE(match_key, '') WHERE id = ?", [(rep, orep, m) for m in moved if m != orep])
            c.executemany("DELETE FROM kept_apart WHERE record_id = ?", [(m,) for m in moved])
            return rep

    def group_members(self, representative: int) -> list[dict]:
        """A duplicate group, representative first: dicts with id, title, match_key (the key that
        merged it: doi/pmid/title; None for the representative) and sources [(file, position, line)]."""
        rows = self._conn.execute(
            "SELECT id, title, match_key FROM records WHERE id = ? OR duplicate_of = ? "
            "ORDER BY duplicate_of IS NOT NULL, id", (representative, representative)).fetchall()
        return [{"id": rid, "title": title, "match_key": key, "sources": self._conn.execute(
                    "SELECT s.name, rs.position, rs.line FROM record_sources rs JOIN sources s ON s.id = rs.source_id "
                    "WHERE rs.record_id = ? ORDER BY s.id, rs.position", (rid,)).fetchall()}
                for rid, title, key in rows]

    def sources(self) -> list[dict]:
        cur = self._conn.execute("SELECT id, name, format, n_entries, n_new, n_duplicates, imported_at FROM sources ORDER BY id")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur]

    def record_sources(self, record_id: int) -> list[tuple[str, int, int | None]]:
        """(source file name, position, line) of a record and of every duplicate merged into it."""
        return self._conn.execute(
            "SELECT s.name, rs.position, rs.line FROM record_sources rs JOIN sources s ON s.id = rs.source_id "
            "JOIN records r ON r.id = rs.record_id WHERE r.id = ? OR r.duplicate_of = ? ORDER BY s.id, rs.position",
            (record_id, record_id)).fetchall()

    # -- records -----------------------------------------------------------------------------
    def record_ids(self) -> np.ndarray:
        """Ids of the records to screen (group representatives), ascending. Feature rows follow this order."""
        return np.array([r[0] for r in self._conn.execute(
            "SELECT id FROM records WHERE duplicate_of IS NULL ORDER BY id")], dtype=np.int64)

    def records(self, ids: Iterable[int] | None = None) -> list[StoredRecord]:
        """Records by id (in the order given), or all representatives in id order."""
        sql = ("SELECT id, title, abstract, authors, year, journal, doi, pmid, keywords, fields FROM records")
        if ids is None:
            rows = self._conn.execute(sql + " WHERE duplicate_of IS NULL ORDER BY id").fetchall()
        else:
            ids = [int(i) for i in ids]
            found = {}
            for chunk in range(0, len(ids), 900):
                part = ids[chunk:chunk + 900]
                q = sql + f" WHERE id IN ({','.join('?' * len(part))})"
                found.update({row[0]: row for row in self._conn.execute(q, part)})
            missing = [i for i in ids if i not in found]
            if missing:
                raise LabelError(f"no record with id {missing[0]}")
            rows = [found[i] for i in ids]
        return [StoredRecord(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], json.loads(r[8]), json.loads(r[9]))
                for r in rows]

    def identifiers(self) -> list[tuple[int, str, str, dict]]:
        """(id, doi, pmid, original fields) of every record, merged duplicates included."""
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in
                self._conn.execute("SELECT id, doi, pmid, fields FROM records ORDER BY id")]

    def content_hashes(self) -> dict[int, str]:
        """record id -> hash of its bibliographic content (every record, duplicates included)."""
        return dict(self._conn.execute("SELECT id, content_hash FROM records"))

    def text_fields(self) -> list[tuple[int, str, str, list[str]]]:
        """(id, title, abstract, keywords) of every representative in id order: what a record's
        text for the model is built from (`triage.service.project_corpus`)."""
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in self._conn.execute(
            "SELECT id, title, abstract, keywords FROM records WHERE duplicate_of IS NULL ORDER BY id")]

    def counts(self) -> dict:
        """Counts for `triage status` and PRISMA."""
        n_entries = self._conn.execute("SELECT COUNT(*) FROM record_sources").fetchone()[0]
        n_records = self._conn.execute("SELECT COUNT(*) FROM records WHERE duplicate_of IS NULL").fetchone()[0]
        mode = self.mode()
        if mode == "single":
            labels = self.current_labels()
            by = {k: sum(1 for v in labels.values() if v == k) for k in LABELS}
            extra, n_screened = {}, sum(by.values())
        else:  # final labels only; conflicts and records awaiting a second reviewer apart
            states = decisions.fold(self._events(), mode)
            finals = [s.final(mode) for s in states.values()]
            by = {k: sum(1 for v in finals if v == k) for k in LABELS}
            status = [s.status(mode) for s in states.values()]
            extra = {"mode": mode, "conflicts": status.count(decisions.CONFLICT),
                     "awaiting_second": status.count(decisions.AWAITING)}
            n_screened = sum(by.values()) + extra["conflicts"] + extra["awaiting_second"]
        return {
            "identified": n_entries,
            "records": n_records,
            "duplicates": n_entries - n_records,
            "labelled": n_screened,
            "included": by["include"], "excluded": by["exclude"], "maybe": by["maybe"],
            **extra,
            "unlabelled": n_records - n_screened,
            "rounds": self._conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0],
        }

    # -- labels ------------------------------------------------------------------------------
    @staticmethod
    def _current_label(c: sqlite3.Cursor, record_id: int) -> str | None:
        row = c.execute("SELECT label FROM label_events WHERE record_id = ? ORDER BY id DESC LIMIT 1", (record_id,)).fetchone()
        return row[0] if row else None

    def add_labels(self, items: Sequence[tuple[int, str | None]], reviewer: str, origin: str = "ranked",
                   round_id: int | None = None, note: str = "", reason: str = "",
                   notes: Sequence[str] | None = None, reasons: Sequence[str] | None = None,
                   round_ids: Sequence[int | None] | None = None, origins: Sequence[str] | None = None,
                   kind: str = "decision", reviewers: Sequence[str] | None = None,
                   created_ats: Sequence[str] | None = None, kinds: Sequence[str] | None = None) -> int:
        """Append label events in one transaction; returns the number stored.

        `items` are (record id, label) with label in LABELS or None (clears the label, i.e. undo).
        `notes`, `reasons`, `round_ids`, `origins`, `reviewers`, `created_ats` (one per item) override
        `note`, `reason`, `round_id`, `origin`, `reviewer`, the time and `kind`. `kind`: decision (a
        reviewer's own label), resolution (settles a disagreement) or import. Labels given to a
        merged duplicate are stored on its group's representative."""
        for o in set(origins or ()) | {origin}:
            if o not in ORIGINS:
                raise LabelError(f"unknown label origin {o!r}")
        for k in set(kinds or ()) | {kind}:
            if k not in decisions.KINDS:
                raise LabelError(f"unknown label event kind {k!r}")
        now = _now()
        with self.transaction() as c:
            for i, (rid, label) in enumerate(items):
                if label is not None and label not in LABELS:
                    raise LabelError(f"record {rid}: unknown label {label!r} (use include, exclude or maybe)")
                if not c.execute("SELECT 1 FROM records WHERE id = ?", (int(rid),)).fetchone():
                    raise LabelError(f"no record with id {rid}")
                rep = self._representative(c, int(rid))
                c.execute(
                    "INSERT INTO label_events(record_id, label, origin, reviewer, round_id, note, reason, created_at, "
                    "kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    # notes, reasons and names reach terminals and spreadsheets: no control characters
                    (rep, label, origins[i] if origins else origin,
                     clean_text(reviewers[i] if reviewers else reviewer),
                     round_ids[i] if round_ids else round_id,
                     clean_text(notes[i] if notes else note),
                     clean_text(reasons[i] if reasons else reason), created_ats[i] if created_ats else now,
                     kinds[i] if kinds else kind))
        return len(items)

    # -- decisions (one implementation: triage.store.decisions) ------------------------------
    def mode(self) -> str:
        """The screening mode: 'single' (one label per record) or 'dual' (blinded dual screening)."""
        return self.meta("mode", "single") or "single"

    def set_mode(self, mode: str) -> None:
        if mode not in decisions.MODES:
            raise ProjectError(f"unknown screening mode {mode!r} (use {' or '.join(decisions.MODES)})")
        self.set_meta("mode", mode)

    def _events(self) -> list[decisions.Event]:
        """Label events of group representatives, in id order."""
        return [decisions.Event(*r) for r in self._conn.execute(
            "SELECT e.id, e.record_id, e.label, e.origin, e.reviewer, e.round_id, e.kind FROM label_events e "
            "JOIN records r ON r.id = e.record_id WHERE r.duplicate_of IS NULL ORDER BY e.id")]

    def record_states(self) -> dict[int, "decisions.RecordState"]:
        """record id -> its folded label events (each reviewer's label with note and reason, the
        settled label); see triage.store.decisions."""
        notes = {r[0]: (r[1], r[2]) for r in self._conn.execute("SELECT id, note, reason FROM label_events")}
        return decisions.fold(self._events(), self.mode(), notes=notes)

    def current_labels(self) -> dict[int, str]:
        """record id -> the label the model trains on. Single mode: the latest event (records whose
        label was undone are absent). Dual mode: the settled or agreed label, else the most
        inclusive reviewer's label (triage.store.decisions)."""
        return decisions.ranking_labels(self._events(), self.mode())[0]

    def final_labels(self) -> dict[int, str]:
        """record id -> final label: single mode as current_labels; dual mode only records that
        are resolved (or imported with a label) or on which at least two reviewers agree."""
        mode = self.mode()
        out = {}
        for rid, s in decisions.fold(self._events(), mode).items():
            label = s.final(mode)
            if label is not None:
                out[rid] = label
        return out

    def reviewer_labels(self, reviewer: str) -> dict[int, str]:
        """record id -> this reviewer's own current decision (kind 'decision' events only)."""
        return {rid: s.by_reviewer[reviewer] for rid, s in decisions.fold(self._events(), "dual").items()
                if reviewer in s.by_reviewer}

    def done_for(self, reviewer: str) -> set[int]:
        """Records not to show `reviewer` again (single mode: every labelled record; dual mode: the
        ones they decided and the settled ones)."""
        mode = self.mode()
        return decisions.done_for(decisions.fold(self._events(), mode), mode, reviewer)

    def label_events(self, record_id: int | None = None) -> list[LabelEvent]:
        sql = "SELECT id, record_id, label, origin, reviewer, round_id, note, reason, created_at, kind FROM label_events"
        rows = (self._conn.execute(sql + " WHERE record_id = ? ORDER BY id", (record_id,)) if record_id is not None
                else self._conn.execute(sql + " ORDER BY id"))
        return [LabelEvent(*r) for r in rows]

    def last_event_id(self) -> int:
        return self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM label_events").fetchone()[0]

    def history(self) -> History:
        """Current (ranking) labels in the order first given (a relabel keeps its place; an undo
        that leaves the record unlabelled removes it). `maybe` counts as relevant (label 1)."""
        labels, placed = decisions.ranking_labels(self._events(), self.mode())
        ids = sorted(labels, key=lambda rid: placed[rid].id)
        return History.from_lists(
            ids, [RELEVANCE[labels[i]] for i in ids], [ORIGINS[placed[i].origin] for i in ids],
            [-1 if placed[i].round_id is None else placed[i].round_id for i in ids], len(self.record_ids()))

    # -- rounds ------------------------------------------------------------------------------
    def add_round(self, r: NewRound) -> int:
        """Store a round; returns its id."""
        with self.transaction() as c:
            c.execute(
                "INSERT INTO rounds(created_at, preset, params, seed, versions, last_event_id, n_train, n_included, "
                "n_excluded, record_ids, scores, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), r.preset, json.dumps(r.params, sort_keys=True), r.seed, json.dumps(r.versions, sort_keys=True),
                 r.last_event_id, r.n_train, r.n_included, r.n_excluded,
                 np.asarray(r.record_ids, dtype=np.int64).tobytes(), np.asarray(r.scores, dtype=np.float64).tobytes(),
                 r.seconds))
            return c.lastrowid

    def rounds(self) -> list[RoundRow]:
        return [self._round(r) for r in self._conn.execute("SELECT * FROM rounds ORDER BY id")]

    def latest_round(self) -> RoundRow | None:
        row = self._conn.execute("SELECT * FROM rounds ORDER BY id DESC LIMIT 1").fetchone()
        return self._round(row) if row else None

    @staticmethod
    def _round(r) -> RoundRow:
        return RoundRow(id=r[0], created_at=r[1], preset=r[2], params=json.loads(r[3]), seed=r[4],
                        versions=json.loads(r[5]), last_event_id=r[6], n_train=r[7], n_included=r[8],
                        n_excluded=r[9], record_ids=np.frombuffer(r[10], dtype=np.int64),
                        scores=np.frombuffer(r[11], dtype=np.float64), seconds=r[12])

    # -- random samples (stopping certification) ---------------------------------------------
    def add_sample(self, record_ids: np.ndarray, seed: int, pool_size: int,
                   before_commit: Callable[[int], None] | None = None) -> int:
        """Store a certification sample; returns its id. `before_commit(sample_id)` runs inside the
        transaction (e.g. writes the sample's CSV): if it raises, the sample is not stored."""
        with self.transaction() as c:
            c.execute("INSERT INTO samples(created_at, seed, pool_size, record_ids) VALUES (?, ?, ?, ?)",
                      (_now(), seed, pool_size, np.asarray(record_ids, dtype=np.int64).tobytes()))
            sample_id = c.lastrowid
            if before_commit is not None:
                before_commit(sample_id)
            return sample_id

    def samples(self) -> list[dict]:
        return [{"id": r[0], "created_at": r[1], "seed": r[2], "pool_size": r[3],
                 "record_ids": np.frombuffer(r[4], dtype=np.int64)}
                for r in self._conn.execute("SELECT id, created_at, seed, pool_size, record_ids FROM samples ORDER BY id")]

    def integrity_check(self) -> str:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


for _name, _fn in list(vars(Project).items()):  # every public method speaks TriageError
    if (not _name.startswith("_") and callable(_fn) and not isinstance(_fn, (classmethod, staticmethod))
            and _name not in ("transaction", "close", "backup")):
        setattr(Project, _name, _guarded(_fn))
Project.seed = property(_guarded(Project.seed.fget))
