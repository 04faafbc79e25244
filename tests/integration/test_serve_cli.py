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
