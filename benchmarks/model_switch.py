"""Model switching late in the review (SAFE's phase 3, Teijema et al. 2023; issue #16 idea 4).

Once the simulated reviewer has labelled `--after` irrelevant records in a row (counted after the
first relevant one), every later round ranks with a different model than the preset's: the
TF-IDF block alone (`--to tfidf`) or the embedding block alone (`--to emb`), same classifier,
balance and querier. Whether a run has switched is a function of its history alone, so a round
can be replayed. The preset must concatenate TF-IDF and embeddings (`hybrid_svm`, the default).

This is an experiment harness, not a product feature: it wraps the engine's round
(`triage.engine.run_round`) and then runs the normal `triage` command line in this process, so
the benchmark is the real simulation loop with one change. Runs must stay in this process
(`--jobs 1`: joblib's worker processes would import the engine afresh, without the wrapper); for
two cores run two of these on different seeds and merge with benchmarks/merge_results.py.

    python benchmarks/model_switch.py --after 50 --to tfidf -- benchmark --data-dir DATA_DIR \\
        --seeds 1-5 --jobs 1 --cache-dir CACHE_DIR --out DIR
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def switched(labels: np.ndarray, after: int) -> bool:
    """True once `after` irrelevant labels in a row followed a relevant one (labelling order)."""
    run, seen_relevant = 0, False
    for label in labels:
        if label == 1:
            seen_relevant, run = True, 0
        else:
            run += 1
            if seen_relevant and run >= after:
                return True
    return False


def blocks(X, n_emb: int) -> tuple:
    """(TF-IDF block, embedding block) of a concatenated hybrid feature matrix: a lazy
    ConcatFeatures keeps them; a csr hstack is split at its last `n_emb` columns."""
    if hasattr(X, "blocks"):
        return X.blocks
    X = X.tocsr()
    return X[:, :-n_emb].tocsr(), np.ascontiguousarray(X[:, -n_emb:].toarray())


def install(after: int, to: str, n_emb: int = 384) -> None:
    """Wrap triage.engine.run_round: after the switch, rank with block `to` alone."""
    import triage.engine as engine

    original = engine.run_round
    cache: dict = {}

    def run_round(X, history, preset, rng, cold_scores=None, question_row=None):
        if question_row is not None or not switched(history.labels, after):
            return original(X, history, preset, rng, cold_scores=cold_scores, question_row=question_row)
        if id(X) not in cache:  # one split per simulation (the matrix is the same every round)
            cache.clear()
            cache[id(X)] = blocks(X, n_emb)
        tfidf, emb = cache[id(X)]
        return original(tfidf if to == "tfidf" else emb, history, preset, rng, cold_scores=cold_scores)

    engine.run_round = run_round


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("usage: model_switch.py --after N --to tfidf|emb -- <triage arguments>")
    split = argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--after", type=int, required=True, help="irrelevant labels in a row before switching")
    ap.add_argument("--to", choices=("tfidf", "emb"), required=True)
    args = ap.parse_args(argv[:split])
    rest = argv[split + 1:]
    jobs = [v for a, v in zip(rest, rest[1:] + [""]) if a == "--jobs"]
    jobs += [a[len("--jobs="):] for a in rest if a.startswith("--jobs=")]
    if any(j != "1" for j in jobs) or any(a.startswith("--scheduler") for a in rest):
        ap.error("runs must stay in this process (--jobs 1, no --scheduler): workers would run without the switch")
    install(args.after, args.to)
    from triage.cli.main import cli
    cli.main(args=rest, prog_name="triage")


if __name__ == "__main__":
    main()
