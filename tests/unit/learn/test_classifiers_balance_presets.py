import numpy as np
import pytest
from sklearn.svm import LinearSVC

from triage.errors import PresetError
from triage.learn.balance import sample_weights
from triage.learn.classifiers import make_classifier, relevance_scores
from triage.learn.presets import DEFAULT_PRESET, list_presets, load_preset, parse_preset


def test_elas_u4_preset_matches_asreview_default():
    p = load_preset("elas_u4")
    assert p.features["tfidf"] == {"ngram_range": [1, 2], "sublinear_tf": True, "max_df": 0.95, "min_df": 1}
    assert p.classifier.table() == {"type": "svm", "C": 0.11}
    assert p.balance.table() == {"type": "balanced", "ratio": 9.8}
    assert p.querier.table() == {"type": "max"}
    clf = make_classifier(p.classifier)
    assert isinstance(clf, LinearSVC) and clf.C == 0.11


def test_every_shipped_preset_loads_and_default_exists():
    names = list_presets()
    assert DEFAULT_PRESET in names and "elas_u4" in names
    for n in names:
        p = load_preset(n)
        make_classifier(p.classifier)
        assert p.description


def test_bad_presets_are_specific_errors(tmp_path):
    with pytest.raises(PresetError, match="unknown preset 'nope'"):
        load_preset("nope")
    with pytest.raises(PresetError, match="unknown key.*'c'.*valid keys: C, loss, max_iter"):
        make_classifier({"type": "svm", "c": 1})  # misspelt keyword is an error, not a no-op
    with pytest.raises(PresetError, match="unknown key"):
        parse_preset("x", {"features": {"tfidf": {}}, "classifier": {"type": "svm"}, "querier": {"type": "max"},
                           "colour": 1}, "x")
    f = tmp_path / "mine.toml"
    f.write_text('[features]\ntfidf = {}\n[classifier]\ntype = "logistic"\n[querier]\ntype = "max"\n')
    assert load_preset(str(f)).classifier.type == "logistic"


@pytest.mark.parametrize("table, key, message", [
    ("balance", 'type = "balanced"\nratoi = 9.8', "unknown key.*'ratoi'.*valid keys: ratio"),
    ("balance", 'type = "balanced"\nratio = "high"', "ratio = 'high' must be a float"),
    ("querier", 'type = "maximum"', "unknown querier 'maximum'; choose from max, mixed, uncertainty"),
    ("classifier", 'type = "svm"\nC = 0.1\nkernel = "rbf"', "unknown key.*'kernel'"),
])
def test_a_misspelt_preset_key_is_an_error_naming_the_valid_keys(tmp_path, table, key, message):
    """Was: a misspelt key (`ratoi = 9.8`) trained silently with the default."""
    tables = {"classifier": 'type = "svm"', "balance": 'type = "none"', "querier": 'type = "max"'}
    tables[table] = key
    text = '[features]\ntfidf = {}\n' + "".join(f"[{t}]\n{v}\n" for t, v in tables.items())
    f = tmp_path / "typo.toml"
    f.write_text(text)
    with pytest.raises(PresetError, match=message):
        load_preset(str(f))


def test_a_misspelt_feature_key_is_an_error(tmp_path):
    f = tmp_path / "typo.toml"
    f.write_text('[features]\ntfidf = { ngram = [1, 2] }\n[classifier]\ntype = "svm"\n[querier]\ntype = "max"\n')
    with pytest.raises(PresetError, match="unknown key.*'ngram'.*valid keys:.*ngram_range"):
        load_preset(str(f))


def test_balanced_weights_give_relevant_class_ratio_times_more_weight():
    y = np.array([1, 0, 0, 0, 0])
    w = sample_weights(y, {"type": "balanced", "ratio": 2.0})
    # relevant: 2 * 4/1 = 8, irrelevant 1 each -> normalised to mean 1: total 12 over 5 records
    assert np.allclose(w, np.array([8, 1, 1, 1, 1]) * 5 / 12)
    assert sample_weights(y, {"type": "none"}) is None
    assert sample_weights(np.array([0, 0]), {"type": "balanced"}) is None


def test_relevance_scores_rank_the_positive_class_high():
    X = np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9]])
    y = np.array([1, 1, 0, 0])
    for spec in ({"type": "svm"}, {"type": "logistic"}, {"type": "nb"}):
        clf = make_classifier(spec).fit(X, y)
        s = relevance_scores(clf, np.array([[1.0, 0.0], [0.0, 1.0]]))
        assert s[0] > s[1]


def test_one_registry_holds_every_kind_of_part_stopping_rules_included():
    from triage import registry
    from triage.stopping import REGISTRY

    assert {"svm", "logistic", "nb", "cnb"} <= set(registry.names("classifier"))
    assert set(registry.names("querier")) == {"max", "mixed", "uncertainty"}
    assert set(registry.names("balance")) == {"none", "balanced"}
    assert set(registry.names("features")) == {"tfidf", "embedding"}
    assert set(registry.names("stopping")) == set(REGISTRY) and "default" in REGISTRY
    rule = registry.build("stopping", "statistical", {"target": 0.9})
    assert rule.name == "statistical"
    with pytest.raises(PresetError, match="unknown key.*'targt'.*valid keys: confidence, target"):
        registry.build("stopping", "statistical", {"targt": 0.9})
