"""features_cmds: commands (see triage.cli.main)."""

from triage.cli.main import cli  # noqa: F401
