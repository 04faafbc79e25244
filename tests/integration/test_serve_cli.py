"""`triage serve` as a command: clean errors before serving, the warning beyond loopback.
(The server itself: test_serve_api.py with Flask's test client, test_serve_browser.py in Chromium.)"""

from __future__ import annotations

from _cli_helpers import assert_error, run
from triage.cli.serve_cmds import is_loopback
from triage.store.project import Project


def test_loopback_addresses():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.20", "example.org"))


def test_a_folder_without_a_project_or_records_is_a_clean_error(tmp_path):
    assert_error(run("serve", tmp_path / "nothing", "--no-browser", ok=False), "is not a triage project")
    Project.create(tmp_path / "empty").close()
    assert_error(run("serve", tmp_path / "empty", "--no-browser", ok=False), "has no records yet")


def test_serving_beyond_loopback_warns_first(tmp_path):
    Project.create(tmp_path / "empty").close()
    r = run("serve", tmp_path / "empty", "--host", "0.0.0.0", "--no-browser", ok=False)
    assert r.stderr.startswith("Warning: serving on 0.0.0.0 makes the page reachable from other machines")
    assert "has no records yet" in r.stderr
    assert "Warning" not in run("serve", tmp_path / "empty", "--no-browser", ok=False).stderr


def test_ctrl_c_stops_the_server_and_its_retrain_process_cleanly(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from _serve_helpers import make_project

    proj = make_project(tmp_path, n=12)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1", "TRIAGE_BACKGROUND_EMBEDDING": "0"}
    p = subprocess.Popen([sys.executable, "-m", "triage", "serve", str(proj), "--port", "0", "--no-browser",
                          "--preset", "tfidf_svm"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, start_new_session=True)
    try:
        assert "?token=" in p.stdout.readline()
        os.killpg(p.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
        # a hang guard, not a speed check: under load the retrain process may finish a round first
        out, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "Stopped: every label given is saved." in err and "Traceback" not in err
