"""maintenance_cmds: `triage backup`, `triage check` and `triage restore` (a damaged project)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from triage.cli.main import cli
from triage.errors import ProjectError


@cli.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Backup file to write (default: DIR/backups/backup-<UTC time>.sqlite). Never overwritten.")
def backup_cmd(directory: Path, out: Path | None) -> None:
    """Copy the project file with SQLite's online backup (safe while another command writes).

    The copy is a complete project file: restore it with `triage restore DIR FILE`."""
    from triage.io.output import refuse_protected
    from triage.store.backup import snapshot
    from triage.store.project import Project

    if out is not None:
        if out.exists():
            raise ProjectError(f"{out} exists; a backup never overwrites a file (choose another --out)")
        refuse_protected(out, directory)
    with Project.open(directory, readonly=True) as project:
        path = project.backup(out) if out is not None else snapshot(project, reason="backup")
    click.echo(f"Backed up {directory} to {path}")


@cli.command("check")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check_cmd(directory: Path, as_json: bool) -> None:
    """Check the project file: SQLite integrity check plus triage's own consistency checks.

    Reads only. Exit code 0 when healthy, 1 when damaged (the verdict says how to restore)."""
    from triage.store.backup import check_project

    res = check_project(directory)
    if as_json:
        click.echo(json.dumps(res.to_dict(), indent=2))
    else:
        click.echo(res.verdict())
    if not res.ok:
        sys.exit(1)


@cli.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("snapshot", type=click.Path(dir_okay=False, path_type=Path))
def restore_cmd(directory: Path, snapshot: Path) -> None:
    """Put SNAPSHOT (from DIR/backups/ or `triage backup`) back as the project file of DIR.

    SNAPSHOT is checked first; the current project file is moved to DIR/backups/damaged-<time>.sqlite,
    never deleted. Labels given after the snapshot was taken must be given again."""
    from triage.store.backup import restore_project

    moved = restore_project(directory, snapshot)
    where = f"; the previous file is kept as {moved}" if moved else ""
    click.echo(f"Restored {directory} from {snapshot}{where}. Run `triage status {directory}` to see what it holds.")
