"""A label reported saved survives SIGKILL at any moment, and the database stays intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from triage.io.record import Record
from triage.store.project import Project

LABELLER = Path(__file__).with_name("_kill_labeller.py")
N_KILLS = 50


def test_labels_reported_saved_survive_sigkill(tmp_path, make_project):
    records = [Record(title=f"Randomised trial number {i} of an intervention for condition {i % 17}",
                      year=1990 + i % 30, doi=f"10.9/kill.{i}", position=i + 1) for i in range(2000)]
    d = make_project(tmp_path, records)
    rng = np.random.default_rng(20261127)
    delays = rng.uniform(0.005, 0.2, N_KILLS)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reported: dict[int, str] = {}
    killed_alive = 0
    for k, delay in enumerate(delays):
        child = subprocess.Popen([sys.executable, str(LABELLER), str(d)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env)
        try:
            assert child.stdout.readline() == b"start\n", child.stderr.read().decode()
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        killed_alive += child.returncode == -signal.SIGKILL
        # only complete lines count: a line is written (in one write) after its commit returned
        for line in out.decode().splitlines(keepends=True):
            if line.endswith("\n"):
                rid, label = line.split()
                reported[int(rid)] = label
        with Project.open(d) as p:
            assert p.integrity_check() == "ok", f"kill {k}"
            current = p.current_labels()
            lost = set(reported) - set(current)
            assert not lost, f"kill {k}: labels reported saved but missing: {sorted(lost)[:10]}"
            stored = {e.record_id for e in p.label_events() if e.reviewer == "kill-test"}
        assert set(reported) <= stored
    assert killed_alive == N_KILLS  # every run was killed while labelling, not finished or crashed
    assert len(reported) > 0
