"""Screening rounds from the terminal: `triage rank`, `triage next`, `triage screen`."""

from __future__ import annotations

import shutil
import sys
import textwrap
import threading

import click

from triage.cli.main import cli
from triage.errors import ProjectLockedError
from triage.store.project import Project


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--preset", default=None, help="Model preset (default: the project's, see `triage presets`).")
@click.option("--json", "as_json", is_flag=True, help="Print the round as JSON.")
def rank(directory: str, preset: str | None, as_json: bool) -> None:
    """Retrain on the current labels and rerank the unscreened pool."""
    from triage.service import rank as rank_now, summary_line

    with Project.open(directory) as project:
        rnd, result = rank_now(project, preset)
        info = {"round": rnd.id, "preset": rnd.preset, "model": result.model, "n_train": rnd.n_train,
                "included": rnd.n_included, "excluded": rnd.n_excluded, "pool": len(rnd.record_ids),
                "seconds": round(rnd.seconds, 3), "question_record": bool(rnd.params.get("question_record")),
                "features": result.features}
        if as_json:
            import json

            click.echo(json.dumps(info))
        else:
            how = {"classifier": "trained on", "cold": "ranked by similarity to the question; labelled",
                   "random": "random order (no question or labels yet); labelled"}[result.model]
            also = " and the review question" if result.model == "classifier" and info["question_record"] else ""
            click.echo(f"Round {rnd.id} ({rnd.preset}): {how} {rnd.n_train} records "
                       f"({rnd.n_included} relevant){also}; {len(rnd.record_ids)} in the pool.")
            if result.features == "tfidf":
                click.echo("Ranked with the preset's TF-IDF part: the embedding pass is still running "
                           "(`triage status`); the first round after it uses the full model.")
            line = summary_line(project)
            if line:
                click.echo(line)


@cli.command("next", short_help="The next N records to screen, as a CSV batch to fill in and `label`.")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("-n", "--number", "n", default=20, show_default=True, type=click.IntRange(min=1), help="Records in the batch.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="CSV file (default: stdout).")
@click.option("--preset", default=None, help="Model preset (default: the project's).")
@click.option("--reviewer", default=None,
              help="Whose batch (dual screening: records you have not screened yet; default: "
                   "$TRIAGE_REVIEWER, else the OS user name).")
def next_batch(directory: str, n: int, out: str | None, preset: str | None, reviewer: str | None) -> None:
    """The next N records to screen as CSV: record_id,title,abstract,score,label,round, then doi,
    pmid,year,authors and source_ids (the imported files' own ids, to check against the reference manager).

    Fill the label column (include / exclude / maybe, or 1 / 0, y / n; empty = not screened yet)
    and read it back with `triage label DIR FILE`. Retrains first if labels changed."""
    from triage.io.output import refuse_protected, write_output
    from triage.io.writers import table_text
    from triage.service import next_batch_for
    from triage.store.labels_io import default_reviewer, refuse_unimported

    reviewer = reviewer or default_reviewer()
    with Project.open(directory) as project:
        if out:  # before ranking: never overwrite the project or a batch with labels not imported
            refuse_protected(out, directory)
            refuse_unimported(project, out)
        batch = next_batch_for(project, n, reviewer, preset)
        rnd, scores = batch.round, batch.scores
        records = project.records(batch.record_ids)
        from triage.store.labels_io import source_ids

        own_ids = source_ids(project)
    text = table_text(["record_id", "title", "abstract", "score", "label", "round", "doi", "pmid", "year", "authors",
                       "source_ids"],
                      ([r.id, r.title, r.abstract, float(f"{s:.6g}"), "", rnd.id, r.doi, r.pmid, r.year,
                        "; ".join(r.authors), own_ids.get(r.id, "")] for r, s in zip(records, scores)))
    if out:
        write_output(out, text, project_dir=directory)
        click.echo(f"Wrote {len(records)} records (round {rnd.id}) to {out}", err=True)
    else:
        click.echo(text, nl=False)


_KEYS = {"i": "include", "e": "exclude", "m": "maybe"}
_HELP = "[i]nclude  [e]xclude  [m]aybe  [s]kip  [n]ote  [u]ndo  [q]uit"


class _BackgroundRanker:
    """Retrains in a thread (with its own database connection) while the reviewer goes on
    screening from the previous ranking."""

    def __init__(self, directory: str, preset: str | None):
        self.directory, self.preset = directory, preset
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from triage.service import rank

        try:
            with Project.open(self.directory) as p:
                rank(p, self.preset)
        except BaseException as e:  # reported to the reviewer by the UI thread
            self.error = e

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()


def _show(project: Project, rid: int, score: float, screened: int, found: int, summary: str) -> None:
    r = project.records([rid])[0]
    width = max(40, shutil.get_terminal_size((100, 24)).columns)
    click.clear()
    click.secho(f"Screened {screened} | found {found}" + (f" | {summary}" if summary else ""), fg="cyan")
    click.echo("-" * width)
    click.secho(textwrap.fill(r.title or "(no title)", width), bold=True)
    meta = " · ".join(str(x) for x in (r.year, r.journal, f"record {r.id}", f"score {score:.3g}") if x)
    click.secho(meta, dim=True)
    if r.keywords:
        click.echo("Keywords: " + "; ".join(r.keywords))
    click.echo()
    click.echo(textwrap.fill(r.abstract, width) if r.abstract else "(no abstract)")
    click.echo("-" * width)
    click.echo(_HELP)


def _read_key() -> str:
    """One key press. Without a terminal (keys piped in from a file or script): the next
    non-blank character of stdin, and "q" at its end, so the session saves and ends."""
    if sys.stdin.isatty():
        return click.getchar()
    while True:
        ch = sys.stdin.read(1)
        if ch == "":
            return "q"
        if not ch.isspace():
            return ch


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--retrain-every", default=None, type=click.IntRange(min=1),
              help="Retrain (in the background) after this many labels (default: the preset's schedule, "
                   "as in simulation: a batch of 5 % of the labels so far, at least 1).")
@click.option("--preset", default=None, help="Model preset (default: the project's).")
@click.option("--reviewer", default=None,
              help="Name stored with each label (default: $TRIAGE_REVIEWER, else the OS user name).")
def screen(directory: str, retrain_every: int | None, preset: str | None, reviewer: str | None) -> None:
    """Interactive screening in the terminal. Every label is saved the moment you press a key."""
    from triage.service import current_round, reviewer_queue, round_due, summary_line
    from triage.store.labels_io import default_reviewer

    reviewer = reviewer or default_reviewer()
    ranker = _BackgroundRanker(directory, preset)
    with Project.open(directory) as project:
        rnd = current_round(project, preset, batch_size=retrain_every)
        skipped: set[int] = set()
        undo_stack: list[int] = []
        show_first = None
        from triage.team import reasons as project_reasons

        reason_list = project_reasons(project)[:9]
        while True:
            latest = project.latest_round()
            if latest is not None and latest.id != rnd.id:
                rnd = latest  # a background round finished: switch to its ranking
            if ranker.error is not None:
                raise ranker.error
            labels = project.current_labels() if project.mode() == "single" else project.reviewer_labels(reviewer)
            queue = [(i, s) for i, s in reviewer_queue(project, rnd, reviewer) if i not in skipped]
            queue.sort(key=lambda q: q[0] != show_first)  # an undone record is shown again first (stable)
            if not queue:
                click.echo("No unscreened records left in this ranking.")
                break
            rid, score = queue[0]
            screened, found = _progress(project, reviewer)
            _show(project, rid, score, screened, found, summary_line(project) if project.mode() == "single" else "")
            key = _read_key().lower()
            try:
                if key in _KEYS:
                    reason = _ask_reason(reason_list) if _KEYS[key] == "exclude" else ""
                    project.add_labels([(rid, _KEYS[key])], reviewer=reviewer, origin="ranked", round_id=rnd.id,
                                       reason=reason)
                    undo_stack.append(rid)
                elif key == "s":
                    skipped.add(rid)
                elif key == "n":
                    note = click.prompt("Note", default="", show_default=False)
                    current = labels.get(rid)
                    if current is None:
                        label = click.prompt("Label", type=click.Choice(list(_KEYS.values())))
                    else:
                        label = current
                    project.add_labels([(rid, label)], reviewer=reviewer, origin="ranked", round_id=rnd.id,
                                       note=note)
                    undo_stack.append(rid)
                elif key == "u":
                    if undo_stack:
                        project.add_labels([(undo_stack[-1], None)], reviewer=reviewer, origin="ranked",
                                           round_id=rnd.id)
                        last = undo_stack.pop()
                        skipped.discard(last)
                        show_first = last  # show it again first
                        if not any(i == last for i in rnd.record_ids.tolist()):
                            rnd = _put_first(rnd, last)
                elif key == "q":
                    break
            except ProjectLockedError as e:  # keep the place: nothing changed, the same record is shown again
                click.echo(f"Not saved: {e}. Press the key again to retry.", err=True)
                continue
            if round_due(project, preset, retrain_every):
                ranker.start()
        ranker.wait()
        screened, found = _progress(project, reviewer)
        click.echo(f"Saved. Screened {screened}, found {found}.")
        line = summary_line(project)
        if line:
            click.echo(line)


def _ask_reason(reasons: list[str]) -> str:
    """The exclusion reason chosen with one key (1-9; 0, Enter or any other key: none)."""
    if not reasons:
        return ""
    click.echo("Reason: " + "  ".join(f"[{i}] {r}" for i, r in enumerate(reasons, 1)) + "  [0] none")
    key = _read_key()
    return reasons[int(key) - 1] if key.isdigit() and 1 <= int(key) <= len(reasons) else ""


def _progress(project: Project, reviewer: str) -> tuple[int, int]:
    """(records screened, relevant found): the project's in single mode; in dual mode the
    reviewer's own (blinded: a colleague's decisions are not shown)."""
    if project.mode() == "single":
        counts = project.counts()
        return counts["labelled"], counts["included"] + counts["maybe"]
    own = project.reviewer_labels(reviewer)
    return len(own), sum(1 for v in own.values() if v != "exclude")


def _put_first(rnd, record_id: int):
    """A copy of the round whose ranking starts with `record_id` (to re-show an undone record)."""
    import dataclasses

    import numpy as np

    keep = rnd.record_ids != record_id
    score = rnd.scores[~keep][:1]
    return dataclasses.replace(rnd, record_ids=np.concatenate([[record_id], rnd.record_ids[keep]]),
                               scores=np.concatenate([score if len(score) else [np.nan], rnd.scores[keep]]))
