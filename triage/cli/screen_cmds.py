"""Screening rounds from the terminal: `triage rank`, `triage next`, `triage screen`."""

from __future__ import annotations

import sys
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
                "features": result.features, "combine": result.combine}
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
            refuse_unimported(project, out, reviewer)
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
_HELP = "[i]nclude  [e]xclude  [m]aybe  [s]kip  [n]ote  [u]ndo  [c]riteria  [q]uit"
_KEY_HELP = """Keys (one press each, no Enter):

\b
  i  include          e  exclude (then 1-9: an exclusion reason, 0: none)
  m  maybe            s  skip (comes back next session)
  n  note, then the label (i/e/m; a labelled record keeps its label)
  u  undo the last label (says which record and label it removed)
  c  show the review question and criteria
  q  quit (Ctrl-C too): every label is already saved"""


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
                rank(p, self.preset, progress=False)  # never write over the screening display
        except BaseException as e:  # reported to the reviewer by the UI thread
            self.error = e

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()


def _authors(authors: list, k: int = 3) -> str:
    return "; ".join(authors[:k]) + (" et al." if len(authors) > k else "")


def _show(console, project: Project, rid: int, score: float, screened: int, found: int, summary: str,
          terms: dict, message: str = "") -> None:
    """Draw one record with rich: progress, title, authors/year/journal/DOI/PMID, keywords, the
    abstract with include terms in green and exclude terms in red, the keys. Uses the whole
    terminal width."""
    from rich.rule import Rule
    from rich.text import Text

    r = project.records([rid])[0]
    console.clear()
    console.print(Text(f"Screened {screened} | found {found}" + (f" | {summary}" if summary else ""), style="cyan"))
    if message:
        console.print(Text(message, style="yellow"))
    console.print(Rule(style="dim"))

    def marked(text: str, style: str = "") -> Text:
        from triage.team import term_spans

        t = Text(style=style)
        for piece, kind in term_spans(text, terms):
            t.append(piece, {"include": "bold green", "exclude": "bold red"}.get(kind, ""))
        return t

    console.print(marked(r.title or "(no title)", "bold"))
    meta = " · ".join(str(x) for x in (_authors(r.authors), r.year, r.journal) if x)
    if meta:
        console.print(Text(meta, style="dim"))
    ids = " · ".join(x for x in (f"DOI {r.doi}" if r.doi else "", f"PMID {r.pmid}" if r.pmid else "",
                                 f"record {r.id}", f"score {score:.3g}" if score == score else "") if x)
    console.print(Text(ids, style="dim"))
    if r.keywords:
        console.print(marked("Keywords: " + "; ".join(r.keywords)))
    console.print()
    console.print(marked(r.abstract) if r.abstract else Text("(no abstract)", style="dim"))
    console.print(Rule(style="dim"))
    console.print(Text(_HELP, style="bold"))


class _Keys:
    """Key presses and typed lines. On a terminal: one key press (no Enter) and line input. Without
    one (keys piped in from a file or script) the input is read line by line: a key is the next
    non-blank character; a typed line (a note) is the rest of the key's line, or else the next
    line, so `printf 'n\\nmy note\\ni\\n'` and `printf 'nmy note\\ni'` both keep the note. At the
    end of the input the key is "q", so the session saves and ends."""

    def __init__(self) -> None:
        self.stdin = None
        self.rest = ""

    def _sync(self) -> None:
        if self.stdin is not sys.stdin:  # a new stdin (tests swap it): forget the old one's line
            self.stdin, self.rest = sys.stdin, ""

    def key(self) -> str:
        if sys.stdin.isatty():
            return click.getchar()
        self._sync()
        while True:
            stripped = self.rest.lstrip()
            if stripped:
                self.rest = stripped[1:]
                return stripped[0]
            self.rest = sys.stdin.readline()
            if self.rest == "":
                return "q"

    def line(self, prompt: str) -> str:
        if sys.stdin.isatty():
            return click.prompt(prompt, default="", show_default=False)
        self._sync()
        click.echo(f"{prompt}: ", nl=False)
        if self.rest.strip():
            text, self.rest = self.rest, ""
        else:
            text = sys.stdin.readline()
            self.rest = ""
        return text.strip()


_KEYBOARD = _Keys()


def _read_key() -> str:
    """One key press (see `_Keys`)."""
    return _KEYBOARD.key()


def _ask_label() -> str | None:
    """A label by one key (i/e/m) or a word (include, 1, y, ...); None for anything else."""
    from triage.history import parse_label

    click.echo("Label: [i]nclude  [e]xclude  [m]aybe")
    if sys.stdin.isatty():
        return _KEYS.get(_read_key().lower())
    text = _KEYBOARD.line("Label")
    if text.lower() in _KEYS:
        return _KEYS[text.lower()]
    try:
        return parse_label(text)
    except ValueError:
        return None


@cli.command(epilog=_KEY_HELP)
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--retrain-every", default=None, type=click.IntRange(min=1),
              help="Retrain (in the background) after this many labels (default: the preset's schedule, "
                   "as in simulation: a batch of 5 % of the labels so far, at least 1).")
@click.option("--preset", default=None, help="Model preset (default: the project's).")
@click.option("--reviewer", default=None,
              help="Name stored with each label (default: $TRIAGE_REVIEWER, else the OS user name).")
def screen(directory: str, retrain_every: int | None, preset: str | None, reviewer: str | None) -> None:
    """Interactive screening in the terminal. Every label is saved the moment you press a key.

    Terms set with `triage terms` are highlighted (include terms green, exclude terms red); the
    exclusion reasons of `triage reasons` are offered with keys 1-9 after `e`."""
    from rich.console import Console

    from triage.service import current_round, reviewer_progress, reviewer_queue, round_due, summary_line
    from triage.store.labels_io import default_reviewer
    from triage.team import reasons as project_reasons, terms as project_terms

    reviewer = reviewer or default_reviewer()
    ranker = _BackgroundRanker(directory, preset)
    console = Console(highlight=False)
    with Project.open(directory) as project:
        rnd = current_round(project, preset, batch_size=retrain_every)
        skipped: set[int] = set()
        undo_stack: list[int] = []
        show_first = None
        reason_list = project_reasons(project)[:9]
        terms = project_terms(project)
        message = ""
        try:
            while True:
                latest = project.latest_round()
                if latest is not None and latest.id != rnd.id:
                    rnd = latest  # a background round finished: switch to its ranking
                if ranker.error is not None:
                    raise ranker.error
                dual = project.mode() == "dual"
                labels = project.reviewer_labels(reviewer) if dual else project.current_labels()
                queue = [(i, sc) for i, sc in reviewer_queue(project, rnd, reviewer) if i not in skipped]
                queue.sort(key=lambda q: q[0] != show_first)  # an undone record is shown again first (stable)
                if not queue:
                    click.echo("No unscreened records left in this ranking.")
                    break
                rid, score = queue[0]
                screened, found = reviewer_progress(project, reviewer)
                _show(console, project, rid, score, screened, found, "" if dual else summary_line(project), terms,
                      message)
                message = ""
                key = _read_key().lower()
                try:
                    if key in _KEYS:
                        reason = _ask_reason(reason_list) if _KEYS[key] == "exclude" else ""
                        project.add_labels([(rid, _KEYS[key])], reviewer=reviewer, origin="ranked", round_id=rnd.id,
                                           reason=reason)
                        undo_stack.append(rid)
                        show_first = None
                    elif key == "s":
                        skipped.add(rid)
                    elif key == "n":
                        note = _KEYBOARD.line("Note")
                        label = labels.get(rid)
                        while label is None:
                            label = _ask_label()
                            if label is None:
                                click.echo("Press i, e or m (or type include, exclude or maybe).")
                        project.add_labels([(rid, label)], reviewer=reviewer, origin="ranked", round_id=rnd.id,
                                           note=note)
                        undo_stack.append(rid)
                        message = f"Saved: record {rid} -> {label} with the note."
                    elif key == "u":
                        if undo_stack:
                            last = undo_stack[-1]
                            was = (project.reviewer_labels(reviewer) if dual else project.current_labels()).get(last)
                            project.add_labels([(last, None)], reviewer=reviewer, origin="ranked", round_id=rnd.id)
                            undo_stack.pop()
                            skipped.discard(last)
                            show_first = last  # show it again first
                            if not any(i == last for i in rnd.record_ids.tolist()):
                                rnd = _put_first(rnd, last)
                            message = f"Undone: record {last} (was {was}); it is shown again."
                        else:
                            message = "Nothing to undo in this session."
                    elif key == "c":
                        _show_criteria(console, project)
                    elif key == "q":
                        break
                    elif key != "?":
                        message = f"Unknown key {key!r}: {_HELP}"
                except ProjectLockedError as e:  # keep the place: nothing changed, the same record is shown again
                    click.echo(f"Not saved: {e}. Press the key again to retry.", err=True)
                    continue
                if round_due(project, preset, retrain_every):
                    ranker.start()
        except (KeyboardInterrupt, EOFError):
            screened, found = reviewer_progress(project, reviewer)
            click.echo(f"\nInterrupted: every label you gave is saved. Screened {screened}, found {found}.")
            return
        ranker.wait()
        screened, found = reviewer_progress(project, reviewer)
        click.echo(f"Saved. Screened {screened}, found {found}.")
        line = summary_line(project) if project.mode() == "single" else ""
        if line:
            click.echo(line)


def _show_criteria(console, project: Project) -> None:
    """The review question and criteria, until a key is pressed."""
    from rich.panel import Panel

    question, criteria = project.meta("question").strip(), project.meta("criteria").strip()
    body = (f"Question: {question or '(none)'}\n\n" + (criteria or "(no criteria; set them with `triage question "
                                                                  "DIR --criteria FILE`)"))
    console.print(Panel(body, title="Review question and criteria"))
    click.echo("Press any key to go back to the record.")
    _read_key()


def _ask_reason(reasons: list[str]) -> str:
    """The exclusion reason chosen with one key (1-9; 0, Enter or any other key: none)."""
    if not reasons:
        return ""
    click.echo("Reason: " + "  ".join(f"[{i}] {r}" for i, r in enumerate(reasons, 1)) + "  [0] none")
    key = _read_key()
    return reasons[int(key) - 1] if key.isdigit() and 1 <= int(key) <= len(reasons) else ""


def _put_first(rnd, record_id: int):
    """A copy of the round whose ranking starts with `record_id` (to re-show an undone record)."""
    import dataclasses

    import numpy as np

    keep = rnd.record_ids != record_id
    score = rnd.scores[~keep][:1]
    return dataclasses.replace(rnd, record_ids=np.concatenate([[record_id], rnd.record_ids[keep]]),
                               scores=np.concatenate([score if len(score) else [np.nan], rnd.scores[keep]]))
