"""project_cmds: `init` and `import` (and, below them, the other project commands)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from triage.cli.main import cli
from triage.errors import TriageError

#: Files larger than this get a progress bar while they are read.
PROGRESS_BAR_BYTES = 5 * 1024 * 1024


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--question", default="", help="The review question, stored with the project.")
@click.option("--criteria", "criteria_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A UTF-8 text file with the eligibility criteria, stored with the project.")
@click.option("--seed", default=0, show_default=True, type=int, help="The project's random seed.")
@click.option("--preset", default=None, help="Model preset for this project (default: see `triage presets`).")
@click.option("--dual", is_flag=True,
              help="Blinded dual screening: every reviewer's decisions are kept apart and compared "
                   "(`triage conflicts`, `triage agreement`); switch later with `triage mode`.")
def init_cmd(directory: Path, question: str, criteria_file: Path | None, seed: int, preset: str | None,
             dual: bool) -> None:
    """Create a new project in DIRECTORY."""
    from triage.learn.presets import load_preset
    from triage.store.project import Project

    if preset is not None:
        load_preset(preset)  # an unknown or invalid preset fails before anything is created
        if Path(preset).suffix == ".toml" and Path(preset).is_file():
            preset = str(Path(preset).resolve())  # a preset file of the reviewer's: keep where it is

    criteria = _read_criteria(criteria_file) if criteria_file is not None else ""
    with Project.create(directory, question=question, criteria=criteria, seed=seed,
                        mode="dual" if dual else "single") as project:
        if preset is not None:
            project.set_meta("preset", preset)
    click.echo(f"Created project in {directory}" + (" (dual screening, blinded)" if dual else ""))


def _read_criteria(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise TriageError(f"{path}: not UTF-8 text (byte offset {e.start}); save it as UTF-8") from e


@cli.command("question")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("text", required=False)
@click.option("--criteria", "criteria_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Replace the eligibility criteria with this UTF-8 text file.")
def question_cmd(directory: Path, text: str | None, criteria_file: Path | None) -> None:
    """Show the review question and criteria, or set them (TEXT: the new question).

    They rank the pool before the first labels and train as one relevant record in every round;
    each round stores the text it used, so earlier rounds stay reproducible."""
    from triage.store.project import Project

    criteria_text = _read_criteria(criteria_file) if criteria_file is not None else None  # fails before any change
    with Project.open(directory) as project:
        if text is not None:
            project.set_meta("question", text)
        if criteria_text is not None:
            project.set_meta("criteria", criteria_text)
        question, criteria = project.meta("question"), project.meta("criteria")
    if text is not None or criteria_file is not None:
        click.echo("Saved; the next round uses it.")
    click.echo(f"Question: {question or '(none)'}")
    click.echo(f"Criteria: {criteria.strip() or '(none)'}")


@cli.command("presets")
@click.option("--json", "as_json", is_flag=True, help="Print the presets as JSON.")
def presets_cmd(as_json: bool) -> None:
    """List the model presets (models/*.toml); their model cards are the .md files beside them."""
    import json

    from triage.learn.presets import DEFAULT_PRESET, list_presets, load_preset

    presets = [load_preset(n) for n in list_presets()]
    if as_json:
        click.echo(json.dumps([p.params() | {"description": p.description, "default": p.name == DEFAULT_PRESET}
                               for p in presets]))
        return
    for p in presets:
        mark = " (default)" if p.name == DEFAULT_PRESET else ""
        click.echo(f"{p.name}{mark}\n    {p.description}")


@cli.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def import_cmd(directory: Path, files: tuple[Path, ...], as_json: bool) -> None:
    """Import search exports (RIS, PubMed/MEDLINE, CSV/TSV, .xlsx) into the project in DIRECTORY.

    Every file is read before anything is stored, so a file that cannot be read stops the whole
    import with nothing stored. Each file is then stored in its own transaction; files imported
    before (same content) and records already in the project are not added again."""
    from triage.io.read import file_sha256, read_file
    from triage.store.project import Project

    with Project.open(directory) as project:
        parsed = []
        for path in files:
            size = path.stat().st_size if path.is_file() else 0
            if size > PROGRESS_BAR_BYTES:
                with click.progressbar(length=size, label=f"Reading {path.name}", file=sys.stderr) as bar:
                    state = {"done": 0}

                    def progress(done: int, total: int) -> None:
                        bar.update(done - state["done"])
                        state["done"] = done

                    fmt, records = read_file(path, progress)
            else:
                fmt, records = read_file(path)
            parsed.append((path, fmt, records))
        rows = []
        for path, fmt, records in parsed:
            r = project.import_records(path, fmt, records, file_bytes_hash=file_sha256(path))
            rows.append({"file": str(path), "format": fmt, "read": r.n_read, "new": r.n_new,
                         "duplicates": r.n_duplicates, "already_in_project": r.n_already,
                         "prior_labels": r.n_labels, "file_already_imported": r.skipped_file})
        from triage.service import after_import

        embedding = after_import(project)
    keys = ("read", "new", "duplicates", "already_in_project", "prior_labels")
    totals = {k: sum(row[k] for row in rows) for k in keys}
    if as_json:
        click.echo(json.dumps({"files": rows, "totals": totals, "embedding_pass_started": embedding}, indent=2))
        return
    width = max(len(str(row["file"])) for row in rows)
    click.echo(f"{'file':<{width}}  {'format':<7} {'read':>6} {'new':>6} {'dupl.':>6} {'already':>7} {'labels':>6}")
    for row in rows:
        note = "  (file imported before: nothing added)" if row["file_already_imported"] else ""
        click.echo(f"{row['file']:<{width}}  {row['format']:<7} {row['read']:>6} {row['new']:>6} {row['duplicates']:>6} "
                   f"{row['already_in_project']:>7} {row['prior_labels']:>6}{note}")
    click.echo(f"{'total':<{width}}  {'':<7} {totals['read']:>6} {totals['new']:>6} {totals['duplicates']:>6} "
               f"{totals['already_in_project']:>7} {totals['prior_labels']:>6}")
    if embedding:
        click.echo("Embedding the records in the background (`triage status` shows progress); screening can start "
                   "now: rounds rank with TF-IDF until it finishes, then with the full model.")
