"""CLI helpers shared by integration tests: run a command, check a one-line error."""

from __future__ import annotations

from click.testing import CliRunner

from triage.cli.main import cli


def run(*args, ok: bool = True, env: dict | None = None):
    """Invoke `triage ARGS` in-process; with ok (default) assert exit code 0."""
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def assert_error(result, *fragments: str) -> None:
    """A clean user error: exit code 2, one 'Error: ...' on stderr holding every fragment, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    for f in fragments:
        assert f in result.stderr, result.stderr
