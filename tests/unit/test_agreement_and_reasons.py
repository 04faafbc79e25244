"""Agreement statistics (kappa, its Fleiss-Cohen-Everitt SE, PABAK) and reasons from criteria."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from triage.agreement import agreement_2x2, table_of
from triage.team import reasons_from_criteria


def test_kappa_matches_sklearn_and_pabak():
    a = {i: l for i, l in enumerate(["include"] * 30 + ["exclude"] * 50 + ["maybe"] * 20)}
    rng = np.random.default_rng(5)
    b = {i: (l if rng.random() < 0.8 else ("exclude" if l != "exclude" else "include")) for i, l in a.items()}
    table, both = table_of(a, b)
    res = agreement_2x2(table)
    ya, yb = [a[i] == "exclude" for i in both], [b[i] == "exclude" for i in both]
    assert res.kappa == pytest.approx(cohen_kappa_score(ya, yb))
    assert res.pabak == pytest.approx(2 * res.percent_agreement - 1)
    assert res.n == 100 and sum(map(sum, res.table)) == 100


def test_kappa_se_matches_its_sampling_distribution():
    """The large-sample SE (Fleiss, Cohen & Everitt 1969) against the spread of kappa over
    seeded multinomial resamples of the same table."""
    t = np.array([[40, 9], [6, 45]])
    se = agreement_2x2(t).se
    rng = np.random.default_rng(0)
    ks = [agreement_2x2(rng.multinomial(100, (t / t.sum()).ravel()).reshape(2, 2)).kappa for _ in range(4000)]
    assert se == pytest.approx(np.std([k for k in ks if k is not None]), rel=0.05)


def test_undefined_kappa_and_empty_table():
    res = agreement_2x2([[0, 0], [0, 12]])  # both reviewers excluded everything
    assert res.kappa is None and res.percent_agreement == 1 and res.pabak == 1
    assert agreement_2x2([[0, 0], [0, 0]]).n == 0


def test_reasons_from_criteria():
    text = ("Inclusion criteria:\n- adults\n- randomised trials\n\nExclusion criteria:\n1. animal study\n"
            "2) conference abstract\n* not in English\n")
    assert reasons_from_criteria(text) == ["animal study", "conference abstract", "not in English"]
    assert reasons_from_criteria("- wrong population\n- wrong design\n") == ["wrong population", "wrong design"]
    assert reasons_from_criteria("Adults with diabetes.") == []
