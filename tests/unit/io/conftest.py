import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

EXPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


@pytest.fixture
def exports() -> Path:
    return EXPORTS


class Hang(Exception):
    """Raised by `watchdog` when a block runs far longer than it should."""


@contextmanager
def _watchdog(seconds: float):
    """Turn a hang into a test failure: raises Hang in the block after `seconds` (SIGALRM).

    A hang detector with a margin of 100x or more over the expected run time, not a speed test
    (speed is measured in benchmarks/). A no-op where SIGALRM does not exist (Windows)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    hung = False
    try:
        yield
    except Hang:
        hung = True  # failed below, outside this handler: pytest cannot render the signal's traceback
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if hung:
        pytest.fail(f"still running after {seconds} s: a hang (or quadratic work)", pytrace=False)


@pytest.fixture(name="watchdog")
def watchdog_fixture():
    """The `_watchdog(seconds)` context manager."""
    return _watchdog
