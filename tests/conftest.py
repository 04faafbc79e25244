"""Shared test helpers: small projects built directly through the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from triage.io.record import Record
from triage.store.project import Project


def rec(title: str, **kw) -> Record:
    """A Record with a title and any other fields given as keywords."""
    return Record(title=title, **kw)


def sample_records(n: int = 6) -> list[Record]:
    """n distinct, realistic-looking records (titles >= 4 words, DOIs, years)."""
    topics = ["statin therapy", "exercise training", "vitamin D", "cognitive behavioural therapy",
              "antibiotic prophylaxis", "mindfulness training", "aspirin", "school-based screening"]
    out = []
    for i in range(n):
        t = topics[i % len(topics)]
        out.append(Record(
            title=f"Effect of {t} on outcome {i} in adults: a randomised trial",
            abstract=f"Background: we studied {t}. Results: outcome {i} improved.",
            authors=[f"Author{i}, A.", "Smith, J."], year=2000 + i, journal="Journal of Trials",
            doi=f"10.1000/trial.{i}", pmid=str(100000 + i), keywords=[t, "trial"],
            position=i + 1, line=i + 2))
    return out


def import_into(project: Project, tmp_path: Path, records: list[Record], name: str = "search.csv",
                fmt: str = "csv"):
    """Import `records` as if read from a file `name` (written so that its hash is unique)."""
    path = Path(tmp_path) / name
    path.write_text(json.dumps([r.__dict__ for r in records], default=str), encoding="utf-8")
    return project.import_records(path, fmt, records)


def make_project(tmp_path: Path, records: list[Record] | None = None, name: str = "search.csv",
                 directory: str = "proj") -> Path:
    """Create a project under tmp_path, import `records` (default: sample_records()), close it."""
    d = Path(tmp_path) / directory
    with Project.create(d) as p:
        import_into(p, tmp_path, sample_records() if records is None else records, name=name)
    return d


@pytest.fixture(name="make_project")
def make_project_fixture():
    """`make_project(tmp_path, records=None, name=..., directory=...)` -> project directory."""
    return make_project


@pytest.fixture(name="import_into")
def import_into_fixture():
    """`import_into(project, tmp_path, records, name=...)` -> ImportResult."""
    return import_into


@pytest.fixture(name="sample_records")
def sample_records_fixture():
    """`sample_records(n=6)` -> n distinct Records."""
    return sample_records


@pytest.fixture
def project_dir(tmp_path) -> Path:
    """A closed project directory holding sample_records() (ids 1..6)."""
    return make_project(tmp_path)


@pytest.fixture(autouse=True)
def _no_background_embedding(monkeypatch):
    """Tests never start the real background embedding pass (a torch process); the tests of the
    pass enable it explicitly (TRIAGE_BACKGROUND_EMBEDDING=1) with a fake embedder."""
    monkeypatch.setenv("TRIAGE_BACKGROUND_EMBEDDING", "0")
