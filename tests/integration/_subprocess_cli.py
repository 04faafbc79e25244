"""Run the triage CLI in a child process where file permissions apply (as a non-root user,
or as root without CAP_DAC_OVERRIDE), so read-only folders and files are really read-only."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_CODE = "import sys; from triage.cli.main import main; sys.argv[0] = 'triage'; main()"
_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 24, 1, 2


def _drop_file_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_cli(*args, timeout: float = 60, env: dict | None = None, permissions: bool = True):
    """subprocess.CompletedProcess of `triage ARGS` (text output). `permissions`: make file
    permissions apply even when the tests run as root (skips the test where that is impossible)."""
    full_env = {**os.environ, **(env or {}),
                "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    preexec = None
    if permissions and hasattr(os, "geteuid") and os.geteuid() == 0:
        if not sys.platform.startswith("linux"):
            pytest.skip("running as root: file permissions cannot be enforced on this platform")
        preexec = _drop_file_capabilities
    try:
        return subprocess.run([sys.executable, "-c", _CODE, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=full_env, preexec_fn=preexec)
    except subprocess.SubprocessError as e:
        if isinstance(e, subprocess.TimeoutExpired):
            raise
        pytest.skip(f"cannot drop root's file capabilities here ({e})")


def make_read_only(*paths: Path) -> None:
    for p in paths:
        for q in ([p] + sorted(p.rglob("*"), reverse=True)) if p.is_dir() else [p]:
            q.chmod(q.stat().st_mode & ~0o222)


def make_writable(*paths: Path) -> None:
    for p in paths:
        for q in [p] + (sorted(p.rglob("*")) if p.is_dir() else []):
            q.chmod(q.stat().st_mode | 0o200)
