"""The background embedding pass: one at a time, resumable after a kill, and screening never waits."""

from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner

from triage.cli.main import cli
from triage.features import background
from triage.features.embed import FakeEmbedder

TEXTS = [f"record {i} about topic {i % 7}" for i in range(30)]


class _Killed(Exception):
    pass


class _DiesAfter(FakeEmbedder):
    """A FakeEmbedder whose process 'dies' on its n-th embed call (a kill mid-pass)."""

    def __init__(self, calls: int):
        super().__init__()
        self.left = calls
        self.embedded = 0

    def embed(self, texts, progress=None):
        self.left -= 1
        if self.left < 0:
            raise _Killed()
        self.embedded += len(texts)
        return super().embed(texts, progress)


def test_a_killed_pass_resumes_where_it_stopped(tmp_path):
    first = _DiesAfter(calls=2)  # two chunks of 8 are written, then the "kill"
    with pytest.raises(_Killed):
        background.run_pass(tmp_path, first, TEXTS, chunk_size=8)
    assert background.read_status(tmp_path)["state"] == "failed"
    second = _DiesAfter(calls=100)
    status = background.run_pass(tmp_path, second, TEXTS, chunk_size=8)
    assert status["state"] == "done" and status["done_before"] == 16
    assert second.embedded == len(TEXTS) - 16  # only what the killed pass had not finished
    assert not background.is_running(tmp_path)  # the lock went with the pass


def test_only_one_pass_at_a_time(tmp_path, monkeypatch):
    """Two `next` calls during a pass must not start two passes."""
    project = tmp_path / "proj"
    (project / "cache").mkdir(parents=True)
    launched = []
    monkeypatch.setenv(background.ENV_SWITCH, "1")
    monkeypatch.setattr(background.subprocess, "Popen", lambda *a, **k: launched.append(a))
    with background.pass_lock(project / "cache") as mine:  # a pass is running
        assert mine
        assert background.is_running(project / "cache")
        assert background.start(project) is False and background.start(project) is False
        assert background.run_pass(project / "cache", FakeEmbedder(), TEXTS)["state"] == "busy"
    assert launched == []
    assert background.start(project) is True and len(launched) == 1  # none running: one starts
    monkeypatch.setenv(background.ENV_SWITCH, "0")
    assert background.start(project) is False and len(launched) == 1  # switched off


def test_import_starts_the_pass_and_the_first_round_after_it_uses_the_full_model(tmp_path, monkeypatch):
    """End to end with a real detached process (fake embedder: no model is loaded)."""
    preset = tmp_path / "fake_hybrid.toml"
    preset.write_text('[features]\ntfidf = {}\nembedding = { model = "fake" }\n[classifier]\ntype = "svm"\n'
                      '[querier]\ntype = "max"\n', encoding="utf-8")
    data = tmp_path / "records.csv"
    data.write_text("title,abstract\n" + "".join(f"Study {i} of topic {i % 5} in adults,We measured outcome {i}.\n"
                                                 for i in range(40)), encoding="utf-8")
    proj = tmp_path / "proj"
    run = CliRunner().invoke
    assert run(cli, ["init", str(proj), "--preset", str(preset)]).exit_code == 0
    monkeypatch.setenv(background.ENV_SWITCH, "1")
    out = json.loads(run(cli, ["import", str(proj), str(data), "--json"]).output)
    assert out["embedding_pass_started"] is True
    for _ in range(600):  # the detached pass: python start-up, then 40 fake embeddings
        status = background.read_status(proj / "cache") or {}
        if status.get("state") == "done" and not background.is_running(proj / "cache"):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the background pass did not finish: {status}; log: "
                    f"{(proj / 'cache' / background.LOG).read_text(errors='replace')}")
    assert status["total"] == 40 and status["pid"] != os.getpid()
    r = run(cli, ["status", str(proj), "--json"])
    assert json.loads(r.output)["embedding"]["state"] == "done"
    r = run(cli, ["rank", str(proj), "--json"])
    assert json.loads(r.output)["features"] == "full"
