"""The live loop through the CLI: `next` -> `label` -> `next` ..., with gold labels answering."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from triage.cli.main import cli
from triage.store.project import Project

BENCH = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks"
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "van_de_Schoot_2018_sample.csv"


def run(*args) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.stdout  # stderr carries progress lines


def _unlabelled_copy(src: Path, dst: Path) -> None:
    """The dataset without its label column (so nothing imports as a prior label)."""
    with open(src, newline="", encoding="utf-8") as f, open(dst, "w", newline="", encoding="utf-8") as g:
        rows = csv.DictReader(f)
        w = csv.DictWriter(g, fieldnames=["record_id", "title", "abstract", "doi"])
        w.writeheader()
        for row in rows:
            w.writerow({k: row[k] for k in w.fieldnames})


def _gold(src: Path) -> dict[str, int]:
    with open(src, newline="", encoding="utf-8") as f:
        return {r["record_id"]: int(r["label_included"]) for r in csv.DictReader(f)}


def screen_with_cli(tmp_path: Path, src: Path, preset: str, batch: int, max_batches: int,
                    question: str = "") -> tuple[list[int], int, int]:
    """Gold labels of records in the order the CLI served them; (order, n records, n relevant)."""
    proj = tmp_path / "proj"
    data = tmp_path / "records.csv"
    _unlabelled_copy(src, data)
    run("init", proj, "--seed", 3, *(["--question", question] if question else []))
    run("import", proj, data)
    with Project.open(proj) as p:
        gold_by_row = _gold(src)
        gold = {r.id: gold_by_row[r.fields["record_id"]] for r in p.records()}
    order: list[int] = []
    for i in range(max_batches):
        out = tmp_path / f"batch{i}.csv"
        run("next", proj, "-n", batch, "--out", out, "--preset", preset)
        with open(out, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            break
        assert all(r["label"] == "" for r in rows)
        for r in rows:
            r["label"] = "include" if gold[int(r["record_id"])] else "exclude"
            order.append(gold[int(r["record_id"])])
        with open(out, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        run("label", proj, out)
    return order, len(gold), sum(gold.values())


def _records_to_find(order: list[int], share: float, n_relevant: int) -> int | None:
    found = np.cumsum(order)
    hit = np.flatnonzero(found >= np.ceil(share * n_relevant))
    return int(hit[0]) + 1 if len(hit) else None


def test_cli_loop_on_bundled_sample_beats_random_order(tmp_path):
    # 500 records, 38 relevant; question text gives the cold start something to rank by
    order, n, r = screen_with_cli(tmp_path, SAMPLE, "tfidf_svm", batch=25, max_batches=8,
                                  question="PTSD trajectories after trauma, latent growth mixture modelling")
    # random order finds 200/500 * 38 ~ 15 relevant in 200 records; ranking finds far more
    assert sum(order) >= 30, sum(order)
    with Project.open(tmp_path / "proj") as p:
        rounds = p.rounds()
        assert len(rounds) == 8 and rounds[0].params["model"] == "cold"
        assert rounds[-1].n_train == 175 and rounds[-1].versions["scikit-learn"]
        assert rounds[-1].params["question_record"]  # the question trained as a relevant record


@pytest.mark.skipif(not BENCH.exists(), reason="benchmark datasets (../shared) not available")
def test_cli_loop_on_a_benchmark_dataset_finds_relevant_far_earlier_than_random(tmp_path):
    src = BENCH / "Appenzeller-Herzog_2019.csv"  # 2,873 records, 26 relevant
    order, n, r = screen_with_cli(tmp_path, src, "tfidf_svm", batch=50, max_batches=12)
    need = _records_to_find(order, 0.8, r)
    # random order needs ~80 % of the records (~2,300) for 80 % recall
    assert need is not None and need < 0.25 * n, (need, sum(order))


def test_same_seed_labels_and_preset_give_the_same_ranking(tmp_path):
    data = tmp_path / "records.csv"
    _unlabelled_copy(SAMPLE, data)
    gold = _gold(SAMPLE)
    rankings = []
    for name in ("a", "b"):
        proj = tmp_path / name
        run("init", proj, "--seed", 11)
        run("import", proj, data)
        with Project.open(proj) as p:
            recs = p.records()
        labels = tmp_path / f"labels_{name}.csv"
        rel = [r.id for r in recs if gold[r.fields["record_id"]]][:3]
        irr = [r.id for r in recs if not gold[r.fields["record_id"]]][:30]
        labels.write_text("record_id,label\n" + "".join(f"{i},include\n" for i in rel)
                          + "".join(f"{i},0\n" for i in irr), encoding="utf-8")
        run("label", proj, labels)
        out = json.loads(run("rank", proj, "--preset", "tfidf_svm", "--json"))
        assert out["model"] == "classifier" and out["n_train"] == 33 and out["pool"] == len(recs) - 33
        with Project.open(proj) as p:
            rankings.append(p.latest_round())
    assert np.array_equal(rankings[0].record_ids, rankings[1].record_ids)
    assert np.array_equal(rankings[0].scores, rankings[1].scores)
    assert rankings[0].seed == 11 and rankings[0].preset == "tfidf_svm"
    assert rankings[0].params["question_record"] is False  # no question set


def test_stopping_estimates_use_only_probability_scores(tmp_path):
    """QuantCI reads the latest round's scores only when the classifier gives probabilities."""
    from triage.service import pool_probabilities

    data = tmp_path / "records.csv"
    _unlabelled_copy(SAMPLE, data)
    gold = _gold(SAMPLE)
    proj = tmp_path / "proj"
    run("init", proj, "--question", "PTSD trajectories")
    run("import", proj, data)
    with Project.open(proj) as p:
        recs = p.records()
    labels = tmp_path / "labels.csv"
    labels.write_text("record_id,label\n" + "".join(
        f"{r.id},{gold[r.fields['record_id']]}\n" for r in recs[:60]), encoding="utf-8")
    run("rank", proj, "--preset", "tfidf_svm")  # cold start: similarities, not probabilities
    with Project.open(proj) as p:
        assert p.latest_round().params["model"] == "cold"
        assert pool_probabilities(p, p.history()) is None
    run("label", proj, labels)
    for preset, expect in (("tfidf_svm", False), ("tfidf_lr", True)):
        run("rank", proj, "--preset", preset)
        with Project.open(proj) as p:
            probs = pool_probabilities(p, p.history())
            assert (probs is not None) == expect
            if expect:
                assert len(probs) == len(recs) - 60 and 0 <= probs.min() <= probs.max() <= 1


def test_rank_and_next_with_an_embedding_preset(tmp_path):
    """A preset with sentence embeddings (fake embedder) goes through rank/next, caching vectors."""
    preset = tmp_path / "fake_hybrid.toml"
    preset.write_text('[features]\ntfidf = {}\nembedding = { model = "fake" }\n'
                      '[classifier]\ntype = "svm"\nC = 0.11\n[balance]\ntype = "balanced"\nratio = 9.8\n'
                      '[querier]\ntype = "max"\n', encoding="utf-8")
    data = tmp_path / "records.csv"
    _unlabelled_copy(SAMPLE, data)
    proj2 = tmp_path / "proj2"
    run("init", proj2)
    run("import", proj2, data)
    out = json.loads(run("rank", proj2, "--preset", preset, "--json"))
    # no waiting: the embedding pass has not run, so the round ranks with the TF-IDF part and says so
    assert out["preset"] == "fake_hybrid" and out["pool"] == 500 and out["features"] == "tfidf"
    assert "Ranked with the preset's TF-IDF part" in run("rank", proj2, "--preset", preset)
    run("embed", proj2, "--preset", preset)
    out = json.loads(run("rank", proj2, "--preset", preset, "--json"))
    assert out["features"] == "full"  # the first round after the pass uses the full preset
    run("next", proj2, "-n", 5, "--out", tmp_path / "b.csv", "--preset", preset)
    assert any((proj2 / "cache" / "embeddings").rglob("*"))
    with Project.open(proj2) as p:
        rounds = p.rounds()
        assert [r.params["features"] for r in rounds] == ["tfidf", "tfidf", "full"]
        assert rounds[0].params["embedder"] is None and rounds[-1].params["embedder"].startswith("fake")


def test_rank_reports_its_long_steps_on_stderr_for_large_projects(tmp_path, monkeypatch):
    """A script running `next` on a large review sees lines saying it is alive (stderr, not the CSV)."""
    import triage.service as service

    data = tmp_path / "records.csv"
    _unlabelled_copy(SAMPLE, data)
    proj = tmp_path / "big"
    run("init", proj, "--preset", "tfidf_svm")
    run("import", proj, data)
    monkeypatch.setattr(service, "PROGRESS_RECORDS", 100)  # the sample has 500 records
    r = CliRunner().invoke(cli, ["next", str(proj), "-n", "3"])
    assert r.exit_code == 0, r.output
    assert "features of 500 records (tfidf_svm, full) ..." in r.stderr
    assert "training on 0 labels and ranking 500 records: done in" in r.stderr
    assert "features of" not in r.stdout and r.stdout.startswith("record_id,")
    monkeypatch.setattr(service, "PROGRESS_RECORDS", 5000)
    quiet = CliRunner().invoke(cli, ["rank", str(proj)])
    assert quiet.exit_code == 0 and "features of" not in quiet.stderr
