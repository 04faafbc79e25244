"""`triage simulate` and `triage benchmark` end to end through click's CliRunner (TF-IDF preset:
no embedding model is loaded)."""

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli.main import cli

FIXTURE = Path(__file__).parent.parent / "fixtures" / "simulate" / "statins_small.csv"


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return CliRunner()


def test_simulate_json_keys(runner):
    res = runner.invoke(cli, ["simulate", str(FIXTURE), "--preset", "elas_u4", "--seed", "3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    for key in ("records", "relevant", "wss_95", "recall_10", "atd", "loss", "seconds", "stopping"):
        assert key in out
    # 40 records, 8 relevant; one relevant and one irrelevant prior are excluded
    assert out["records"] == 38 and out["relevant"] == 7
    assert out["found"] == 7 and 0 <= out["loss"] <= 1
    assert "default" in out["stopping"]
    for entry in out["stopping"].values():
        assert set(entry) >= {"screened", "recall"}


def test_simulate_same_seed_same_output(runner):
    args = ["simulate", str(FIXTURE), "--preset", "elas_u4", "--seed", "5", "--json"]
    a, b = (json.loads(runner.invoke(cli, args).output) for _ in range(2))
    for d in (a, b):
        d.pop("seconds")
    assert a == b


def test_simulate_writes_outputs_and_human_table(runner, tmp_path):
    out = tmp_path / "sim"
    res = runner.invoke(cli, ["simulate", str(FIXTURE), "--preset", "elas_u4", "--prior-ids", "2,0",
                              "--stop-after", "12", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "WSS @ 95 / 100 %" in res.output
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["row"] for r in rows[:2]] == ["2", "0"] and rows[0]["origin"] == "prior"
    assert len(rows) == 14  # 2 priors + 12 screened
    assert (out / "recall.png").stat().st_size > 0
    assert json.loads((out / "metrics.json").read_text())["screened"] == 12


def test_simulate_refuses_unlabelled_records(runner, tmp_path):
    data = tmp_path / "unlabelled.csv"
    data.write_text("title,abstract,label_included\nA,b,1\nC,d,\nE,f,0\n", encoding="utf-8")
    res = runner.invoke(cli, ["simulate", str(data), "--preset", "elas_u4"])
    assert res.exit_code == 2
    assert "no include/exclude label" in res.output


def test_benchmark_writes_results(runner, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "statins_small.csv").write_bytes(FIXTURE.read_bytes())
    out = tmp_path / "bench"
    res = runner.invoke(cli, ["benchmark", "--data-dir", str(data_dir), "--presets", "elas_u4,tfidf_lr",
                              "--seeds", "1-2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {r["preset"] for r in rows} == {"elas_u4", "tfidf_lr"}
    assert all(r["error"] == "" for r in rows)
    lines = [json.loads(x) for x in (out / "histories.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    assert {"dataset", "seed", "n_records", "order", "labels", "origins"} <= set(lines[0])
    summary = (out / "summary.md").read_text()
    assert "statins_small" in summary and "overlaps once" in summary
    assert (out / "curves.png").exists()


def test_simulate_keeps_records_without_text(runner, tmp_path):
    # A record with neither title nor abstract stays in the simulation (as ASReview keeps it):
    # 41 records, 9 relevant (the empty one is relevant); priors 1 + 1 -> N = 39, R = 8.
    data = tmp_path / "with_empty.csv"
    data.write_text(FIXTURE.read_text(encoding="utf-8") + 'R999,,,,1\n', encoding="utf-8")
    res = runner.invoke(cli, ["simulate", str(data), "--preset", "elas_u4", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["records"], out["relevant"]) == (39, 8)


def test_simulate_with_a_question_and_no_priors_starts_from_the_question(runner):
    """No prior labels: the question ranks the first record (cold start), then trains as a
    relevant record, as in a live project."""
    base = ["simulate", str(FIXTURE), "--preset", "elas_u4", "--prior-included", "0", "--prior-excluded", "0",
            "--seed", "1", "--json"]
    res = runner.invoke(cli, base + ["--question", "statin therapy and cardiovascular events"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["question"] == "statin therapy and cardiovascular events"
    assert out["records"] == 40 and out["relevant"] == 8 and out["found"] == 8
    blind = json.loads(runner.invoke(cli, base).output)
    assert blind["question"] is None
    # 8 of 40 relevant: the blind run starts at random and needs more records for all 8
    assert out["n_for_100"] == 8 and out["n_for_100"] < blind["n_for_100"]


def test_benchmark_with_questions_matches_simulate_with_the_question(runner, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "statins_small.csv").write_bytes(FIXTURE.read_bytes())
    (data_dir / "other.csv").write_bytes(FIXTURE.read_bytes())
    q = "statin therapy and cardiovascular events"
    questions = tmp_path / "questions.csv"
    questions.write_text(f"dataset,question\nstatins_small,{q}\n", encoding="utf-8")
    out = tmp_path / "bench"
    args = ["benchmark", "--data-dir", str(data_dir), "--presets", "elas_u4", "--seeds", "1",
            "--prior-included", "0", "--prior-excluded", "0", "--out", str(out)]
    res = runner.invoke(cli, args + ["--questions", str(questions)])
    assert res.exit_code == 0, res.output
    with open(out / "results.csv", newline="") as f:
        rows = {r["dataset"]: r for r in csv.DictReader(f)}
    assert rows["statins_small"]["question"] == q and rows["other"]["question"] == ""
    single = json.loads(runner.invoke(cli, ["simulate", str(data_dir / "statins_small.csv"), "--preset", "elas_u4",
                                            "--seed", "1", "--prior-included", "0", "--prior-excluded", "0",
                                            "--question", q, "--json"]).output)
    assert float(rows["statins_small"]["wss_95"]) == pytest.approx(single["wss_95"])
    assert int(rows["statins_small"]["n_for_100"]) == single["n_for_100"] < int(rows["other"]["n_for_100"])
    # a questions file naming a dataset that is not there, or without the columns, is refused
    questions.write_text(f"dataset,question\nnope,{q}\n", encoding="utf-8")
    bad = runner.invoke(cli, args + ["--questions", str(questions)])
    assert bad.exit_code != 0 and "no dataset named nope" in bad.output
    questions.write_text("name,text\nstatins_small,x\n", encoding="utf-8")
    bad = runner.invoke(cli, args + ["--questions", str(questions)])
    assert bad.exit_code != 0 and "needs the columns 'dataset' and 'question'" in bad.output


def test_a_negative_stop_after_is_a_clean_error_not_a_traceback(tmp_path):
    """Was: ValueError traceback from the oracle."""
    from click.testing import CliRunner

    from triage.cli.main import cli

    sample = Path(__file__).resolve().parents[2] / "data" / "van_de_Schoot_2018_sample.csv"
    r = CliRunner().invoke(cli, ["simulate", str(sample), "--preset", "tfidf_svm", "--stop-after", "-1",
                                 "--cache-dir", str(tmp_path)])
    assert r.exit_code == 2 and "stop must be a non-negative number of records" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
