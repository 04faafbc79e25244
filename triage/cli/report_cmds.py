"""report_cmds: `triage report` (stopping report) and `triage sample` (certification sample)."""

from __future__ import annotations

from pathlib import Path

import click

from triage.cli.main import cli
from triage.errors import TriageError



def _check(target: float, confidence: float) -> None:
    if not 0 < target <= 1:
        raise TriageError(f"--target must be in (0, 1], got {target}")
    if not 0 < confidence < 1:
        raise TriageError(f"--confidence must be in (0, 1), got {confidence}")


@cli.command("report")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default=None,
              help="md, html or json (default: from the --out extension .md/.html/.json, else md).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (same as --format json).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: stdout; for html: DIR/stopping-report.html).")
@click.option("--target", type=float, default=0.95, show_default=True,
              help="Recall target the stopping rules test (a share of the relevant records, in (0, 1]).")
@click.option("--confidence", type=float, default=0.95, show_default=True,
              help="Confidence level of the statistical stopping rules and recall intervals, in (0, 1).")
def report_cmd(directory: Path, fmt: str | None, as_json: bool, out: Path | None, target: float,
               confidence: float) -> None:
    """Stopping report: every stopping rule, the gain curve and the estimated recall."""
    from triage.io.output import refuse_protected, write_output
    from triage.report import render_html, render_json, render_markdown
    from triage.service import report_data
    from triage.store.labels_io import refuse_unimported
    from triage.store.project import Project

    _check(target, confidence)
    by_ext = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}
    if as_json:
        if fmt not in (None, "json"):
            raise TriageError(f"--json and --format {fmt} disagree; give one of them")
        fmt = "json"
    if fmt is None:
        fmt = by_ext.get(out.suffix.lower(), "md") if out is not None else "md"
    if out is None and fmt == "html":
        out = directory / "stopping-report.html"
    if out is not None:
        refuse_protected(out, directory)
    with Project.open(directory, readonly=True) as project:
        if out is not None:
            refuse_unimported(project, out)
        rep = report_data(project, target, confidence)
    text = {"md": render_markdown, "json": render_json, "html": render_html}[fmt](rep)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_output(out, text, project_dir=directory)
        click.echo(f"Wrote {out}", err=True)


@cli.command("sample")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-n", "--number", "n", type=int, default=None,
              help="Records to draw (default: the size that certifies --target if none is relevant).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV to write (default: DIR/sample-<id>.csv).")
@click.option("--target", type=float, default=0.95, show_default=True,
              help="Recall target the default sample size certifies (in (0, 1]).")
@click.option("--confidence", type=float, default=0.95, show_default=True,
              help="Confidence of that certification (in (0, 1)).")
def sample_cmd(directory: Path, n: int | None, out: Path | None, target: float, confidence: float) -> None:
    """Draw a random certification sample of the pool and write it as CSV for labelling.

    The CSV has columns record_id,title,abstract,label,origin with origin = random; fill in label
    (include / exclude / maybe) and import it with `triage label`, which stores the labels with
    origin 'random'."""
    from triage.service import certification_sample
    from triage.store.project import Project

    _check(target, confidence)
    with Project.open(directory) as project:
        res = certification_sample(project, n, out, target, confidence)
    ids, pool, out = res.record_ids, res.pool_size, res.path
    click.echo(f"Drew {len(ids)} of {pool} pool records (sample {res.sample_id}); label them in {out} "
               f"and import with `triage label`.")
    if res.large_default:
        click.echo(f"Note: that is {len(ids) / pool:.0%} of the pool. With {res.n_relevant} relevant "
                   f"record(s) found so far, certifying {target:.0%} recall needs a sample this large; screening "
                   f"more of the ranking first usually makes it far smaller (or give -n).", err=True)
