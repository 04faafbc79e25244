"""The service layer: what a reviewer can do with a project, as functions of an open `Project`.

The CLI (and any other front end) parses its arguments, opens the project, calls ONE function
here and renders the result. Screening goes through `triage.engine` (the same engine simulation
drives): `project_corpus` is the project's provider of a `Corpus`; rounds follow the preset's
retrain schedule (`retrain_due`) unless the reviewer forces one (`rank`).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from triage import __version__
from triage.engine import Corpus, Engine, retrain_due
from triage.errors import LabelError, ProjectError, TriageError
from triage.features.text import record_text
from triage.history import History
from triage.learn.presets import DEFAULT_PRESET, Preset, load_preset
from triage.learn.round import RoundResult
from triage.store.project import NewRound, Project, RoundRow

#: Packages whose versions decide a ranking; recorded with every round (read from the installed
#: metadata, so recording them imports nothing heavy).
_VERSIONED = ("numpy", "scipy", "scikit-learn", "torch", "sentence-transformers", "model2vec", "onnxruntime")


#: From this many records, `rank` (and so `next`) reports its feature and ranking steps on stderr.
PROGRESS_RECORDS = 5000


def library_versions() -> dict:
    """{package: version} for triage, Python and every installed package of _VERSIONED."""
    out = {"triage": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def project_preset(project: Project, name: str | None = None) -> Preset:
    """The named preset, else the project's (set at init), else the default."""
    return load_preset(name or project.meta("preset") or DEFAULT_PRESET)


def project_question(project: Project) -> str:
    """The review question and eligibility criteria, as one text ("" if neither is set)."""
    return "\n".join(t for t in (project.meta("question"), project.meta("criteria")) if t and t.strip())


def project_corpus(project: Project) -> Corpus:
    """The project's records (group representatives, id order) as the engine's Corpus."""
    rows = project.text_fields()
    return Corpus(np.array([r[0] for r in rows], dtype=np.int64),
                  [record_text(title, abstract, keywords) for _, title, abstract, keywords in rows],
                  project_question(project))


def project_engine(project: Project, preset_name: str | None = None, progress=None, embedder=None) -> Engine:
    """An engine over the project's corpus; features cached in the project's cache/ folder.

    Screening never waits for the embedding pass: while any record lacks its embedding, rounds
    use the preset's TF-IDF part and the pass is (re)started in the background. With an
    `embedder` given (tests) missing embeddings are computed in the round instead."""
    engine = Engine(project_corpus(project), project_preset(project, preset_name), project.directory / "cache",
                    embedder, progress)
    if engine.uses_embeddings and embedder is None:
        pending = _pending_and_pass(project, engine)[0]
        engine.embeddings_ready = lambda history: not pending
    return engine


def embeddings_pending(project: Project, engine: Engine) -> int:
    """Records of the corpus whose embedding is not cached yet for the preset's model (0 when the
    preset has no embedding block)."""
    from triage.features.cache import EmbeddingCache

    if not engine.uses_embeddings:
        return 0
    return EmbeddingCache(project.directory / "cache" / "embeddings").n_missing(
        engine.embedder_id, list(engine.corpus.texts))


def _pending_and_pass(project: Project, engine: Engine) -> tuple[int, bool]:
    """(embeddings pending, whether a background pass was started for them): a pass starts
    whenever any are pending and none runs (`background.start` keeps it to one per project)."""
    from triage.features import background

    pending = embeddings_pending(project, engine)
    return pending, bool(pending) and background.start(project.directory)


def embedding_status(project: Project) -> dict | None:
    """The embedding pass as `triage status` shows it: {"model_id", "total", "cached", "pending",
    "running", "state", "updated_at"}; None when the project's preset has no embedding block."""
    from triage.features import background

    engine = Engine(project_corpus(project), project_preset(project), project.directory / "cache")
    if not engine.uses_embeddings:
        return None
    pending = embeddings_pending(project, engine)
    total = len(set(engine.corpus.texts))
    last = background.read_status(project.directory / "cache") or {}
    running = background.is_running(project.directory / "cache")
    return {"model_id": engine.embedder_id, "total": total, "cached": total - pending, "pending": pending,
            "running": running, "state": "done" if not pending else ("running" if running else last.get("state", "not started")),
            "updated_at": last.get("updated_at"), "error": last.get("error", "")}


def project_history(project: Project, corpus: Corpus) -> History:
    """The project's history with record ids replaced by corpus rows (the engine's ids)."""
    h = project.history()
    return History(corpus.rows(h.record_ids), h.labels, h.origins, h.rounds, len(corpus))


def after_import(project: Project) -> bool:
    """Start the embedding pass in the background when the preset needs one and records lack
    embeddings; returns whether a pass was started."""
    engine = Engine(project_corpus(project), project_preset(project), project.directory / "cache")
    return _pending_and_pass(project, engine)[1]


def _require_records(project: Project) -> None:
    if project.counts()["records"] == 0:
        raise ProjectError(f"{project.directory} has no records yet: import your search exports first "
                           f"(triage import {project.directory} FILE...)")


def rank(project: Project, preset_name: str | None = None, progress=None, embedder=None) -> tuple[RoundRow, RoundResult]:
    """Retrain and rerank the pool now; store the round (preset, parameters, seed, library
    versions, embedder id, training-set size and the full ranking). Round r of a project uses
    round_rng(project seed, r), as simulation does."""
    from triage.features.tfidf import prune_cache

    from triage.progress import step

    _require_records(project)
    engine = project_engine(project, preset_name, progress, embedder)
    last_event = project.last_event_id()
    history = project_history(project, engine.corpus)
    round_index = len(project.rounds())
    part = engine.part_for(history)
    # Long steps say so on stderr (a line before and after), so a reviewer running `next` from a
    # script sees it is alive; small projects take well under a second and stay quiet.
    loud = progress is not False and len(engine.corpus) >= PROGRESS_RECORDS
    with step(f"features of {len(engine.corpus):,} records ({engine.preset.name}, {part})", enabled=loud):
        engine.features(part)
    with step(f"training on {len(history):,} labels and ranking {history.n_pool:,} records", enabled=loud):
        result = engine.run_round(history, project.seed, round_index)
    prune_cache(project.directory / "cache", keep=2)  # older corpora (before an import or question edit)
    X, question_row = engine.features(result.features)
    params = engine.preset.params() | {
        "model": result.model, "probabilities": result.probabilities is not None,
        "question_record": question_row is not None, "question": engine.corpus.question,
        "embedder": engine.embedder_id if result.features == "full" else None, "features": result.features,
        "combine": result.combine}
    ids = engine.corpus.ids
    project.add_round(NewRound(
        preset=engine.preset.name, params=params, seed=project.seed, versions=library_versions(),
        last_event_id=last_event, n_train=result.n_train, n_included=int(history.labels.sum()),
        n_excluded=int(len(history) - history.labels.sum()), record_ids=ids[result.ranking],
        scores=result.scores[result.ranking], seconds=result.seconds))
    return project.latest_round(), result


def round_due(project: Project, preset_name: str | None = None, batch_size: int | None = None) -> bool:
    """Whether the next screening step needs a new round: none yet, another preset asked for,
    the question or the records changed since, or the retrain schedule says so (the preset's
    growing batch, or `batch_size` labels since the last round when the reviewer overrides it)."""
    latest = project.latest_round()
    if latest is None:
        return True
    preset = project_preset(project, preset_name)
    if latest.preset != preset.name or latest.params.get("question", "") != project_question(project):
        return True
    n_labelled = len(project.history())
    if len(latest.record_ids) + latest.n_train != project.counts()["records"]:
        return True  # records imported (or merges split) since the round
    if latest.params.get("features") == "tfidf":
        engine = Engine(project_corpus(project), preset, project.directory / "cache")
        if embeddings_pending(project, engine) == 0:
            return True  # the embedding pass finished: the next round uses the full preset
    return retrain_due(n_labelled, latest.n_train, preset, batch_size)


def current_round(project: Project, preset_name: str | None = None, progress=None, embedder=None,
                  batch_size: int | None = None) -> RoundRow:
    """The latest round, or a new one when `round_due`."""
    _require_records(project)
    if round_due(project, preset_name, batch_size):
        return rank(project, preset_name, progress, embedder)[0]
    return project.latest_round()


@dataclass(frozen=True)
class Batch:
    """The next records to screen: the round that ranked them, their ids and scores (rank order)."""

    round: RoundRow
    record_ids: np.ndarray
    scores: np.ndarray


def next_batch(project: Project, n: int, preset_name: str | None = None, progress=None, embedder=None) -> Batch:
    """The next n unlabelled records in ranked order (retraining first when a round is due)."""
    rnd = current_round(project, preset_name, progress, embedder)
    labelled = set(project.current_labels())
    keep = np.array([i not in labelled for i in rnd.record_ids.tolist()], dtype=bool)
    return Batch(rnd, rnd.record_ids[keep][:n], rnd.scores[keep][:n])


def next_batch_for(project: Project, n: int, reviewer: str, preset_name: str | None = None, progress=None,
                   embedder=None) -> Batch:
    """The next n records for `reviewer` in ranked order. Single mode: as `next_batch`. Dual
    (blinded) mode: every record except those this reviewer decided and those already settled
    (resolved, or imported with a label) - a colleague's decisions are neither shown nor used to
    hide a record. The ranking itself is trained on the project's ranking labels
    (triage.store.decisions)."""
    if project.mode() == "single":
        return next_batch(project, n, preset_name, progress, embedder)
    rnd = current_round(project, preset_name, progress, embedder)
    keep = reviewer_queue(project, rnd, reviewer)[:n]
    return Batch(rnd, np.array([i for i, _ in keep], dtype=np.int64), np.array([s for _, s in keep], dtype=float))


def reviewer_queue(project: Project, rnd: RoundRow, reviewer: str) -> list[tuple[int, float]]:
    """[(record id, score)] still to screen for `reviewer`, in the order to screen them.

    Single mode: the round's pool minus every labelled record. Dual mode: a round ranks only its
    pool, so records a colleague has labelled come first, in the order they were labelled (the
    rankings of their time put them at the top) with the score of the last round that ranked
    them; then the round's pool in ranked order; minus `project.done_for(reviewer)`."""
    done = project.done_for(reviewer)
    pool = list(zip(rnd.record_ids.tolist(), rnd.scores.tolist()))
    if project.mode() == "single":
        return [(i, s) for i, s in pool if i not in done]
    last_score: dict[int, float] = {}
    for r in project.rounds():
        last_score.update(zip(r.record_ids.tolist(), r.scores.tolist()))
    in_pool = {i for i, _ in pool}
    earlier = [(i, last_score.get(i, float("nan"))) for i in project.history().record_ids.tolist()
               if i not in in_pool]
    return [(i, s) for i, s in earlier + pool if i not in done]


def reviewer_progress(project: Project, reviewer: str) -> tuple[int, int]:
    """(records screened, relevant found) as a screening front end shows them: the project's in
    single mode; in dual mode the reviewer's own (blinded: a colleague's decisions are not shown)."""
    return reviewer_view(project, reviewer)[1:]


def reviewer_view(project: Project, reviewer: str) -> tuple[set[int], int, int]:
    """(`Project.done_for(reviewer)`, records screened, relevant found): what a screening front
    end needs after each label. Single mode reads the labels once (every labelled record is done
    for everyone, and the counts are `Project.counts()`'s)."""
    if project.mode() == "single":
        labels = project.current_labels()
        return set(labels), len(labels), sum(1 for v in labels.values() if v != "exclude")
    own = project.reviewer_labels(reviewer)
    return project.done_for(reviewer), len(own), sum(1 for v in own.values() if v != "exclude")


def project_pool(project: Project, history: History | None = None) -> np.ndarray:
    """Ids of the unlabelled records (group representatives), ascending: the pool."""
    labelled = set((history or project.history()).record_ids.tolist())
    return np.array([i for i in project.record_ids().tolist() if i not in labelled], dtype=np.int64)


# -- labels ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordLabel:
    """What `label_record` stored: the record named, the group record it was stored on, the
    label it had before (the reviewer's own in dual mode) and whether the project is dual."""

    record_id: int
    stored_on: int
    before: str | None
    dual: bool


def label_record(project: Project, name: str, value: str | None, reviewer: str, note: str = "",
                 reason: str = "", id_column: str | None = None) -> RecordLabel:
    """Label (or, value None, undo the label of) one record named by triage's id, or with
    `id_column` by DOI / PMID / the imported file's own id. The reviewer chose this record, not
    the ranking: origin 'prior' (a later correction of a ranked label keeps the ranked origin in
    the history, which uses the first event)."""
    record_id = _record_by_name(project, name, id_column)
    rep = dict((d, r) for r, ds in project.duplicate_groups() for d in ds).get(record_id, record_id)
    dual = project.mode() == "dual"
    before = (project.reviewer_labels(reviewer) if dual else project.current_labels()).get(rep)
    if value is None and before is None:
        raise LabelError(f"record {record_id} has no label to undo")
    project.add_labels([(record_id, value)], reviewer=reviewer, origin="prior", note=note, reason=reason)
    return RecordLabel(record_id, rep, before, dual)


def _record_by_name(project: Project, name: str, id_column: str | None) -> int:
    """Triage's record id of `--record NAME` (an id number, or with --id-column a DOI/PMID/file id)."""
    if not id_column:
        try:
            return int(name)
        except ValueError:
            raise LabelError(f"--record {name!r}: triage's record ids are whole numbers; to name a record by its "
                             "DOI, PMID or the imported file's own id add --id-column doi|pmid|NAME") from None
    from triage.io.dedup import normalise_doi
    from triage.store.labels_io import record_lookup

    key = normalise_doi(name) if id_column.strip().lower() == "doi" else name.strip()
    hits = record_lookup(project, id_column).get(key, set())
    if len(hits) != 1:
        raise LabelError(f"no record with {id_column} {name!r}" if not hits else
                         f"{id_column} {name!r} names {len(hits)} records ({', '.join(map(str, sorted(hits)))}); "
                         "give triage's record id with --record")
    return next(iter(hits))



# -- exports -------------------------------------------------------------------------------------
def export_text(project: Project, which: str = "all", what: str = "records", fmt: str | None = None,
                reviewer: str | None = None) -> tuple[str, str, int]:
    """(text, format, rows) of `triage export`: what = records (one row per de-duplicated record
    with its label, `which` of them; ris or csv) or decisions (the audit trail; csv or json).
    fmt None: ris for records, csv for decisions."""
    import io
    import json

    from triage.io.writers import write_csv, write_ris, write_table
    from triage.store.labels_io import export_rows

    fmt = fmt or ("ris" if what == "records" else "csv")
    allowed = ("ris", "csv") if what == "records" else ("csv", "json")
    if what not in ("records", "decisions"):
        raise TriageError(f"unknown export {what!r} (use records or decisions)")
    if fmt not in allowed:
        raise TriageError(f"--what {what} is written as {' or '.join(allowed)}, not {fmt}")
    buf = io.StringIO(newline="")
    if what == "decisions":
        from triage.team import decision_rows

        header, drows = decision_rows(project, reviewer)
        if fmt == "json":
            buf.write(json.dumps([dict(zip(header, r)) for r in drows], indent=2, ensure_ascii=False) + "\n")
        else:
            write_table(header, drows, buf)
        n = len(drows)
    else:
        n = (write_csv if fmt == "csv" else write_ris)(export_rows(project, which, reviewer), buf)
    return buf.getvalue(), fmt, n


# -- certification sample ------------------------------------------------------------------------
#: Sample k of a project draws with default_rng([project seed, SAMPLE_SEED_TAG, k]): a tag of its
#: own, so samples never reuse a round's random stream (round r uses default_rng([seed, r])).
SAMPLE_SEED_TAG = 7919


@dataclass(frozen=True)
class SampleResult:
    sample_id: int
    record_ids: np.ndarray
    pool_size: int
    path: Path
    n_relevant: int
    large_default: bool  # the default size is more than half the pool (worth a note)


def certification_sample(project: Project, n: int | None, out: Path | None, target: float = 0.95,
                         confidence: float = 0.95) -> SampleResult:
    """Draw a random certification sample of the pool and write it as a CSV to label (`out`, or
    DIR/sample-<id>.csv); the sample is recorded only once its file is safely written.
    n None: the smallest size that certifies `target` if no sampled record is relevant."""
    from triage.io.output import refuse_protected, write_output
    from triage.io.writers import table_text
    from triage.stopping import certification_sample_size, draw_sample
    from triage.store.labels_io import refuse_unimported

    directory = project.directory
    if out is not None:
        refuse_protected(out, directory)
    history = project.history()
    pool = project_pool(project, history)
    if not len(pool):
        raise TriageError("the pool is empty: every record is labelled")
    large_default = False
    if n is None:
        n = certification_sample_size(len(pool), history.n_relevant, target, confidence)
        if n is None:
            raise TriageError(f"no sample smaller than the pool ({len(pool)} records) can certify "
                              f"{target:.0%} recall yet; keep screening or give -n")
        n = max(n, 1)
        large_default = n > 0.5 * len(pool)
    if n < 1:
        raise TriageError("-n must be at least 1")
    if n > len(pool):
        raise TriageError(f"-n {n} is more than the pool holds ({len(pool)} unlabelled records); give -n "
                          f"{len(pool)} or less (nothing was drawn)")
    if out is not None:
        refuse_unimported(project, out)
    rng = np.random.default_rng([project.seed, SAMPLE_SEED_TAG, len(project.samples())])
    ids = draw_sample(pool, n, rng)
    text = table_text(["record_id", "title", "abstract", "label", "origin"],
                      ([r.id, r.title, r.abstract, "", "random"] for r in project.records(ids.tolist())))
    written = {}

    def write(sample_id: int) -> None:  # inside the sample's transaction: no file, no sample
        path = Path(out) if out is not None else directory / f"sample-{sample_id}.csv"
        refuse_unimported(project, path)
        write_output(path, text, project_dir=directory)
        written["path"] = path

    sample_id = project.add_sample(ids, project.seed, len(pool), before_commit=write)
    return SampleResult(sample_id, ids, len(pool), written["path"], history.n_relevant, large_default)


# -- stopping report ---------------------------------------------------------------------------
def rule_inputs(project: Project, history: History | None = None):
    """The model's view for the stopping rules (`triage.stopping.RuleInputs`): the latest
    classifier round's scores of the pool (in `project_pool` order), whether they are
    probabilities, and per history entry the score the record had in the round that proposed it
    (NaN for priors and cold-start rounds). Empty RuleInputs when no classifier round covers the
    pool."""
    from triage.stopping import RuleInputs

    history = project.history() if history is None else history
    rounds = {r.id: r for r in project.rounds()}
    latest = max(rounds.values(), key=lambda r: r.id) if rounds else None
    if latest is None or latest.params.get("model", "classifier") != "classifier" or not len(latest.scores):
        return RuleInputs()
    score = dict(zip(latest.record_ids.tolist(), latest.scores.tolist()))
    pool = project_pool(project, history).tolist()
    if any(i not in score for i in pool):
        return RuleInputs()
    screen = np.full(len(history), np.nan)
    by_round: dict[int, dict] = {}
    for j, (rid, rnd) in enumerate(zip(history.record_ids.tolist(), history.rounds.tolist())):
        row = rounds.get(rnd)
        if row is None or row.params.get("model", "classifier") != "classifier":
            continue
        if rnd not in by_round:
            by_round[rnd] = dict(zip(row.record_ids.tolist(), row.scores.tolist()))
        screen[j] = by_round[rnd].get(rid, np.nan)
    return RuleInputs(np.array([score[i] for i in pool], dtype=float),
                      bool(latest.params.get("probabilities")), screen)


def pool_probabilities(project: Project, history: History) -> np.ndarray | None:
    """The latest round's pool scores when they are probabilities (else None): QuantCI's input."""
    inputs = rule_inputs(project, history)
    return inputs.pool_scores if inputs.probabilistic else None


def report_data(project: Project, target: float = 0.95, confidence: float = 0.95):
    """The stopping report of a project: its history, the model's scores, its latest sample,
    and its name, preset and number of maybe labels (counted as relevant, as the report says)."""
    from triage.report.stopping import build_report
    from triage.stopping import CertificationSample

    history = project.history()
    samples = project.samples()
    sample = CertificationSample.from_project(samples[-1], history.n_records) if samples else None
    rel_ids = history.record_ids[history.labels == 1][-5:][::-1].tolist()
    recent = [{"id": r.id, "title": r.title, "abstract": r.abstract} for r in project.records(rel_ids)]
    latest = project.latest_round()
    n_maybe = sum(1 for v in project.current_labels().values() if v == "maybe")
    return build_report(history, rule_inputs(project, history), target, confidence, sample,
                        project.meta("question"), recent, project=project.directory.name,
                        preset=latest.preset if latest is not None else project_preset(project).name,
                        n_maybe=n_maybe)


def summary_line(project: Project) -> str:
    """The stopping report's one-line summary, once a ranking exists ('' before)."""
    from triage.report.stopping import one_line_summary

    if project.latest_round() is None:
        return ""
    history = project.history()
    return one_line_summary(history, rule_inputs(project, history))
