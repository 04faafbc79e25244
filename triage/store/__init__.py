"""The project store: one SQLite file per review; append-only label events; rounds."""

from triage.store.history import History
from triage.store.project import Project

__all__ = ["History", "Project"]
