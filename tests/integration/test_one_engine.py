"""Live screening and simulation are the same program: a project driven through `next` / `label`
with a review's gold labels produces exactly `triage simulate`'s rankings, round by round."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from triage.cli.main import cli
from triage.learn.presets import load_preset
from triage.simulate.data import load_labelled
from triage.simulate.simulate import simulate
from triage.store.project import Project

QUESTION = "Statin therapy and major adverse cardiac events in randomised trials"
# TF-IDF + a (fake, deterministic) embedding block: the default preset's shape without a model.
PRESET = """description = "hybrid shape with the fake embedder (tests)"
batch_size = 1
batch_growth = 0.05
[features]
tfidf = { ngram_range = [1, 2], sublinear_tf = true, max_df = 0.95, min_df = 1 }
embedding = { model = "fake", weight = 0.5 }
[classifier]
type = "svm"
C = 0.11
[balance]
type = "balanced"
ratio = 9.8
[querier]
type = "max"
"""


def run(*args) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


TOPICS = ["glacier retreat", "teacher workload", "legal translation", "soil erosion", "bridge fatigue",
          "opera audiences", "river pollution", "tax compliance"]
DRUGS = ["rosuvastatin", "atorvastatin", "simvastatin", "pravastatin"]


def _review(n: int = 60, n_rel: int = 9, seed: int = 3) -> list[dict]:
    """A small review: distinct titles (nothing merges on import), keywords (so the one text
    builder's keyword part is exercised in both programs), gold labels."""
    rng = np.random.default_rng(seed)
    rel = set(rng.choice(n, n_rel, replace=False).tolist())
    rows = []
    for i in range(n):
        if i in rel:
            d = DRUGS[i % 4]
            title = f"{d.title()} and major adverse cardiac events: randomised trial number {i}"
            abstract = (f"Adults received {d} or placebo; cardiovascular events were recorded over {2 + i % 5} years. "
                        f"{' '.join(rng.choice(['lipid', 'mortality', 'stroke', 'dose', 'adherence'], 4))}.")
            kw = f"statins; {d}; cardiology"
        else:
            t = TOPICS[i % len(TOPICS)]
            title = f"Measuring {t} across regions: study number {i}"
            abstract = (f"We measured {t} in {10 + i} sites. "
                        f"{' '.join(rng.choice(['survey', 'model', 'policy', 'trial', 'cohort', 'dose'], 5))}.")
            kw = f"{t}; methods"
        rows.append({"record_id": f"R{i:03d}", "title": title, "abstract": abstract, "keywords": kw,
                     "label_included": int(i in rel)})
    return rows


def _write(rows: list[dict], path: Path, labelled_rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for i, r in enumerate(rows):
            w.writerow({**r, "label_included": r["label_included"] if i in labelled_rows else ""})


# The same blocks ranked by two SVMs whose rankings are fused (reciprocal rank fusion).
RRF_PRESET = PRESET.replace('embedding = { model = "fake", weight = 0.5 }',
                            'embedding = { model = "fake" }\ncombine = "rrf"\nk_rrf = 30')


@pytest.mark.parametrize("preset_text, combine", [(PRESET, "concat"), (RRF_PRESET, "rrf")])
def test_live_next_label_rounds_rank_exactly_as_simulate(tmp_path, preset_text, combine):
    assert preset_text.count("combine") == (combine != "concat")
    preset_file = tmp_path / "hybrid_fake.toml"
    preset_file.write_text(preset_text, encoding="utf-8")
    seed = 11
    rows = _review()
    gold = np.array([r["label_included"] for r in rows], dtype=np.int8)
    priors = sorted([int(np.flatnonzero(gold)[0]), int(np.flatnonzero(gold == 0)[0])])
    full, labelled = tmp_path / "review.csv", tmp_path / "labelled.csv"
    _write(rows, full, priors)  # what the reviewer imports: only the prior records carry labels
    _write(rows, labelled, range(len(rows)))  # the same review fully labelled, for simulate

    # simulation: rankings of every round (corpus rows)
    data = load_labelled(labelled)
    sim_rankings = []
    res = simulate(data.corpus(QUESTION), data.gold, load_preset(str(preset_file)), seed, prior_ids=priors,
                   on_round=lambda r, result, h: sim_rankings.append(result.ranking.copy()), final_scores=False)
    assert res.metrics.found == res.metrics.relevant

    # live: init, import (priors come labelled), then next/label with the gold labels
    proj = tmp_path / "proj"
    run("init", proj, "--question", QUESTION, "--seed", seed, "--preset", preset_file)
    run("import", proj, full)
    run("embed", proj)  # the embedding pass (import starts it in the background; tests run it here)
    preset = load_preset(str(preset_file))
    with Project.open(proj) as p:
        row_of = {int(i): k for k, i in enumerate(p.record_ids())}
        assert len(row_of) == len(gold)  # nothing merged: project rows are the file's rows
    found, target = int(gold[priors].sum()), int(gold.sum())
    while found < target:
        with Project.open(proj) as p:
            n = preset.batch_for(len(p.history()))
        batch = tmp_path / "batch.csv"
        batch.unlink(missing_ok=True)
        run("next", proj, "-n", n, "--out", batch)
        with open(batch, newline="", encoding="utf-8") as f:
            out = list(csv.DictReader(f))
        for r in out:  # the oracle answers as in simulation, stopping at the last relevant record
            r["label"] = "include" if gold[row_of[int(r["record_id"])]] else "exclude"
        last = next((i for i, r in enumerate(out) if r["label"] == "include" and found + sum(
            x["label"] == "include" for x in out[:i + 1]) >= target), len(out) - 1)
        out = out[:last + 1]
        found += sum(r["label"] == "include" for r in out)
        with open(batch, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["record_id", "label"])
            w.writeheader()
            w.writerows({"record_id": r["record_id"], "label": r["label"]} for r in out)
        run("label", proj, batch)
    with Project.open(proj) as p:
        live_rankings = [np.array([row_of[int(i)] for i in r.record_ids]) for r in p.rounds()]
        assert all(r.params["embedder"] == "fake:d32:s0" for r in p.rounds())
        assert {(r.params["model"], r.params["combine"]) for r in p.rounds()} == {("classifier", combine)}
    assert len(live_rankings) == len(sim_rankings) > 3
    for k, (live, sim) in enumerate(zip(live_rankings, sim_rankings)):
        assert np.array_equal(live, sim), f"round {k}: live and simulated rankings differ"


def test_stopping_learning_reporting_and_simulation_never_import_the_store():
    """The layering contract: stopping/, learn/, report/, simulate/ (and the neutral core) do not
    import triage.store, and the store does not import features/."""
    code = """
import sys
import importlib, pkgutil, triage
for pkg in ("triage.history", "triage.stopping", "triage.learn", "triage.report", "triage.simulate", "triage.engine"):
    mod = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(getattr(mod, "__path__", []), pkg + "."):
        importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m.startswith("triage.store"))
print("STORE", bad)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "STORE []" in out, out
    code = """
import sys
import triage.store, triage.store.project, triage.store.labels_io
print("FEATURES", sorted(m for m in sys.modules if m.startswith("triage.features")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "FEATURES []" in out, out
    code = "import sys, triage.history; print('CORE', sorted(m for m in sys.modules if m.startswith('triage.') and m != 'triage.history'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "CORE []" in out, out
