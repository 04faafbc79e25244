"""The selection and comparison logic of benchmarks/choose_default.py and vs_asreview_table.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
choose_default = pytest.importorskip("choose_default")
vs_asreview_table = pytest.importorskip("vs_asreview_table")


def _runs(table: dict[str, dict[str, tuple[float, float]]], seeds=(1, 2)):
    """{preset: {dataset: (wss_95, recall_10)}} -> the scripts' runs mapping (same value per seed)."""
    runs = {}
    for preset, per in table.items():
        for d, (w, r) in per.items():
            runs[(preset, d)] = {s: {"wss_95": w, "recall_10": r, "atd": 0.2, "loss": 0.1, "seconds": 1.0}
                                 for s in seeds}
    return runs


def test_leave_one_review_out_picks_on_the_other_reviews_and_scores_the_held_out_one():
    # a robust winner: picked in every fold, held-out mean = its own mean
    runs = _runs({"a": {"d1": (0.9, 0.9), "d2": (0.9, 0.9), "d3": (0.9, 0.9), "d4": (0.3, 0.3)},
                  "b": {"d1": (0.5, 0.5), "d2": (0.5, 0.5), "d3": (0.5, 0.5), "d4": (0.9, 0.9)}})
    out = choose_default.report(runs, ["a", "b"])
    assert "picked: a 4x" in out and "held-out WSS@95 0.750" in out
    # a fragile winner: "a" wins in-sample (0.625 vs 0.6) but loses 3 of 4 folds; held out:
    # b on d1-d3 (0.5 each), a on d4 (0.1) -> 0.4, well below the in-sample 0.625
    runs = _runs({"a": {"d1": (0.9, 0.9), "d2": (0.8, 0.8), "d3": (0.7, 0.7), "d4": (0.1, 0.1)},
                  "b": {"d1": (0.5, 0.5), "d2": (0.5, 0.5), "d3": (0.5, 0.5), "d4": (0.9, 0.9)}})
    out = choose_default.report(runs, ["a", "b"])
    assert "picked: b 3x, a 1x" in out
    assert "held-out WSS@95 0.400" in out and "in-sample winner a: 0.625" in out


def test_overlapping_datasets_count_as_one_review():
    runs = _runs({"a": {"Chou_2003": (1.0, 1.0), "Cohen_2006_Opiods": (0.0, 0.0), "x": (0.5, 0.5)}})
    groups, means = choose_default.review_means(runs, ["a"])
    assert sorted(map(sorted, groups)) == [["Chou_2003", "Cohen_2006_Opiods"], ["x"]]
    assert sorted(means[("a", i, "wss_95")] for i in range(2)) == [0.5, 0.5]


def test_comparison_table_paired_differences_and_win_counts():
    runs = _runs({"ref": {"d1": (0.5, 0.5), "d2": (0.5, 0.5), "d3": (0.5, 0.5)},
                  "new": {"d1": (0.6, 0.5), "d2": (0.7, 0.4), "d3": (0.4, 0.5)}})
    out = vs_asreview_table.table(runs, "ref", seed=0)
    assert "3 datasets x 2 seeds" in out
    row = next(line for line in out.splitlines() if line.startswith("| new |") and "[" in line)
    wss, recall = [c.strip() for c in row.split("|")[2:4]]
    assert wss.startswith("+0.067 [") and wss.endswith(", 2/1")  # +0.1, +0.2, -0.1
    assert recall.startswith("-0.033 [") and recall.endswith(", 0/1")  # 0, -0.1, 0


def test_bootstrap_interval_contains_the_mean_and_is_seeded():
    diffs = [0.1, -0.05, 0.2, 0.0, 0.03]
    lo, hi = vs_asreview_table.bootstrap_ci(diffs, np.random.default_rng(3))
    assert lo <= np.mean(diffs) <= hi
    assert (lo, hi) == vs_asreview_table.bootstrap_ci(diffs, np.random.default_rng(3))


def test_comparison_keeps_each_presets_run_in_its_own_folder(tmp_path, monkeypatch):
    """Two presets on one dataset x seed must not overwrite each other's history."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    compare_asreview = pytest.importorskip("compare_asreview")
    data = Path(__file__).resolve().parents[2] / "fixtures" / "simulate" / "statins_small.csv"
    rows = compare_asreview.compare({"statins_small": data}, [1], "", tmp_path, ["tfidf_svm", "elas_u4"])
    assert [r["tool"] for r in rows] == ["triage tfidf_svm", "triage elas_u4"]
    for preset, row in zip(["tfidf_svm", "elas_u4"], rows):
        history = tmp_path / f"statins_small_s1_{preset}" / "history.csv"
        assert history.exists()
        assert len(history.read_text().splitlines()) - 1 == row["screened"] + 2  # + the 2 priors


def test_question_rule_per_dataset_family(tmp_path):
    """benchmarks/question_anchor.py derives each dataset's question by a fixed rule."""
    question_anchor = pytest.importorskip("question_anchor")
    src = tmp_path / "SOURCES.md"
    src.write_text(
        "# Sources\n\n## Per dataset\n\n"
        "### Donners_2021\n\n- Review: Donners, A. (2021). Pharmacokinetics of Emicizumab: A Systematic Review. "
        "Clin Pharmacokinet, 60, 1395.\n- Theme: Medicine (pharmacokinetics)\n\n"
        "### CLEF2017_CD008760\n\n- Review: Kanoulas, E. (2017). CLEF 2017 Overview. CEUR.\n"
        "- Theme: Medicine, diagnostic test accuracy: Capsule endoscopy for oesophageal varices\n\n"
        "### Cohen_2006_CalciumChannelBlockers\n\n- Review: Cohen, A. (2006). Reducing Workload. JAMIA.\n\n"
        "### van_de_Schoot_2017\n\n- Review: van de Schoot, R. (2017). The GRoLTS-Checklist. SEM.\n",
        encoding="utf-8")
    assert question_anchor.questions(src) == {
        "Donners_2021": "Pharmacokinetics of Emicizumab: A Systematic Review",
        "CLEF2017_CD008760": "Capsule endoscopy for oesophageal varices",
        "Cohen_2006_CalciumChannelBlockers":
            "Drug class review: comparative effectiveness and safety of Calcium Channel Blockers",
        "van_de_Schoot_2017": "PTSD trajectories after trauma",
    }


def test_model_switch_starts_after_a_run_of_irrelevant_labels_that_follows_a_relevant_one():
    from model_switch import switched

    assert not switched(np.array([0] * 10), after=3)            # no relevant record yet
    assert not switched(np.array([1, 0, 0, 1, 0, 0]), after=3)  # runs of 2 only
    assert switched(np.array([1, 0, 0, 0, 1]), after=3)         # once switched, stays switched
    assert switched(np.array([0, 0, 1, 0, 0, 0]), after=3)


def test_posterior_variants_two_regimes_and_selection_on_synthetic_runs():
    pv = pytest.importorskip("posterior_variants")
    from stopping_eval import POST_PRIORS, TARGETS

    # One run: 10 check points; P(enough) rises with the checks for every prior; relevant found
    # 0..9 (R = 10). The single candidate with C 0.8 stops where P first reaches 0.8.
    n = 10
    P = np.repeat(np.linspace(0.05, 0.95, n)[:, None, None], len(POST_PRIORS), 1).repeat(len(TARGETS), 2)
    run = {"dataset": "d", "R": 10, "N": 100, "n_prior": 0, "ks": np.arange(10, 101, 10), "found": np.arange(n),
           "found_end": 10, "L": 100, "P": P, "trail": np.zeros(n, int), "r_seq": np.arange(n),
           "oracle": {t: (0.95, 1.0) for t in TARGETS}}
    tab = pv.Table([run], 0.9)
    tab.add(["c0.8", "never"], lambda r: np.stack([r["P"][:, 0, 1] >= 0.8, np.zeros(n, bool)]))
    cost, ok = tab.arrays()
    assert cost[0].tolist() == [0.9, 1.0]               # P = 0.85 at the 9th check (90 records)
    assert ok[0].tolist() == [False, True]              # 8 of 10 found there; all at the end
    # selection: the cheapest column reliable in every setting and band of the chosen rows
    cost = np.array([[0.2, 0.5, 0.9], [0.2, 0.5, 0.9], [0.3, 0.6, 0.9]])
    ok = np.array([[True, True, True], [False, True, True], [True, True, True]])
    setting, band = np.array(["a", "a", "b"]), np.array([0, 0, 1])
    rows = np.ones(3, bool)
    assert pv.choose(cost, ok, rows, setting, band, np.ones(3, bool)) == 1
    assert pv.choose(cost, ok, np.array([True, False, True]), setting, band, np.ones(3, bool)) == 0
    assert pv.choose(cost, ok, rows, setting, band, np.array([True, False, False])) is None


def test_posterior_loro_falls_back_to_what_was_replayed_when_no_candidate_is_reliable():
    pl = pytest.importorskip("posterior_loro")
    # one run per setting, the candidate misses the target: not reliable
    rows = [{"setting": "H", "R": 10, "N": 100, 0.95: {"post_x": (0.5, 0.8), "screen_all": (1.0, 1.0)}}]
    assert pl.choose(rows, 0.95, ["post_x"]) == "screen_all"                 # replayed with --no-reference
    rows[0][0.95]["statistical"] = (0.9, 1.0)
    assert pl.choose(rows, 0.95, ["post_x"]) == "statistical"
    rows[0][0.95]["post_x"] = (0.5, 0.96)                                    # now reliable and cheapest
    assert pl.choose(rows, 0.95, ["post_x"]) == "post_x"
