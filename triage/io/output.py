"""Every file triage writes for a reviewer (batches, samples, reports, exports, plots, backups).

`write_output` writes to a temporary file in the target's folder, flushes it to disk (fsync),
then renames it over the target (`os.replace`): a kill, a power cut or a full disk leaves either
the old file or the complete new one, never a cut one. It refuses to write onto a triage
project's own files (its `project.sqlite` with `-wal`/`-shm`/`-journal`, anything under its
`cache/` or `backups/` folder) and onto any SQLite database, and turns OS errors (read-only
folder, full disk) into an OutputError that names the file and says what to do.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable, Union

from triage.errors import OutputError

#: The project database's file name (triage.store.project.DB_NAME; io does not import the store).
PROJECT_DB = "project.sqlite"
#: Files next to the database that belong to it (SQLite's own and triage's writer note).
PROJECT_FILES = tuple(PROJECT_DB + s for s in ("", "-wal", "-shm", "-journal", "-writer"))
#: Project sub-folders no output may be written into.
PROTECTED_DIRS = ("cache", "backups")
SQLITE_HEADER = b"SQLite format 3\x00"

#: Text (written as UTF-8), bytes, or a callback that writes the file at the Path it is given
#: (a temporary path with the target's suffix, e.g. for matplotlib's savefig or sqlite's backup).
Content = Union[str, bytes, Callable[[Path], None]]


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_HEADER
    except OSError:
        return False


def protected_reason(path: str | Path, project_dir: str | Path | None = None) -> str | None:
    """Why `path` must not be written by an output (None if it may): it is a project's database,
    one of its companion files, inside a project's cache/ or backups/ folder, or an SQLite file."""
    target = Path(os.path.realpath(path))
    homes = [Path(os.path.realpath(project_dir))] if project_dir is not None else []
    homes += [a for a in target.parents if (a / PROJECT_DB).is_file()]
    for home in homes:
        try:
            rel = target.relative_to(home)
        except ValueError:
            continue
        if len(rel.parts) == 1 and rel.name in PROJECT_FILES:
            return f"it is the project's own database file ({home / rel.name})"
        if len(rel.parts) > 1 and rel.parts[0] in PROTECTED_DIRS:
            return f"it is inside the project's {rel.parts[0]}/ folder ({home / rel.parts[0]})"
    if project_dir is not None and target.exists():
        for name in PROJECT_FILES:
            own = Path(project_dir) / name
            try:
                if own.exists() and os.path.samefile(own, target):
                    return f"it is the project's own database file ({own}), under another name"
            except OSError:
                pass
    if target.is_file() and _is_sqlite(target):
        return "it is an SQLite database (perhaps a triage project or a backup)"
    return None


def explain_os_error(path: str | Path, e: OSError) -> str:
    """A one-line message for an OS error met while writing `path` (nothing was written)."""
    folder = Path(path).parent
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return f"{path}: cannot write: the disk is full; nothing was written (free some space or choose another file)"
    if e.errno == errno.EROFS:
        return f"{path}: cannot write: {folder} is on a read-only file system; choose another file"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"{path}: cannot write: permission denied ({folder} or the file is read-only for you); choose another file"
    if e.errno == errno.ENOENT:
        return f"{path}: cannot write: the folder {folder} does not exist"
    if e.errno == errno.EISDIR:
        return f"{path}: is a folder; give a file name"
    return f"{path}: cannot write ({e.strerror or e})"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, content: Content, encoding: str = "utf-8") -> Path:
    """Write `content` to `path` through a temporary file in the same folder, fsync, os.replace.

    No protection checks (see `write_output`). A symlink is written through (the link stays).
    Raises OutputError (the temporary file removed, any old file untouched) on an OS error."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write: the folder {folder} does not exist")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=folder)
        try:
            if callable(content):
                os.close(fd)
                fd = -1
                content(Path(tmp))
                fd = os.open(tmp, os.O_RDWR)
            else:
                data = content.encode(encoding) if isinstance(content, str) else bytes(content)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            mode = os.stat(target).st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(tmp, target)
        tmp = None
        _fsync_dir(folder)
    except OSError as e:
        raise OutputError(explain_os_error(path, e)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); skipped where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def refuse_protected(path: str | Path, project_dir: str | Path | None = None) -> None:
    """Raise OutputError if `path` is one of a project's own files (`protected_reason`); commands
    call it before long work so they fail fast."""
    reason = protected_reason(path, project_dir)
    if reason:
        raise OutputError(f"{path}: refusing to write there: {reason}; nothing was written, choose another output file")


def write_output(path: str | Path, content: Content, project_dir: str | Path | None = None,
                 encoding: str = "utf-8") -> Path:
    """Write an output file safely: refuse a project's own files (`refuse_protected`), then
    `atomic_write`. `project_dir`: the project the command works on (also catches hard links
    to its database). Raises OutputError naming the file and what to do."""
    refuse_protected(path, project_dir)
    return atomic_write(path, content, encoding)
