"""Every error a user can meet, with a message they can act on. The CLI prints them (one line,
exit code 2) without a traceback. All subclass TriageError; this module imports nothing."""

from __future__ import annotations


class TriageError(Exception):
    """Base class: anything the user can fix (bad input, missing project, bad option)."""


class ImportFormatError(TriageError):
    """A file could not be read. Names the file, the line or record, and the problem."""

    def __init__(self, path: str, problem: str, line: int | None = None, record: int | None = None):
        self.path, self.problem, self.line, self.record = str(path), problem, line, record
        where = ""
        if line is not None:
            where = f", line {line}"
        elif record is not None:
            where = f", record {record}"
        super().__init__(f"{self.path}{where}: {problem}")


class ProjectError(TriageError):
    """The project directory is missing, not a triage project, or from a newer version."""


class LabelError(TriageError):
    """A label refers to an unknown record or has an unknown value."""


class PresetError(TriageError):
    """A model preset is unknown or malformed."""


class EmbedderError(TriageError):
    """An embedding model cannot be found, loaded or built (names the model and the fix)."""


class SimulationError(TriageError, ValueError):
    """A simulation cannot run on this data (no relevant record, bad prior ids, ...)."""


class GoldLabelError(TriageError):
    """A file cannot be simulated: records without a label, or no relevant record."""


class BenchmarkError(TriageError):
    """Bad benchmark arguments (no dataset found, bad seed range, ...)."""


class OutputError(TriageError):
    """An output file cannot or must not be written (names the file, the reason and what to do)."""


class ProjectDamagedError(ProjectError):
    """The project file is not a valid triage project any more (says how to restore a snapshot)."""


class ProjectLockedError(ProjectError):
    """Another process kept the project's write lock for longer than triage waits."""


class ProjectWriteError(ProjectError):
    """The project cannot be written: disk full, read-only folder or file, I/O error."""
