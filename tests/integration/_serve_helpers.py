"""Helpers for the `triage serve` tests: a project of unlabelled records, a logged-in test client."""

from __future__ import annotations

import re
from pathlib import Path

from triage.io.record import Record
from triage.store.project import Project

TOPICS = ["statin therapy", "exercise training", "vitamin D supplements", "cognitive behavioural therapy",
          "antibiotic prophylaxis", "mindfulness training", "aspirin use", "school-based screening",
          "smoking cessation", "sleep hygiene"]


def records(n: int, hostile: str | None = None) -> list[Record]:
    """n distinct unlabelled records; with `hostile`, record 1's title starts with it and repeats
    the words of the question ("zebrafish hypoxia") so that the cold start ranks it first."""
    out = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        title = f"Effect of {t} on outcome {i} in adults: a randomised trial"
        abstract = f"Background: we studied {t} in cohort {i}. Results: outcome {i} improved by {i % 7} points."
        if hostile is not None and i == 0:
            title = f"{hostile} zebrafish hypoxia in zebrafish larvae under hypoxia"
            abstract = f"{hostile} We exposed zebrafish to hypoxia."
        out.append(Record(title=title, abstract=abstract, authors=[f"Author{i}, A.", "Smith, J."], year=2000 + i % 20,
                          journal="Journal of Trials", doi=f"10.1000/trial.{i}", pmid=str(200000 + i),
                          keywords=[t], position=i + 1, line=i + 2))
    return out


def make_project(tmp_path: Path, n: int = 30, mode: str = "single", hostile: str | None = None,
                 question: str = "") -> Path:
    import json

    d = tmp_path / "proj"
    with Project.create(d, question=question, mode=mode) as p:
        recs = records(n, hostile)
        src = tmp_path / "search.json"
        src.write_text(json.dumps([r.title for r in recs]), encoding="utf-8")
        p.import_records(src, "csv", recs)
    return d


CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
RECORD = re.compile(r'data-record-id="(\d+)"')


def login(app, reviewer: str = "ann", token: str = "tok"):
    """A test client with a session (token once) and a reviewer name; returns (client, csrf)."""
    c = app.test_client()
    r = c.get(f"/screen?token={token}")
    assert r.status_code == 302
    csrf = CSRF.search(c.get("/name").get_data(as_text=True)).group(1)
    r = c.post("/name", data={"reviewer": reviewer, "csrf": csrf})
    assert r.status_code == 302 and r.headers["Location"] == "/screen"
    return c, csrf


def shown_id(html: str) -> int | None:
    m = RECORD.search(html)
    return int(m.group(1)) if m else None


def decide(c, csrf: str, record_id: int, action: str, **extra):
    return c.post("/api/decide", data={"record_id": record_id, "action": action, **extra},
                  headers={"X-CSRF-Token": csrf})
