"""The embedding pass of a project, run in the background so that screening never waits for it.

One pass at a time per cache folder: the pass holds an exclusive lock on `<cache>/embedding.lock`
(`fcntl.flock`, released by the OS when the process dies, so a killed pass never blocks the next).
It is resumable and safe to kill: the EmbeddingCache writes finished chunks atomically, and a new
pass embeds only the texts still missing. Progress goes to `<cache>/embedding.json` (atomic
rewrites): {"model_id", "total", "done", "state": running|done|failed, "pid", "started_at",
"updated_at", "error"}, which `triage status` reads.

`start` launches `python -m triage embed DIR --background` as a detached process (its output in
`<cache>/embedding.log`); set TRIAGE_BACKGROUND_EMBEDDING=0 to never start one (then rounds keep
using TF-IDF until `triage embed DIR` is run by hand).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

LOCK, STATUS, LOG = "embedding.lock", "embedding.json", "embedding.log"
ENV_SWITCH = "TRIAGE_BACKGROUND_EMBEDDING"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_status(cache_dir: Path) -> dict | None:
    """The last status the pass wrote, or None (no pass yet, or an unreadable file)."""
    try:
        return json.loads((Path(cache_dir) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_status(cache_dir: Path, status: dict) -> None:
    path = Path(cache_dir) / STATUS
    tmp = path.with_name(f".{STATUS}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def pass_lock(cache_dir: Path) -> Iterator[bool]:
    """Yields True while this process holds the pass lock, False if another process holds it."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no POSIX locks (Windows): one pass is assumed
        yield True
        return
    fd = os.open(cache_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_running(cache_dir: Path) -> bool:
    """Whether a pass holds the lock right now (reads only: works on a read-only project)."""
    try:
        import fcntl
        fd = os.open(Path(cache_dir) / LOCK, os.O_RDONLY)
    except (ImportError, OSError):  # no lock file (no pass ever ran) or no POSIX locks
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def run_pass(cache_dir: Path, embedder, texts: list[str], progress=None, chunk_size: int | None = None) -> dict:
    """Embed every text of `texts` missing from `<cache_dir>/embeddings` for `embedder`, unless
    another pass holds the lock. Returns the final status (state "busy" when another pass runs).
    `progress(n)`: called with the number of texts just embedded; `chunk_size`: texts per cache
    chunk (what a kill can lose; default the cache's)."""
    from triage.features.cache import CHUNK_SIZE, EmbeddingCache

    cache_dir = Path(cache_dir)
    with pass_lock(cache_dir) as mine:
        if not mine:
            return {"state": "busy", "model_id": embedder.model_id}
        cache = EmbeddingCache(cache_dir / "embeddings", chunk_size or CHUNK_SIZE)
        total = len(set(texts))
        before = total - cache.n_missing(embedder.model_id, texts)
        status = {"model_id": embedder.model_id, "total": total, "done": before, "done_before": before,
                  "state": "running", "pid": os.getpid(), "started_at": _now(), "updated_at": _now(), "error": ""}
        _write_status(cache_dir, status)
        last = [time.monotonic()]

        def step(n: int) -> None:
            status["done"] += n
            if progress is not None:
                progress(n)
            if time.monotonic() - last[0] >= 2.0:  # a status line every 2 s at most
                last[0] = time.monotonic()
                _write_status(cache_dir, status | {"updated_at": _now()})

        try:
            cache.get(embedder, texts, progress=step)
        except BaseException as e:
            _write_status(cache_dir, status | {"state": "failed", "updated_at": _now(),
                                               "error": f"{type(e).__name__}: {e}"})
            raise
        status.update(state="done", done=total, updated_at=_now())
        _write_status(cache_dir, status)
        return status


def start(project_dir: Path) -> bool:
    """Launch the embedding pass of a project as a detached background process, unless one is
    running or TRIAGE_BACKGROUND_EMBEDDING=0. Returns whether a process was started."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    cache_dir = Path(project_dir) / "cache"
    if is_running(cache_dir):
        return False
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / LOG, "ab") as log:
        subprocess.Popen([sys.executable, "-m", "triage", "embed", str(project_dir), "--background"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                         env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))
    return True
