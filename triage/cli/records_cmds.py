"""Records and labels from the terminal: `triage status`, `label`, `export`, `prisma`, `duplicates`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from triage.cli.main import cli
from triage.errors import LabelError, TriageError
from triage.store.project import Project

_DIR = click.Path(file_okay=False)


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


@cli.command()
@click.argument("directory", type=_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as a JSON object.")
def status(directory: str, as_json: bool) -> None:
    """Counts of records, duplicates and labels in the project."""
    from triage.service import embedding_status

    with Project.open(directory, readonly=True) as project:
        counts = project.counts()
        sources = project.sources()
        embedding = embedding_status(project) if counts["records"] else None
    if as_json:
        _echo_json({**counts, "sources": sources, "embedding": embedding})
        return
    rows = [("Records identified", counts["identified"]), ("Duplicates merged", counts["duplicates"]),
            ("Records", counts["records"]), ("Labelled", counts["labelled"]), ("  included", counts["included"]),
            ("  excluded", counts["excluded"]), ("  maybe", counts["maybe"]), ("Unlabelled", counts["unlabelled"]),
            ("Rounds", counts["rounds"])]
    if counts.get("mode") == "dual":  # final labels above; the records still open between reviewers
        rows[3:3] = [("Screened (dual, blinded)", counts["labelled"]), ("  conflicts", counts["conflicts"]),
                     ("  awaiting 2nd reviewer", counts["awaiting_second"])]
        del rows[6]  # "Labelled" (the screened count above)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k:<{width}}  {v:>7}")
    if sources:
        click.echo("Sources:")
        for s in sources:
            click.echo(f"  {s['name']} ({s['format']}): {s['n_entries']} read, {s['n_new']} new, "
                       f"{s['n_duplicates']} duplicates")
    if embedding is not None:
        click.echo(f"Embeddings: {_embedding_line(embedding)}")


def _embedding_line(e: dict) -> str:
    share = f"{e['cached']:,} of {e['total']:,} records ({e['cached'] / max(e['total'], 1):.0%})"
    if e["state"] == "done":
        return f"complete ({e['total']:,} records); rounds use the full model."
    if e["running"]:
        return f"{share}, embedding in the background; rounds use TF-IDF until it finishes."
    if e["state"] == "failed":
        return f"{share}; the last pass failed ({e['error']}); run `triage embed DIR` to retry."
    return f"{share}; no pass running: `triage embed DIR` embeds the rest (rounds use TF-IDF until then)."


@cli.command()
@click.argument("directory", type=_DIR)
@click.argument("target", required=False)
@click.argument("extra", nargs=-1, required=False)
@click.option("--record", "record_id", default=None,
              help="Label one record by id (with --id-column: by DOI, PMID or the imported file's id); TARGET is "
                   "then the label (include/exclude/maybe, 1/0, y/n).")
@click.option("--id-column", default=None,
              help="How records are named (in FILE's column of this name, or by --record): doi, pmid, or a column/tag "
                   "of the imported files such as record_id, ID or AN (default: triage's record_id).")
@click.option("--undo", is_flag=True, help="With --record: remove the record's current label.")
@click.option("--note", default="", help="With --record: a free-text note stored with the label.")
@click.option("--reason", default="", help="With --record: the reason (e.g. an exclusion criterion).")
@click.option("--reviewer", default=None, help="Reviewer name (default: $TRIAGE_REVIEWER, else the OS user name).")
def label(directory: str, target: str | None, extra: tuple[str, ...], record_id: str | None, id_column: str | None,
          undo: bool, note: str, reason: str, reviewer: str | None) -> None:
    """Store labels: `label DIR --record ID LABEL`, `label DIR --record ID --undo`, or `label DIR FILE`.

    FILE is a CSV (comma, semicolon or tab separated) with columns record_id and label (optional
    note, reason, round), e.g. the output of `triage next` with the label column filled in. An empty
    label means not screened yet. The file is checked first (every bad row is listed) and stored in
    one transaction: one bad row and nothing is stored."""
    from triage.store.labels_io import apply_label_file, default_reviewer, parse_label_value

    reviewer = reviewer or default_reviewer()
    if extra:
        if record_id is None and target is not None and len(extra) == 1:
            raise TriageError(f"to label one record give --record: `triage label {directory} --record {target} "
                              f"{extra[0]}`")
        raise TriageError(f"unexpected extra argument {extra[0]!r}; see `triage label --help`")
    if record_id is None:
        if undo or note or reason:
            raise TriageError("--undo, --note and --reason need --record ID (a batch file has note/reason columns)")
        if target is None:
            raise TriageError("give a label file, or --record ID LABEL")
        from triage.service import summary_line

        with Project.open(directory) as project:
            res = apply_label_file(project, target, reviewer, id_column)
            skipped = f"{res.skipped_empty} empty row{'s' if res.skipped_empty != 1 else ''} skipped"
            changed = f"{res.changed} changed from {'its' if res.changed == 1 else 'their'} previous label"
            click.echo(f"Saved {res.stored} label{'s' if res.stored != 1 else ''} from {target} ({skipped}, {changed}).")
            line = summary_line(project)
        if line:
            click.echo(line)
        return
    if undo == (target is not None):
        raise TriageError("with --record give either a label or --undo")
    try:
        value = None if undo else parse_label_value(target)
    except ValueError as e:
        raise LabelError(str(e)) from None
    if not undo and value is None:
        raise LabelError("empty label (use include, exclude or maybe, or --undo)")
    from triage.service import label_record

    with Project.open(directory) as project:
        done = label_record(project, record_id, value, reviewer, note, reason, id_column)
    record_id, rep, before, dual = done.record_id, done.stored_on, done.before, done.dual
    where = f"record {record_id}" + (f" (stored on its group's record {rep})" if rep != record_id else "")
    if undo:
        whose = f"{reviewer}'s " if dual else ""
        click.echo(f"Saved: {where} {whose}label removed (was {before}).")
    else:
        was = f" (was {before})" if before and before != value else (" (unchanged)" if before == value else "")
        if dual:
            was = f" as {reviewer}'s decision" + (f" (your earlier label: {before})" if before and before != value
                                                 else " (unchanged)" if before == value else "")
        click.echo(f"Saved: {where} -> {value}{was}.")


@cli.command()
@click.argument("directory", type=_DIR)
@click.option("--which", type=click.Choice(["included", "excluded", "maybe", "unlabelled", "all"]), default="all",
              show_default=True, help="Records to export by current label (--what records).")
@click.option("--what", type=click.Choice(["records", "decisions"]), default="records", show_default=True,
              help="records: one row per de-duplicated record with its label; decisions: the audit trail, every "
                   "label event (reviewer, time, round, origin, label, note, reason) and every resolution.")
@click.option("--format", "fmt", type=click.Choice(["ris", "csv", "json"]), default=None,
              help="records: ris (default) or csv; decisions: csv (default) or json.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Output file (default: stdout).")
@click.option("--json", "as_json", is_flag=True, help="With --what decisions: JSON (same as --format json).")
@click.option("--reviewer", default=None,
              help="Dual screening: export only this reviewer's own decisions (default: the final labels, "
                   "resolved or agreed).")
def export(directory: str, which: str, what: str, fmt: str | None, as_json: bool, out: str | None,
           reviewer: str | None) -> None:
    """Export de-duplicated records with their labels (RIS or CSV), or the decisions (audit trail)."""
    from triage.io.output import refuse_protected, write_output
    from triage.service import export_text
    from triage.store.labels_io import refuse_unimported

    if as_json:
        fmt = fmt or "json"
    if out:
        refuse_protected(out, directory)
    with Project.open(directory, readonly=True) as project:
        if out:
            refuse_unimported(project, out)
        text, fmt, n = export_text(project, which, what, fmt, reviewer)
    if out:
        write_output(out, text, project_dir=directory)
        click.echo(f"Wrote {n} records to {out}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command(short_help="PRISMA 2020 flow counts, or the flow diagram (--format svg|png).")
@click.argument("directory", type=_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as a JSON object.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "svg", "png"]), default="text",
              show_default=True,
              help="text or json counts, or the PRISMA 2020 flow diagram as svg or png (needs --out); "
                   "--format json is the same as --json.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write to this file (the diagram's format follows --format, else the file's extension).")
def prisma(directory: str, as_json: bool, fmt: str, out: str | None) -> None:
    """PRISMA 2020 flow: identified per source, duplicates removed, screened, excluded (with
    reasons), included. In dual screening, final decisions only (resolved or agreed)."""
    from triage.team import prisma_counts

    if out and fmt == "text" and not as_json and Path(out).suffix.lower() in (".svg", ".png", ".json"):
        fmt = Path(out).suffix.lower()[1:]
    if fmt in ("svg", "png") and not out:
        raise TriageError(f"--format {fmt} draws the diagram into a file: give --out FILE.{fmt}")
    if out:
        from triage.io.output import refuse_protected

        refuse_protected(out, directory)
    with Project.open(directory, readonly=True) as project:
        p = prisma_counts(project)
    if fmt in ("svg", "png"):
        from triage.io.output import write_output
        from triage.report.prisma import draw_prisma

        write_output(out, lambda tmp: draw_prisma(p, tmp, fmt), project_dir=directory)
        click.echo(f"Wrote the PRISMA 2020 flow diagram to {out}", err=True)
        return
    if as_json or fmt == "json":
        text = json.dumps(p, indent=2, ensure_ascii=False) + "\n"
    else:
        lines = ["Identification"] + [f"  {s['source']}: {s['records']}" for s in p["identified_by_source"]]
        lines += [f"  Records identified: {p['identified']}", f"  Duplicates removed: {p['duplicates_removed']}",
                  "Screening (title/abstract)",
                  f"  Records screened: {p['screened']} of {p['records_after_deduplication']}",
                  f"  Included: {p['included']}", f"  Excluded: {p['excluded']}"]
        lines += [f"    {r}: {n}" for r, n in p["excluded_by_reason"].items()]
        lines += [f"  Maybe: {p['maybe']}"]
        if "conflicts" in p:
            lines += [f"  Reviewers disagree (not resolved): {p['conflicts']}",
                      f"  Awaiting the second reviewer: {p['awaiting_second']}"]
        lines += [f"  Not yet screened: {p['not_screened']}"]
        text = "\n".join(lines) + "\n"
    if out:
        from triage.io.output import write_output

        write_output(out, text, project_dir=directory)
        click.echo(f"Wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("directory", type=_DIR)
@click.option("--split", "split_id", type=int, default=None,
              help="Undo a merge: record ID becomes its own record and is never merged again.")
@click.option("--merge", "merge_ids", type=int, nargs=2, default=None, metavar="KEEP OTHER",
              help="Merge by hand: record OTHER (with its group) becomes a duplicate of record KEEP; undo with "
                   "--split OTHER.")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
def duplicates(directory: str, split_id: int | None, merge_ids: tuple[int, int] | None, as_json: bool) -> None:
    """List duplicate groups (each member with its source file, position and matching key)."""
    if split_id is not None and merge_ids:
        raise TriageError("give --split or --merge, not both")
    with Project.open(directory, readonly=split_id is None and not merge_ids) as project:
        if merge_ids:
            rep = project.merge_records(*merge_ids)
            click.echo(f"Saved: record {merge_ids[1]} merged into record {rep}'s group (undo with "
                       f"`triage duplicates {directory} --split {merge_ids[1]}`).")
            return
        if split_id is not None:
            project.split_duplicate(split_id)
            click.echo(f"Saved: record {split_id} split from its group; it will not be merged again.")
            return
        groups = [project.group_members(rep) for rep, _ in project.duplicate_groups()]
    if as_json:
        _echo_json([{"representative": g[0]["id"], "title": g[0]["title"],
                     "members": [{"id": m["id"], "title": m["title"], "match_key": m["match_key"],
                                  "sources": [{"file": f, "position": pos, "line": line}
                                              for f, pos, line in m["sources"]]} for m in g]} for g in groups])
        return
    if not groups:
        click.echo("No duplicate groups.")
        return
    for g in groups:
        click.echo(f"[{g[0]['id']}] {g[0]['title']}")
        for m in g:
            key = "kept" if m["match_key"] is None else f"matched on {m['match_key']}"
            where = ", ".join(f"{f} #{pos}" + (f" (line {line})" if line else "") for f, pos, line in m["sources"])
            click.echo(f"    {m['id']:>6}  {key:<16} {where}")
    click.echo(f"{len(groups)} groups, {sum(len(g) - 1 for g in groups)} duplicates merged. "
               "Undo a merge with --split ID.")
