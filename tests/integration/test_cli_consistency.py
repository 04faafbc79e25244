"""CLI consistency (issue #13 item 8): help for every option, whole command summaries, --json
spellings, formats from the --out extension, long forms of short options."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from triage.cli.main import cli


def _params():
    for name, cmd in sorted(cli.commands.items()):
        for p in cmd.params:
            if isinstance(p, click.Option):
                yield name, p


@pytest.mark.parametrize("name,option", list(_params()), ids=lambda x: getattr(x, "name", x))
def test_every_option_has_help(name, option):
    assert option.help, f"triage {name} {option.opts[0]} has no help text"
    assert any(o.startswith("--") for o in option.opts), f"triage {name} {option.opts[0]} has no long form"


def test_command_summaries_are_whole_sentences():
    out = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    listing = out.split("Commands:", 1)[1]
    assert "..." not in listing
    for name, cmd in cli.commands.items():
        assert cmd.get_short_help_str(limit=500).rstrip().endswith((".", ")")), name


def test_report_takes_its_format_from_the_extension_and_json_flag(project_dir, tmp_path):
    runner = CliRunner()
    html = tmp_path / "r.html"
    r = runner.invoke(cli, ["report", str(project_dir), "--out", str(html)])
    assert r.exit_code == 0, r.output
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    r = runner.invoke(cli, ["report", str(project_dir), "--json"])
    assert r.exit_code == 0, r.output
    json.loads(r.stdout)
    r = runner.invoke(cli, ["report", str(project_dir), "--format", "json"])  # the old spelling still works
    assert r.exit_code == 0 and json.loads(r.stdout)
