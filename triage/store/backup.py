"""Backups, snapshots, health check and restore of a project file.

Snapshots are online backups (SQLite's backup API: consistent even while another process
writes) kept in DIR/backups/: one before every schema migration, and one per `triage backup`.
`check_project` reads the file without trusting it (never through `Project.open`), so it can
describe a damaged file; `restore_project` moves the damaged file aside (never deletes it) and
puts a checked snapshot in its place.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from triage.errors import ProjectError

BACKUP_DIR = "backups"
_MAX_PROBLEMS = 20


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def snapshots(directory: str | Path) -> list[Path]:
    """The project's snapshots (DIR/backups/*.sqlite), oldest first (by modification time)."""
    folder = Path(directory) / BACKUP_DIR
    try:
        found = [p for p in folder.glob("*.sqlite") if p.is_file() and not p.name.startswith("damaged-")]
    except OSError:
        return []
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def latest_snapshot(directory: str | Path) -> Path | None:
    """The newest snapshot in DIR/backups/, or None."""
    found = snapshots(directory)
    return found[-1] if found else None


def snapshot(project, reason: str = "backup") -> Path:
    """Online backup of an open project to DIR/backups/<reason>-<UTC time>.sqlite; returns its path."""
    folder = Path(project.directory) / BACKUP_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise ProjectError(f"{folder}: cannot create the snapshot folder ({e.strerror})") from None
    return project.backup(folder / f"{reason}-{_stamp()}.sqlite")


@dataclass
class CheckResult:
    """What `check_project` found: ok, the problems in plain words, and a few counts."""

    path: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    latest_snapshot: str | None = None

    def verdict(self) -> str:
        """One paragraph in plain words."""
        if self.ok:
            c = self.counts
            return (f"OK: {self.path} is a healthy triage project (schema {c.get('schema')}, {c.get('records')} "
                    f"records, {c.get('label_events')} label events, {c.get('rounds')} rounds).")
        lines = [f"DAMAGED: {self.path} has {len(self.problems)} problem(s):"]
        lines += [f"  - {p}" for p in self.problems]
        directory = Path(self.path).parent
        if self.latest_snapshot:
            lines.append(f"Restore its latest snapshot with `triage restore {directory} {self.latest_snapshot}` "
                         "(the damaged file is moved aside, not deleted).")
        else:
            lines.append(f"No snapshot in {directory / BACKUP_DIR}: restore project.sqlite from your own backup "
                         f"with `triage restore {directory} BACKUP_FILE` (see README 'If a project is damaged').")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"path": self.path, "ok": self.ok, "problems": self.problems, "counts": self.counts,
                "latest_snapshot": self.latest_snapshot}


def _open_ro(path: Path) -> sqlite3.Connection:
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=1.0)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as e:
        from triage.store.project import _CANTOPEN, _READONLY, sqlite_code

        if sqlite_code(e) not in (_CANTOPEN, _READONLY):  # a WAL file in a read-only folder
            raise
        conn.close()
        conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, timeout=1.0)
    return conn


def check_file(path: str | Path) -> CheckResult:
    """Check a project file (or a snapshot): header, PRAGMA integrity_check, schema, foreign keys,
    and consistency of duplicate groups, rounds and samples. Reads only; never raises for damage."""
    from triage.store.project import _REQUIRED_TABLES, SCHEMA_VERSION, SQLITE_HEADER

    path = Path(path)
    res = CheckResult(str(path), ok=False)
    res.latest_snapshot = str(latest_snapshot(path.parent)) if latest_snapshot(path.parent) else None
    problems = res.problems
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        problems.append(f"cannot read the file ({e.strerror})")
        return res
    if size == 0:
        problems.append("the file is empty (0 bytes)")
        return res
    if head != SQLITE_HEADER:
        problems.append("the file is not an SQLite database (its header was overwritten)")
        return res
    try:
        conn = _open_ro(path)
    except sqlite3.Error as e:
        problems.append(f"SQLite cannot open it ({e})")
        return res
    try:
        rows = conn.execute(f"PRAGMA integrity_check({_MAX_PROBLEMS})").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            problems += [f"integrity check: {r[0]}" for r in rows]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        res.counts["schema"] = version
        if not 1 <= version <= SCHEMA_VERSION:
            problems.append(f"schema version {version} (a triage project has 1 to {SCHEMA_VERSION})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = sorted(_REQUIRED_TABLES - tables)
        if missing:
            problems.append(f"tables missing: {', '.join(missing)}")
            return res
        fk = conn.execute("PRAGMA foreign_key_check").fetchmany(_MAX_PROBLEMS)
        problems += [f"table {t} row {rowid} refers to a missing row of {parent}" for t, rowid, parent, _ in fk]
        chains = conn.execute("SELECT COUNT(*) FROM records r JOIN records g ON g.id = r.duplicate_of "
                              "WHERE g.duplicate_of IS NOT NULL").fetchone()[0]
        if chains:
            problems.append(f"{chains} records are merged into a record that is itself merged into another")
        bad_rounds = conn.execute("SELECT id FROM rounds WHERE length(record_ids) != length(scores) "
                                  "OR length(record_ids) % 8 != 0").fetchall()
        if bad_rounds:
            problems.append(f"rounds {', '.join(str(r[0]) for r in bad_rounds[:10])} have a ranking and scores of "
                            "different lengths")
        bad_samples = conn.execute("SELECT COUNT(*) FROM samples WHERE length(record_ids) % 8 != 0").fetchone()[0]
        if bad_samples:
            problems.append(f"{bad_samples} certification samples have a cut record list")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if "seed" not in meta:
            problems.append("the project's seed is missing")
        else:
            try:
                int(meta["seed"])
            except ValueError:
                problems.append(f"the project's seed {meta['seed']!r} is not a number")
        for name, sql in (("records", "SELECT COUNT(*) FROM records WHERE duplicate_of IS NULL"),
                          ("label_events", "SELECT COUNT(*) FROM label_events"),
                          ("rounds", "SELECT COUNT(*) FROM rounds")):
            res.counts[name] = conn.execute(sql).fetchone()[0]
    except sqlite3.Error as e:
        problems.append(f"SQLite cannot read it ({e})")
    finally:
        conn.close()
    res.ok = not problems
    return res


def check_project(directory: str | Path) -> CheckResult:
    """`check_file` of DIR/project.sqlite (a missing file is a ProjectError, not damage)."""
    from triage.store.project import DB_NAME

    db = Path(directory) / DB_NAME
    if not db.exists() and not db.is_symlink():
        raise ProjectError(f"{directory} is not a triage project (no {DB_NAME})")
    return check_file(db)


def restore_project(directory: str | Path, source: str | Path) -> Path | None:
    """Replace DIR/project.sqlite by a copy of `source` (a snapshot or backup that passes
    `check_file`). The current file (with its -wal/-shm) is moved to DIR/backups/damaged-<time>.sqlite
    first; returns that path (None when there was no current file)."""
    from triage.io.output import atomic_write
    from triage.store.project import DB_NAME

    directory, source = Path(directory), Path(source)
    if not source.is_file():
        raise ProjectError(f"{source}: no such file")
    checked = check_file(source)
    if not checked.ok:
        raise ProjectError(f"{source} is not a healthy triage project either: {'; '.join(checked.problems[:3])}")
    db = directory / DB_NAME
    if db.exists() and os.path.samefile(db, source):
        raise ProjectError(f"{source} is the project file itself; give a snapshot or backup")
    folder = directory / BACKUP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    moved = None
    if db.exists():
        moved = folder / f"damaged-{_stamp()}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            if Path(str(db) + suffix).exists():
                os.replace(str(db) + suffix, str(moved) + suffix)

    def copy(tmp: Path) -> None:
        src = _open_ro(source)
        dst = sqlite3.connect(str(tmp))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()

    atomic_write(db, copy)
    return moved
