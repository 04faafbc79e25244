"""The server's screening state, shared by all request threads.

What each reviewer sees next: the current round's ranking (`service.reviewer_queue`, cached per
round and reviewer) minus what is done for them (`Project.done_for`, read on every request), minus
what they skipped this session, minus (single mode) records another reviewer has open right now.
A decision is committed with `Project.add_labels` (as `triage screen` stores it: origin 'ranked',
the round that proposed it) before the response. Retraining never delays a page: one background
thread asks a long-lived helper process (`triage.web.retrain`: `service.round_due`, `service.rank`,
`service.summary_line`) after each decision, one retrain at a time; pages use the latest stored
round meanwhile. (In the server's own threads a retrain held the GIL for most of a second per
round and quadrupled the p95 round trip: BENCHMARKS.md section 11.)
"""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from triage.errors import LabelError
from triage.history import LABELS
from triage.store.project import Project, RoundRow

#: A record shown to one reviewer (single mode) is held back from the others this long (seconds)
#: after that reviewer's last request: long enough to read an abstract, short enough that a closed
#: tab does not hide a record for long.
LEASE_SECONDS = 600.0


@dataclass
class Session:
    """One browser session: its CSRF token, the reviewer who named themself, and what `triage
    screen` keeps per session (skipped records, the undo stack, a record to show again first)."""

    id: str
    csrf: str
    reviewer: str = ""
    skipped: set = field(default_factory=set)
    undo: list = field(default_factory=list)
    show_first: int | None = None
    message: str = ""  # shown once on the next page (e.g. after a resolution)


@dataclass(frozen=True)
class Shown:
    """The record to show a session, with what the page says around it."""

    record_id: int | None  # None: nothing left in this ranking
    score: float
    round_id: int | None
    screened: int
    found: int
    n_records: int
    summary: str
    retraining: bool


class Screening:
    """The screening state of one project served to many sessions (thread-safe)."""

    def __init__(self, directory: str | Path, preset: str | None = None, retrain_every: int | None = None,
                 on_wait: Callable[[str], None] | None = None, retrain_process: bool = True):
        self.directory = Path(directory)
        self.preset, self.retrain_every = preset, retrain_every
        self._on_wait = on_wait
        self._write = threading.Lock()  # a decision's check-then-write is atomic within the server
        self._state = threading.Lock()  # leases, queues, sessions, round
        self._leases: dict[int, tuple[str, float]] = {}  # record id -> (session id, last seen)
        self._queues: dict[tuple[int, str], list[tuple[int, float]]] = {}
        # single mode: records labelled through this server, so that a request that read the
        # labels just before another's commit cannot hand out a record as its lease is released
        self._labelled: set[int] = set()
        self._round: RoundRow | None = None
        self.summary = ""
        self.retraining = False
        self.retrain_error = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retrain_process = retrain_process
        self._proc: subprocess.Popen | None = None
        self._views: dict[tuple, tuple[set[int], int, int]] = {}  # (last event id, reviewer) -> reviewer_view
        self.sessions: dict[str, Session] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    @contextmanager
    def project(self, readonly: bool = False) -> Iterator[Project]:
        """The project on a connection of this thread (SQLite connections stay in their thread)."""
        with Project.open(self.directory, readonly=readonly, on_wait=self._on_wait) as p:
            yield p

    def start(self, worker: bool = True) -> None:
        """Rank now when a round is due (before serving: the first page needs a ranking), then
        start the retrain thread."""
        from triage.service import current_round

        with self.project() as p:
            current_round(p, self.preset, batch_size=self.retrain_every)
            self._refresh(p)
        if worker:
            if self._retrain_process:
                self._start_process()
            self._thread = threading.Thread(target=self._retrain_loop, name="triage-retrain", daemon=True)
            self._thread.start()

    def _start_process(self) -> None:
        import triage

        cmd = [sys.executable, "-m", "triage.web.retrain", str(self.directory)]
        cmd += ["--preset", self.preset] if self.preset else []
        cmd += ["--retrain-every", str(self.retrain_every)] if self.retrain_every else []
        root = str(Path(triage.__file__).resolve().parents[1])  # this very triage, also from a source tree
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(x for x in (root, os.environ.get("PYTHONPATH")) if x)}
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        if json.loads(self._proc.stdout.readline() or "{}").get("event") != "ready":
            raise RuntimeError("the retrain process of `triage serve` did not start")

    def close(self, timeout: float = 30.0) -> None:
        """Stop the retrain thread and process (a round in progress is stored whole or not at all)."""
        self._stop.set()
        self._wake.set()
        if self._proc is not None:
            try:
                self._proc.stdin.close()  # the process ends after its current retrain
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.terminate()
                self._proc.wait()

    def _refresh(self, project: Project, summary: str | None = None) -> None:
        """Take the project's latest round (and its stopping summary) if it is new."""
        from triage.service import reviewer_queue, summary_line

        latest = project.latest_round()
        if latest is None or (self._round is not None and latest.id == self._round.id):
            return
        if summary is None:
            summary = summary_line(project) if project.mode() == "single" else ""  # dual: blinded, as `screen`
        # the queues of the new round are built here, off the request path, before it is used
        with self._state:
            reviewers = {s.reviewer for s in self.sessions.values() if s.reviewer}
        if project.mode() == "single":
            reviewers = {""} if reviewers else set()  # one queue for all: the pool minus every label
        queues = {(latest.id, r): reviewer_queue(project, latest, r) for r in sorted(reviewers)}
        with self._state:
            self._round, self.summary, self._queues = latest, summary, queues

    def _retrain_loop(self) -> None:
        """One retrain at a time: after each decision (or every few seconds, to see rounds that
        another process stored), retrain when the schedule says so."""
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                summary = self._retrain_elsewhere() if self._proc is not None else self._retrain_here()
                with self.project() as p:
                    self._refresh(p, summary)
            except Exception as e:  # shown on the page; screening goes on with the last ranking
                self.retrain_error = f"{type(e).__name__}: {e}"
            finally:
                self.retraining = False

    def _retrain_here(self) -> str | None:
        from triage.service import rank, round_due, summary_line

        with self.project() as p:
            if not round_due(p, self.preset, self.retrain_every):
                return None
            self.retraining = True
            rank(p, self.preset, progress=False)
            self.retrain_error = ""
            return summary_line(p) if p.mode() == "single" else ""

    def _retrain_elsewhere(self) -> str | None:
        """Ask the retrain process; its summary line when it ranked (None when no round was due)."""
        self._proc.stdin.write("check\n")
        self._proc.stdin.flush()
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError("the retrain process ended")
            msg = json.loads(line)
            if msg["event"] == "started":
                self.retraining = True
            elif msg["event"] == "done":
                self.retrain_error = msg["error"]
                return msg["summary"] if msg["ranked"] else None

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no retrain is due or running (tests and benchmarks)."""
        from triage.service import round_due

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.project(readonly=True) as p:
                due = round_due(p, self.preset, self.retrain_every)
                if not due and not self.retraining:
                    self._refresh(p)
                    return
            self._wake.set()
            time.sleep(0.05)
        raise TimeoutError("the retrain did not finish in time")

    # -- sessions ----------------------------------------------------------------------------
    def new_session(self) -> Session:
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        with self._state:
            self.sessions[s.id] = s
        return s

    def session(self, session_id: str | None) -> Session | None:
        with self._state:
            return self.sessions.get(session_id or "")

    # -- what to show ------------------------------------------------------------------------
    def _queue(self, project: Project, rnd: RoundRow, reviewer: str, dual: bool) -> list[tuple[int, float]]:
        """`service.reviewer_queue` of the round (single mode: the same for every reviewer), cached."""
        from triage.service import reviewer_queue

        key = (rnd.id, reviewer if dual else "")
        with self._state:
            got = self._queues.get(key)
        if got is None:
            got = reviewer_queue(project, rnd, key[1])
            with self._state:
                self._queues[key] = got
        return got

    def _view(self, project: Project, reviewer: str, dual: bool) -> tuple[set[int], int, int]:
        """`service.reviewer_view`, read once per change of the project's labels (single mode: once
        for all reviewers) instead of on every request."""
        from triage.service import reviewer_view

        key = (project.last_event_id(), reviewer if dual else "")
        with self._state:
            got = self._views.get(key)
        if got is None:
            got = reviewer_view(project, reviewer)
            with self._state:
                self._views = {k: v for k, v in self._views.items() if k[0] == key[0]}
                self._views[key] = got
        return got

    def next_for(self, project: Project, session: Session) -> Shown:
        """The record to show `session` now (and, single mode, hold it back from other sessions)."""
        with self._state:
            rnd, summary = self._round, self.summary
        dual = project.mode() == "dual"
        done, screened, found = self._view(project, session.reviewer, dual)
        n_records = len(rnd.record_ids) + rnd.n_train if rnd is not None else 0
        pick, score = None, math.nan
        if rnd is not None:
            order = self._queue(project, rnd, session.reviewer, dual)
            first = [(session.show_first, math.nan)] if session.show_first is not None else []
            now = time.monotonic()
            with self._state:
                for rid, held in list(self._leases.items()):
                    if held[0] == session.id or now - held[1] > LEASE_SECONDS:
                        del self._leases[rid]
                for rid, sc in first + order:
                    if rid in done or rid in session.skipped:
                        continue
                    if not dual and (rid in self._leases or rid in self._labelled):
                        continue  # another reviewer has it open, or has just labelled it
                    pick, score = rid, sc
                    if not dual:
                        self._leases[rid] = (session.id, now)
                    break
        return Shown(pick, score, rnd.id if rnd is not None else None, screened, found, n_records, summary,
                     self.retraining)

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, project: Project, session: Session, record_id: int, action: str, note: str = "",
               reason: str = "") -> str:
        """Apply one key of the screen page; returns the message to show ('' for none).

        action: include / exclude / maybe (stored at once), skip (this session), undo (the
        session's last label). A label for a record this reviewer has already decided (single
        mode: anyone has labelled) is not stored again: a repeated request never duplicates a
        decision, and one reviewer never overwrites another's label in single mode."""
        reviewer = session.reviewer
        if action in LABELS:
            with self._write:
                if self._done(project, record_id, reviewer):
                    return f"Record {record_id} is already labelled; nothing changed."
                with self._state:
                    round_id = self._round.id if self._round is not None else None
                project.add_labels([(record_id, action)], reviewer=reviewer, origin="ranked", round_id=round_id,
                                   note=note, reason=reason)
                with self._state:
                    self._labelled.add(record_id)
            session.undo.append(record_id)
            if session.show_first == record_id:
                session.show_first = None
            self._release(session)
            self._wake.set()
            return f"Saved: record {record_id} -> {action}" + (" with the note." if note else ".")
        if action == "skip":
            session.skipped.add(record_id)
            if session.show_first == record_id:
                session.show_first = None
            self._release(session)
            return ""
        if action == "undo":
            if not session.undo:
                return "Nothing to undo in this session."
            last = session.undo[-1]
            with self._write:
                labels = (project.reviewer_labels(reviewer) if project.mode() == "dual"
                          else project.current_labels())
                was = labels.get(last)
                if was is not None:
                    with self._state:
                        round_id = self._round.id if self._round is not None else None
                    project.add_labels([(last, None)], reviewer=reviewer, origin="ranked", round_id=round_id)
                with self._state:
                    self._labelled.discard(last)
            session.undo.pop()
            session.skipped.discard(last)
            session.show_first = last
            self._release(session)
            self._wake.set()
            return f"Undone: record {last} (was {was}); it is shown again."
        raise LabelError(f"unknown action {action!r} (use include, exclude, maybe, skip or undo)")

    @staticmethod
    def _done(project: Project, record_id: int, reviewer: str) -> bool:
        """Whether `record_id` is in `Project.done_for(reviewer)`, from that record's events alone
        (the same fold, `triage.store.decisions`, without reading every other record's)."""
        from triage.store import decisions

        mode = project.mode()
        events = [decisions.Event(e.id, e.record_id, e.label, e.origin, e.reviewer, e.round_id, e.kind)
                  for e in project.label_events(record_id)]
        return record_id in decisions.done_for(decisions.fold(events, mode), mode, reviewer)

    def _release(self, session: Session) -> None:
        with self._state:
            for rid in [r for r, held in self._leases.items() if held[0] == session.id]:
                del self._leases[rid]
