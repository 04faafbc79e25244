"""triage.progress: periodic lines when not a terminal (fake clock), bar on a terminal."""

from __future__ import annotations

import io

from triage.progress import BarProgress, LineProgress, NoProgress, format_duration, is_terminal, progress, step


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Broken(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_first_line_at_once_then_every_10_s_and_10_percent_whichever_later():
    out, clock = io.StringIO(), FakeClock()
    p = progress(1000, "embedding", stream=out, clock=clock)
    assert isinstance(p, LineProgress)
    assert lines(out) == ["embedding: 0/1,000 records (0 %)"]
    clock.t += 5
    p(200)                      # 20 % but only 5 s: nothing
    assert len(lines(out)) == 1
    clock.t += 5
    p(10)                       # 10 s since the first line and 21 % since it: a line
    assert lines(out)[-1] == "embedding: 210/1,000 records (21 %), 21.0/s, ETA 37.6 s"
    clock.t += 60
    p(50)                       # 60 s later but only 5 % more: nothing
    assert len(lines(out)) == 2
    clock.t += 1
    p(60)                       # now 11 % more and 61 s: a line
    assert lines(out)[-1].startswith("embedding: 320/1,000 records (32 %), 4.5/s, ETA 2 min 31 s")
    clock.t += 10
    p(680)                      # complete: the last line comes from close()
    assert len(lines(out)) == 3
    p.close()
    p.close()                   # idempotent
    assert lines(out)[-1] == "embedding: 1,000/1,000 records (100 %) in 1 min 21 s, 12.3/s"
    assert len(lines(out)) == 4


def test_unknown_total_reports_counts_without_eta():
    out, clock = io.StringIO(), FakeClock()
    with progress(None, "ranking", unit="text", stream=out, clock=clock) as p:
        clock.t += 10
        p(5)
    assert lines(out) == ["ranking: 0 texts", "ranking: 5 texts, 0.5/s", "ranking: 5 texts in 10.0 s, 0.5/s"]


def test_terminal_gets_a_bar_and_broken_streams_are_not_terminals():
    assert is_terminal(TTY()) and not is_terminal(io.StringIO()) and not is_terminal(Broken())
    out = TTY()
    bar = progress(10, "embedding", stream=out)
    assert isinstance(bar, BarProgress)
    bar(10)
    bar.close()
    assert "10/10" in out.getvalue()


def test_disabled_writes_nothing():
    out = io.StringIO()
    p = progress(10, "x", stream=out, enabled=False)
    assert isinstance(p, NoProgress)
    p(3)
    p.close()
    assert out.getvalue() == "" and p.n == 3


def test_step_says_before_and_after_with_elapsed_time():
    out, clock = io.StringIO(), FakeClock()
    with step("loading embedding model minilm", stream=out, clock=clock) as s:
        assert lines(out) == ["loading embedding model minilm ..."]
        clock.t += 3.25
    assert lines(out)[-1] == "loading embedding model minilm: done in 3.2 s" and s.elapsed == 3.25
    try:
        with step("exporting", stream=out, clock=clock):
            clock.t += 75
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert lines(out)[-1] == "exporting: failed after 1 min 15 s"


def test_format_duration():
    assert format_duration(4.24) == "4.2 s"
    assert format_duration(83) == "1 min 23 s"
    assert format_duration(7500) == "2 h 05 min"
