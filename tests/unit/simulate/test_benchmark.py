import pytest

from triage.simulate.benchmark import BenchmarkError, overlap_groups, parse_seeds, summary_markdown


def test_parse_seeds():
    assert parse_seeds("1-5") == [1, 2, 3, 4, 5]
    assert parse_seeds("1,3,7-8") == [1, 3, 7, 8]
    for bad in ("", "a-b", "5-1"):
        with pytest.raises(BenchmarkError):
            parse_seeds(bad)


def test_overlap_groups_count_each_review_once():
    groups = overlap_groups(["Chou_2003", "Cohen_2006_Opiods", "Sep_2021", "van_de_Schoot_2018"],
                            [("Chou_2003", "Cohen_2006_Opiods"), ("van_de_Schoot_2017", "van_de_Schoot_2018")])
    assert sorted(map(sorted, groups)) == [["Chou_2003", "Cohen_2006_Opiods"], ["Sep_2021"], ["van_de_Schoot_2018"]]


def test_summary_means_and_overlap_variant():
    def row(d, seed, wss):
        return {"dataset": d, "preset": "p", "seed": seed, "wss_95": wss, "recall_10": 0.5, "atd": 0.1,
                "loss": 0.2, "seconds": 1.0, "error": ""}

    rows = [row("Chou_2003", 1, 0.2), row("Chou_2003", 2, 0.4), row("Cohen_2006_Opiods", 1, 0.6),
            row("Sep_2021", 1, 0.9)]
    md = summary_markdown(rows, overlaps=[("Chou_2003", "Cohen_2006_Opiods")])
    # per dataset: Chou_2003 mean (0.2 + 0.4) / 2 = 0.3, median 0.3
    assert "| Chou_2003 | 0.300 / 0.300 |" in md
    # overall over datasets: mean(0.3, 0.6, 0.9) = 0.6; overlaps once: mean(0.45, 0.9) = 0.675
    overall = next(line for line in md.splitlines() if line.startswith("| p |"))
    assert overall.split(" | ")[1] == "0.600 / 0.600"
    assert "0.675 / 0.675" in overall


def test_a_preset_file_is_named_by_its_name_not_its_path(tmp_path):
    """Results travel: a run of `--presets DIR/mine.toml` is recorded as preset 'mine'."""
    from triage.simulate.benchmark import Task, run_task

    preset = tmp_path / "mine.toml"
    preset.write_text('[features]\ntfidf = {}\n[classifier]\ntype = "svm"\n[querier]\ntype = "max"\n')
    data = tmp_path / "d.csv"
    data.write_text("title,abstract,label_included\n" + "".join(
        f"Study {i} of {'statins' if i % 4 == 0 else 'rivers'},text {i},{int(i % 4 == 0)}\n" for i in range(24)))
    out = run_task(Task("d", str(data), str(preset), 1))
    assert out["row"]["error"] == "" and out["row"]["preset"] == "mine"
