"""Opening a Project must not drop the SQLite locks of the process's other open Projects.

Closing any descriptor of the database file drops all of the process's POSIX locks on it; when
the header check of `Project.open` did that while another thread had the project open, another
process's closing connection could checkpoint and delete the WAL under that thread ("disk I/O
error"). `triage serve` opens the project per request in many threads next to its retrain process."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from triage.store.project import Project

REPO = Path(__file__).resolve().parents[3]


def test_threads_opening_the_project_while_another_process_writes(project_dir):
    code = ("import sys; from triage.store.project import Project\n"
            "for i in range(150):\n"
            "    with Project.open(sys.argv[1]) as p:\n"
            "        p.add_labels([(1 + i % 6, 'include')], reviewer='other')\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(project_dir)], cwd=REPO,
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    errors = []

    def read() -> None:
        try:
            while writer.poll() is None:
                with Project.open(project_dir) as p:
                    p.label_events()
                    p.last_event_id()
        except Exception as e:  # noqa: BLE001 - any error fails the test below
            errors.append(repr(e))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.wait() == 0
    assert errors == []
    with Project.open(project_dir) as p:
        assert len(p.label_events()) == 150 and p.integrity_check() == "ok"
