"""Simulation: replay a finished review with its gold labels as the reviewer.

The oracle (`GoldOracle`) answers `triage.engine.run_loop`: the engine, rounds and retrain
schedule that live screening uses, so a simulation measures exactly the code reviewers run.
Randomness: prior records are drawn with `np.random.default_rng(seed)`; round r uses
`default_rng([seed, r])`. In a simulation the History's record ids are row indices of the dataset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from triage.engine import Corpus, Engine, run_loop
from triage.errors import SimulationError
from triage.learn.presets import Preset
from triage.simulate.metrics import Metrics, metrics_from_history
from triage.simulate.oracle import GoldOracle, check_stop
from triage.history import PRIOR, History


@dataclass(frozen=True)
class SimulationResult:
    """One simulated review.

    history:       every label in order (PRIOR first), record ids = row indices.
    metrics:       `Metrics` of the screening order (priors excluded, see metrics module).
    prior_ids:     row indices of the prior records (int64).
    seconds:       wall seconds: {"features", "loop", "total"} (features 0.0 when X was given).
    round_seconds: float64 seconds of each round's `run_round` (train + score + rank).
    pool_rows:     rows still unlabelled at the end (sorted int64).
    pool_scores:   final model's relevance scores of `pool_rows` (a round run on the final
                   history; None when the pool is empty).
    pool_probabilities: calibrated P(relevant) of `pool_rows` when the classifier gives them.
    snapshots:     [(k, scores)]: the round's relevance scores (float64, n_records, NaN for
                   labelled rows) of the model trained on the first k history entries, every
                   `snapshot_every` screened records (classifier rounds only, probabilities or
                   SVM margins alike; empty unless asked for).
    probabilistic: whether the classifier's scores are P(relevant) (False for margins).
    screen_scores: float64 per history entry: the score the record had in the round that
                   proposed it (out of sample for that record); NaN for priors and for records
                   proposed before a classifier could be trained (cold / random rounds).
    """

    history: History
    metrics: Metrics
    prior_ids: np.ndarray
    seconds: dict
    round_seconds: np.ndarray
    pool_rows: np.ndarray
    pool_scores: np.ndarray | None
    pool_probabilities: np.ndarray | None
    preset: str
    seed: int
    batch_size: int | None  # None: the preset's batch size / growth
    stop: str | int
    snapshots: list = field(default_factory=list)
    probabilistic: bool = False
    screen_scores: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def draw_priors(gold: np.ndarray, n_included: int, n_excluded: int, seed: int) -> np.ndarray:
    """Prior rows: `n_included` relevant then `n_excluded` irrelevant rows, drawn without
    replacement with `np.random.default_rng(seed)` (relevant first, then irrelevant)."""
    gold = np.asarray(gold)
    rel, irr = np.flatnonzero(gold == 1), np.flatnonzero(gold == 0)
    if n_included > len(rel) or n_excluded > len(irr):
        raise SimulationError(f"asked for {n_included} relevant and {n_excluded} irrelevant priors; "
                              f"the data has {len(rel)} relevant and {len(irr)} irrelevant records")
    rng = np.random.default_rng(seed)
    inc = rng.choice(rel, size=n_included, replace=False) if n_included else np.empty(0, np.int64)
    exc = rng.choice(irr, size=n_excluded, replace=False) if n_excluded else np.empty(0, np.int64)
    return np.concatenate([inc, exc]).astype(np.int64)


def _check_gold(gold) -> np.ndarray:
    gold = np.asarray(gold)
    if gold.ndim != 1 or not np.isin(gold, (0, 1)).all():
        raise SimulationError("gold labels must be a 1-d array of 0/1")
    if gold.sum() == 0:
        raise SimulationError("the data has no relevant record: nothing to simulate")
    return gold.astype(np.int8)


def simulate_engine(engine: Engine, gold, seed: int, prior_included: int = 1, prior_excluded: int = 1,
                    prior_ids=None, batch_size: int | None = None, stop: str | int = "last_relevant",
                    final_scores: bool = True, on_round=None, snapshot_every: int = 0) -> SimulationResult:
    """Simulate a review on `engine` (its corpus rows = `gold`'s rows) with the gold oracle as
    the reviewer. See `simulate` for the arguments; `on_round(r, RoundResult, History)` is called
    after every round (progress display); `snapshot_every` > 0 keeps the round's scores every
    that many screened records (for replaying score-based stopping rules); the score each
    screened record had when it was proposed is always kept (`SimulationResult.screen_scores`)."""
    t0 = time.perf_counter()
    gold = _check_gold(gold)
    n = len(engine.corpus)
    if n != len(gold):
        raise SimulationError(f"{n} records but {len(gold)} gold labels")
    stop = check_stop(stop)
    if batch_size is not None and int(batch_size) < 1:
        raise SimulationError("batch size must be at least 1")
    batch = int(batch_size) if batch_size is not None else None  # None: the preset's schedule
    if prior_ids is not None:
        priors = np.asarray(list(prior_ids), dtype=np.int64)
        if len(np.unique(priors)) != len(priors) or (priors < 0).any() or (priors >= n).any():
            raise SimulationError(f"prior ids must be distinct row numbers in 0..{n - 1}")
    else:
        priors = draw_priors(gold, prior_included, prior_excluded, seed)

    history = History.empty(n)
    if len(priors):
        history = history.append(priors, gold[priors], PRIOR, -1)
    oracle = GoldOracle(gold, stop, int(gold.sum() - gold[priors].sum()))
    round_seconds: list[float] = []
    snapshots: list = []
    n_prior = len(priors)
    screen_by_row = np.full(n, np.nan)      # score of each row in the round that proposed it
    last = {"scores": None, "done": len(priors), "probabilistic": False}

    def _record_proposed(h: History) -> None:
        # entries appended since the previous round were proposed by that round's ranking
        new = h.record_ids[last["done"]:]
        if last["scores"] is not None and len(new):
            screen_by_row[new] = last["scores"][new]
        last["done"] = len(h)

    def _on_round(r, result, h):
        round_seconds.append(result.seconds)
        _record_proposed(h)
        classifier = result.model == "classifier"
        last["scores"] = result.scores if classifier else None
        if classifier:
            last["probabilistic"] = result.probabilities is not None
        if snapshot_every > 0 and classifier:
            screened = len(h) - n_prior
            if not snapshots or screened - (snapshots[-1][0] - n_prior) >= snapshot_every:
                sc = result.scores.astype(np.float64, copy=True)
                sc[h.record_ids] = np.nan
                snapshots.append((len(h), sc))
        if on_round is not None:
            on_round(r, result, h)

    history = run_loop(engine, history, seed, oracle, lambda h: oracle.done(), batch_size=batch,
                       on_round=_on_round)
    t_loop = time.perf_counter() - t0
    _record_proposed(history)
    screen_scores = screen_by_row[history.record_ids]
    screen_scores[:n_prior] = np.nan

    pool_rows = np.setdiff1d(np.arange(n), history.record_ids)
    pool_scores = pool_prob = None
    if final_scores and len(pool_rows):
        # One more round on the final history: what the stopping rules see at the end.
        res = engine.run_round(history, seed, len(round_seconds))
        pool_scores = res.scores[pool_rows]
        if res.probabilities is not None:
            pool_prob = pool_scores
    metrics = metrics_from_history(history, gold)
    return SimulationResult(
        history=history, metrics=metrics, prior_ids=priors,
        seconds={"features": 0.0, "loop": t_loop, "total": time.perf_counter() - t0},
        round_seconds=np.asarray(round_seconds, dtype=np.float64), pool_rows=pool_rows,
        pool_scores=pool_scores, pool_probabilities=pool_prob, preset=engine.preset.name, seed=int(seed),
        batch_size=batch, stop=stop, snapshots=snapshots, probabilistic=bool(last["probabilistic"]),
        screen_scores=screen_scores,
    )


def simulate_matrix(X, gold, preset: Preset, seed: int, prior_included: int = 1, prior_excluded: int = 1,
                    prior_ids=None, batch_size: int | None = None, stop: str | int = "last_relevant",
                    final_scores: bool = True, on_round=None, snapshot_every: int = 0, question_row=None,
                    texts=None, question: str = "") -> SimulationResult:
    """`simulate_engine` on a ready feature matrix X (one row per record; `question_row`: the question's
    row in the same space). `texts` and `question` serve the cold start (similarity ranking)."""
    n = X.shape[0]
    engine = Engine(Corpus(np.arange(n, dtype=np.int64), list(texts) if texts is not None else [""] * n,
                           question or ""), preset)
    engine.set_features(X, question_row)
    return simulate_engine(engine, gold, seed, prior_included, prior_excluded, prior_ids, batch_size, stop,
                           final_scores, on_round, snapshot_every)


def simulate(corpus: Corpus | list[str], gold, preset: Preset, seed: int, prior_included: int = 1,
             prior_excluded: int = 1, prior_ids=None, batch_size: int | None = None,
             stop: str | int = "last_relevant", cache_dir=None, embedder=None,
             final_scores: bool = True, on_round=None, snapshot_every: int = 0,
             question: str | None = None, embeddings_after: int | None = None) -> SimulationResult:
    """Simulate screening a labelled corpus (a `Corpus`, or one text per record) whose gold
    labels (0/1) are `gold`, with the engine live screening uses.

    Priors: `prior_ids` (row numbers, 0-based) if given, else `prior_included` relevant and
    `prior_excluded` irrelevant rows drawn with `default_rng(seed)`. `batch_size`: records
    labelled per round (default None: the preset's schedule, as live). `stop`:
    "last_relevant" (default), "all", or a number of records to screen. `cache_dir` (feature
    cache folder; embeddings in its `embeddings/`) and `embedder` go to the engine.
    `snapshot_every`: see `simulate_engine`. `question`: the review question (overrides the
    corpus's), used as in a live project: cold-start ranking before a classifier can be trained,
    and a relevant training record in every round. `embeddings_after`: replay live screening's
    "rank at once" policy: rounds use the preset's TF-IDF part until this many records are
    screened (priors not counted), as while the background embedding pass runs. Returns a
    SimulationResult whose seconds split features and loop wall time.
    """
    t0 = time.perf_counter()
    if not isinstance(corpus, Corpus):
        texts = list(corpus)
        corpus = Corpus(np.arange(len(texts), dtype=np.int64), texts)
    if question is not None:
        corpus = replace(corpus, question=question)
    engine = Engine(corpus, preset, cache_dir, embedder)
    if embeddings_after is not None:
        engine.embeddings_ready = lambda h: int((h.origins != PRIOR).sum()) >= embeddings_after
        engine.features("tfidf")
    engine.features()
    t_feat = time.perf_counter() - t0
    res = simulate_engine(engine, gold, seed, prior_included, prior_excluded, prior_ids, batch_size, stop,
                          final_scores, on_round, snapshot_every)
    seconds = {"features": t_feat, "loop": res.seconds["loop"], "total": time.perf_counter() - t0}
    return replace(res, seconds=seconds)


def _floats(a, digits: int | None = None) -> list:
    """JSON-ready floats (NaN -> None); `digits` significant digits keep large snapshots small."""
    a = np.asarray(a, dtype=np.float64)
    if digits is None:
        return [None if np.isnan(x) else float(x) for x in a]
    fmt = f"{{:.{digits}g}}"
    return [None if np.isnan(x) else float(fmt.format(x)) for x in a]


def history_record(res: SimulationResult, dataset: str, n_relevant: int | None = None,
                   with_scores: bool = True) -> dict:
    """One line of `histories.jsonl` (benchmarks/stopping_eval.py's format): dataset, preset,
    seed, n_records, n_relevant (whole dataset, priors included, when given), order (row
    indices, priors first), labels (gold 0/1), origins (0 prior, 1 ranked, 2 random), rounds
    (the round that proposed each entry, -1 for priors); with_scores adds
      "probabilistic":   whether the scores are P(relevant) (False: SVM margins),
      "screen_scores":   per history entry, the score the record had in the round that proposed
                         it (null for priors and records proposed before a classifier existed),
      "score_snapshots": [{"k": history length at that round, "scores": one float per record row,
                         null for labelled rows}] every `snapshot_every` screened records when the
                         run kept them (6 significant digits),
    and "final_pool_scores" / "final_pool_probabilities" of the sorted pool rows after the last
    label."""
    h = res.history
    rec = {"dataset": dataset, "preset": res.preset, "seed": res.seed, "n_records": h.n_records,
           "order": h.record_ids.tolist(), "labels": h.labels.astype(int).tolist(),
           "origins": h.origins.astype(int).tolist(), "rounds": h.rounds.astype(int).tolist()}
    if n_relevant is not None:
        rec["n_relevant"] = int(n_relevant)
    if with_scores:
        rec["probabilistic"] = bool(res.probabilistic)
        if res.screen_scores is not None:
            rec["screen_scores"] = _floats(res.screen_scores)
        if res.snapshots:
            rec["score_snapshots"] = [{"k": int(k), "scores": _floats(p, 6)} for k, p in res.snapshots]
        if res.pool_scores is not None:
            rec["final_pool_scores"] = _floats(res.pool_scores)
        if res.pool_probabilities is not None:
            rec["final_pool_probabilities"] = _floats(res.pool_probabilities)
    return rec
