"""The project store: one SQLite file per review; append-only label events; rounds."""

from triage.store.project import Project

__all__ = ["Project"]
