"""Progress of long steps on stderr: a tqdm bar on a terminal, periodic one-line reports otherwise.

    with progress(total=len(texts), desc="embedding", unit="record") as bar:
        for batch in ...:
            bar(len(batch))            # or bar.update(len(batch))
    with step("loading embedding model minilm"):
        model = load()

When the stream is not a terminal (a script, a pipe, a log file) a line is written at once,
then whenever at least `interval` seconds AND `fraction` of the total have passed since the last
line (whichever comes later), and a final line on close:

    embedding: 0/1,200 records (0 %)
    embedding: 130/1,200 records (11 %), 12.9/s, ETA 1 min 23 s
    embedding: 1,200/1,200 records (100 %) in 1 min 33 s, 12.9/s

so a reviewer running `triage next` from a script sees the step is alive and when it will end.
No output at all when `enabled=False`. Clocks are arguments (tests pass a fake one).
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

Clock = Callable[[], float]

#: Non-terminal reports: at most one line per INTERVAL seconds and per FRACTION of the total.
INTERVAL = 10.0
FRACTION = 0.10


def is_terminal(stream: TextIO) -> bool:
    """True if `stream` is an interactive terminal (False for pipes, files, closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def format_duration(seconds: float) -> str:
    """'4.2 s', '1 min 23 s', '2 h 05 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class LineProgress:
    """Periodic one-line progress for a non-terminal stream. Callable: `p(n)` == `p.update(n)`.

    total: expected count (None if unknown: no percentage or ETA); desc: what is being done;
    unit: singular noun of what is counted. Writes one line at construction, then per the
    interval/fraction rule above, then one on `close()` (idempotent). Side effect: writes to
    `stream` (default sys.stderr) and flushes it.
    """

    def __init__(self, total: int | None, desc: str, unit: str = "record", stream: TextIO | None = None,
                 clock: Clock = time.monotonic, interval: float = INTERVAL, fraction: float = FRACTION):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.interval = interval
        self.fraction = fraction
        self.n = 0
        self._start = clock()
        self._last_time = self._start
        self._last_n = 0
        self._closed = False
        self._write(self._counts())

    def _counts(self) -> str:
        units = self.unit if self.unit.endswith("s") else self.unit + "s"
        if self.total:
            return f"{self.desc}: {self.n:,}/{self.total:,} {units} ({100 * self.n / self.total:.0f} %)"
        return f"{self.desc}: {self.n:,} {units}"

    def _write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (ValueError, OSError):  # a closed or broken stream must not stop the work
            pass

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        due_time = now - self._last_time >= self.interval
        due_share = (not self.total) or (self.n - self._last_n) >= self.fraction * self.total
        if not (due_time and due_share) or (self.total and self.n >= self.total):
            return  # the last report comes from close()
        elapsed = now - self._start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        line = self._counts() + f", {rate:.1f}/s"
        if self.total and rate > 0:
            line += f", ETA {format_duration((self.total - self.n) / rate)}"
        self._write(line)
        self._last_time, self._last_n = now, self.n

    __call__ = update

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        elapsed = self.clock() - self._start
        line = self._counts() + f" in {format_duration(elapsed)}"
        if self.n and elapsed > 0:
            line += f", {self.n / elapsed:.1f}/s"
        self._write(line)

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BarProgress:
    """A tqdm bar on a terminal, with the same interface as LineProgress."""

    def __init__(self, total: int | None, desc: str, unit: str = "record", stream: TextIO | None = None):
        from tqdm.auto import tqdm
        self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=stream if stream is not None else sys.stderr,
                         dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    __call__ = update

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> "BarProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NoProgress:
    """Counts, writes nothing."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    __call__ = update

    def close(self) -> None:
        pass

    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress(total: int | None, desc: str, unit: str = "record", stream: TextIO | None = None,
             enabled: bool = True, clock: Clock = time.monotonic):
    """A progress reporter for `total` units: BarProgress if `stream` (default stderr) is a
    terminal, LineProgress otherwise, NoProgress if not `enabled`. Use as a context manager or
    call `close()`; call it (or `.update`) with the number of units just finished."""
    if not enabled:
        return NoProgress()
    stream = stream if stream is not None else sys.stderr
    if is_terminal(stream):
        return BarProgress(total, desc, unit, stream)
    return LineProgress(total, desc, unit, stream, clock=clock)


class step:
    """Context manager for a step without counts (e.g. loading a model): writes
    "<desc> ..." before and "<desc>: done in 4.2 s" after (or "<desc>: failed after 4.2 s"),
    on terminals and elsewhere alike. Side effect: two lines on `stream` (default stderr)."""

    def __init__(self, desc: str, stream: TextIO | None = None, clock: Clock = time.monotonic,
                 enabled: bool = True):
        self.desc = desc
        self.stream = stream
        self.clock = clock
        self.enabled = enabled
        self.elapsed: float | None = None

    def _write(self, line: str) -> None:
        if not self.enabled:
            return
        stream = self.stream if self.stream is not None else sys.stderr
        try:
            stream.write(line + "\n")
            stream.flush()
        except (ValueError, OSError):
            pass

    def __enter__(self) -> "step":
        self._start = self.clock()
        self._write(f"{self.desc} ...")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.elapsed = self.clock() - self._start
        outcome = "done in" if exc_type is None else "failed after"
        self._write(f"{self.desc}: {outcome} {format_duration(self.elapsed)}")
