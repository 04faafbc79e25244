"""Team screening from the terminal: `triage mode`, `conflicts`, `resolve`, `agreement`, `merge`."""

from __future__ import annotations

import json

import click

from triage.cli.main import cli
from triage.errors import LabelError, TriageError
from triage.store.project import Project

_DIR = click.Path(file_okay=False)


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


@cli.command("mode", short_help="Show or set the screening mode: single or dual (blinded).")
@click.argument("directory", type=_DIR)
@click.argument("mode", required=False, type=click.Choice(["single", "dual"]))
def mode_cmd(directory: str, mode: str | None) -> None:
    """Show the screening mode, or set it: single (one label per record, the latest wins) or dual
    (blinded dual screening: each reviewer's decisions are kept apart; `triage conflicts` lists
    disagreements, `triage resolve` settles them). Switching changes no label event."""
    with Project.open(directory, readonly=mode is None) as project:
        if mode is not None:
            project.set_mode(mode)
        now = project.mode()
    what = {"single": "single screening (one label per record; the latest label wins)",
            "dual": "dual screening, blinded (each reviewer's decisions are kept apart)"}[now]
    click.echo(("Saved: " if mode else "") + f"{directory} uses {what}.")


@cli.command("conflicts", short_help="Records where reviewers disagree (dual screening).")
@click.argument("directory", type=_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the conflicts as JSON.")
def conflicts_cmd(directory: str, as_json: bool) -> None:
    """Records where reviewers disagree and no resolution was given, with each reviewer's label,
    note and reason. Settle them with `triage resolve`."""
    from triage.team import conflicts, require_dual

    with Project.open(directory, readonly=True) as project:
        require_dual(project, "`triage conflicts`")
        rows = conflicts(project)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("No conflicts.")
        return
    for c in rows:
        click.echo(f"[{c['record_id']}] {c['title']}")
        for d in c["decisions"]:
            extra = "".join(f"; {k}: {d[k]}" for k in ("reason", "note") if d[k])
            click.echo(f"    {d['reviewer']}: {d['label']}{extra}")
    click.echo(f"{len(rows)} conflict{'s' if len(rows) != 1 else ''}. Settle one with "
               f"`triage resolve {directory} --record ID LABEL`, or many with a CSV (record_id,label).")


@cli.command("resolve", short_help="Settle disagreements: one record, or a CSV of record_id,label.")
@click.argument("directory", type=_DIR)
@click.argument("target", required=False)
@click.option("--record", "record_id", type=int, default=None,
              help="Resolve one record by id; TARGET is then the label (include/exclude/maybe).")
@click.option("--note", default="", help="With --record: a note stored with the resolution.")
@click.option("--reason", default="", help="With --record: the reason (e.g. an exclusion criterion).")
@click.option("--reviewer", default=None,
              help="Who resolves (default: $TRIAGE_REVIEWER, else the OS user name).")
def resolve_cmd(directory: str, target: str | None, record_id: int | None, note: str, reason: str,
                reviewer: str | None) -> None:
    """Record a resolution: `resolve DIR --record ID LABEL` or `resolve DIR FILE`.

    FILE is a CSV with columns record_id and label (optional note, reason). A resolution is its own
    label event: the reviewers' decisions stay as they were (for `triage agreement`), and the
    record's final label is the resolution."""
    from triage.store.labels_io import default_reviewer, read_label_file
    from triage.team import parse_resolution_label, resolve

    reviewer = reviewer or default_reviewer()
    if record_id is None:
        if target is None:
            raise TriageError("give a resolution CSV (record_id,label), or --record ID LABEL")
        if note or reason:
            raise TriageError("--note and --reason need --record ID (a resolution file has note/reason columns)")
        rows = [r for r in read_label_file(target) if r.label is not None]
        with Project.open(directory, readonly=True) as project:
            known = set(project.content_hashes())
        unknown = [r for r in rows if r.record_id not in known]
        if unknown:
            more = f" (and {len(unknown) - 1} more rows)" if len(unknown) > 1 else ""
            raise LabelError(f"{target}, line {unknown[0].line}: no record with id {unknown[0].record_id}{more}; "
                             "nothing was stored")
        items = [(r.record_id, r.label) for r in rows]
        notes, reasons = [r.note for r in rows], [r.reason for r in rows]
    else:
        if target is None:
            raise LabelError("give the label after --record ID (include, exclude or maybe)")
        label = parse_resolution_label(target)
        if label is None:
            raise LabelError("empty label (use include, exclude or maybe)")
        items, notes, reasons = [(record_id, label)], [note], [reason]
    if not items:
        raise LabelError(f"{target}: no row with a label; nothing was stored")
    with Project.open(directory) as project:
        done = resolve(project, items, reviewer, notes, reasons)
    if len(done) == 1:
        d = done[0]
        click.echo(f"Saved: record {d.record_id} resolved as {d.label} (was: {d.was or 'not screened'}).")
    else:
        n_conf = sum(1 for d in done if d.was == "conflict")
        click.echo(f"Saved {len(done)} resolutions from {target} ({n_conf} of them settled a conflict).")


@cli.command("agreement", short_help="Inter-rater agreement per reviewer pair: kappa, PABAK, 2x2 table.")
@click.argument("directory", type=_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the agreement as JSON.")
def agreement_cmd(directory: str, as_json: bool) -> None:
    """Agreement per reviewer pair on the records both screened: percent agreement, Cohen's kappa
    with a 95 % interval (large-sample SE of Fleiss, Cohen & Everitt 1969), PABAK, and the 2x2
    table. Include and maybe count together as include (relevant) against exclude."""
    from triage.team import agreement

    with Project.open(directory, readonly=True) as project:
        rows = agreement(project)
    if as_json:
        _echo_json({"classes": ["include or maybe", "exclude"],
                    "method": "Cohen's kappa; 95% interval = kappa +- 1.96 SE, large-sample SE of Fleiss, Cohen "
                              "& Everitt (1969); PABAK = 2 po - 1", "pairs": rows})
        return
    if not rows:
        click.echo("No two reviewers have screened the same record yet.")
        return

    def f(x, fmt="{:.3f}"):
        return "n/a" if x is None else fmt.format(x)

    for r in rows:
        a, b = r["reviewers"]
        t = r["table"]
        click.echo(f"{a} and {b}: {r['n']} records screened by both")
        click.echo(f"  agreement {f(r['percent_agreement'], '{:.1%}')}, Cohen's kappa {f(r['kappa'])} "
                   f"(95% CI {f(r['ci_low'])} to {f(r['ci_high'])}), PABAK {f(r['pabak'])}")
        click.echo(f"  {'':<22}{b + ': include/maybe':>24}{b + ': exclude':>18}")
        click.echo(f"  {a + ': include/maybe':<22}{t[0][0]:>24}{t[0][1]:>18}")
        click.echo(f"  {a + ': exclude':<22}{t[1][0]:>24}{t[1][1]:>18}")
    click.echo("Include and maybe count as include. Kappa's 95% interval: large-sample SE of Fleiss, Cohen & "
               "Everitt (1969); n/a when undefined (a reviewer used one class only).")


@cli.command("merge", short_help="Add a colleague's decisions from their copy of the project.")
@click.argument("directory", type=_DIR)
@click.argument("other", type=_DIR)
def merge_cmd(directory: str, other: str) -> None:
    """Add the label events of OTHER (a colleague's copy of this project, opened read-only) to the
    project in DIRECTORY. Records are matched by content, then DOI, then PMID; events keep their
    reviewer, time, note and reason. Nothing is overwritten, and merging again adds nothing.

    A colleague's label CSV with a `reviewer` column merges with `triage label DIR FILE`."""
    from triage.team import merge_project

    with Project.open(directory) as project:
        res = merge_project(project, other)
    who = ", ".join(res.reviewers) or "nobody"
    click.echo(f"Merged {res.added} label events from {other} (reviewers: {who}); {res.already} were already "
               f"here" + (f"; {res.unmatched_records} records of {other} match no record here (import the same "
                          f"search files first)" if res.unmatched_records else "") + ".")


@cli.command("reasons", short_help="Show or add the project's exclusion reasons.")
@click.argument("directory", type=_DIR)
@click.option("--add", "texts", multiple=True, help="Add this reason (repeat for several).")
@click.option("--from-criteria", is_flag=True,
              help="Add the bulleted lines under the 'Exclusion criteria' heading of the project's criteria "
                   "(every bulleted line when there is no such heading).")
@click.option("--json", "as_json", is_flag=True, help="Print the reasons as JSON.")
def reasons_cmd(directory: str, texts: tuple[str, ...], from_criteria: bool, as_json: bool) -> None:
    """The exclusion reasons `screen` offers with single keys (1-9) after `e`, and `prisma` counts.
    Label files and `label --reason` may also give reasons that are not on the list."""
    from triage.team import add_reasons, reasons, reasons_from_criteria

    write = bool(texts) or from_criteria
    with Project.open(directory, readonly=not write) as project:
        new = []
        if from_criteria:
            found = reasons_from_criteria(project.meta("criteria"))
            if not found:
                raise TriageError(f"the criteria of {directory} hold no bulleted or numbered lines to use as "
                                  f"reasons (see `triage question {directory}`); add reasons with --add TEXT")
            new += found
        new += list(texts)
        added = add_reasons(project, new) if write else []
        listed = reasons(project)
    if as_json:
        _echo_json(listed)
        return
    if write:
        click.echo(f"Saved: {len(added)} reason{'s' if len(added) != 1 else ''} added.")
    if not listed:
        click.echo(f"No exclusion reasons yet; add them with `triage reasons {directory} --add TEXT` or "
                   "--from-criteria.")
    for i, r in enumerate(listed, 1):
        click.echo(f"{i:>2}. {r}")


@cli.command("terms", short_help="Show or set the terms `screen` highlights (include green, exclude red).")
@click.argument("directory", type=_DIR)
@click.option("--include", "include", multiple=True,
              help="A word or phrase that suggests inclusion (repeat, or separate with commas); replaces the list.")
@click.option("--exclude", "exclude", multiple=True,
              help="A word or phrase that suggests exclusion (repeat, or separate with commas); replaces the list.")
@click.option("--clear", is_flag=True, help="Remove both lists.")
@click.option("--json", "as_json", is_flag=True, help="Print the lists as JSON.")
def terms_cmd(directory: str, include: tuple[str, ...], exclude: tuple[str, ...], clear: bool, as_json: bool) -> None:
    """The include and exclude terms `triage screen` highlights in titles, keywords and abstracts
    (case-insensitive; any part of a word matches)."""
    from triage.team import set_terms, terms

    def split(values):
        return [t.strip() for v in values for t in v.split(",") if t.strip()] if values else None

    write = bool(include or exclude or clear)
    with Project.open(directory, readonly=not write) as project:
        if clear:
            now = set_terms(project, [], [])
        elif write:
            now = set_terms(project, split(include), split(exclude))
        else:
            now = terms(project)
    if as_json:
        _echo_json(now)
        return
    if write:
        click.echo("Saved.")
    click.echo(f"Include terms: {', '.join(now['include']) or '(none)'}")
    click.echo(f"Exclude terms: {', '.join(now['exclude']) or '(none)'}")
