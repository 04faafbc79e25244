"""The `triage` command group. Each command module registers its commands on `cli`.

Heavy libraries (torch, sentence-transformers, matplotlib) are imported inside the commands
that need them, so `triage --help` starts fast."""

from __future__ import annotations

import sys

import click

from triage import __version__
from triage.errors import TriageError
from triage.io.record import clean_text


class _Group(click.Group):
    """Turns TriageError into a one-line message and exit code 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TriageError as e:
            # a file name or cell quoted in the message may hold terminal escape codes: never pass them on
            click.echo(f"Error: {clean_text(str(e))}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="triage")
def cli() -> None:
    """Offline-first active learning for title/abstract screening."""


def main() -> None:
    cli(prog_name="triage")


# Imported last, for their side effect of adding commands to `cli`.
from triage.cli import (  # noqa: E402,F401
    features_cmds, maintenance_cmds, project_cmds, records_cmds, report_cmds, screen_cmds, serve_cmds, simulate_cmds,
    team_cmds,
)


def _first_sentence(text: str) -> str:
    """The help's first sentence (its first paragraph up to '. '), unwrapped: a command summary
    that `triage --help` shows whole instead of click's 45-character cut."""
    para = " ".join((text or "").strip().split("\n\n")[0].split())
    cut = para.find(". ")
    return para if cut < 0 else para[:cut + 1]


for _cmd in cli.commands.values():
    if _cmd.short_help is None and _cmd.help:
        _cmd.short_help = _first_sentence(_cmd.help)
