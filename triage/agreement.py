"""Inter-rater agreement of two reviewers on a binary decision (pure functions, numpy only).

The 2x2 table counts records both reviewers screened, with include and maybe together as
"include" (relevant) against exclude: rows are the first reviewer, columns the second,
index 0 = include (+maybe), 1 = exclude.

Cohen's kappa (Cohen 1960): (p_o - p_e) / (1 - p_e). Its 95 % interval is kappa +- 1.96 SE with
the large-sample standard error of Fleiss, Cohen & Everitt (1969), "Large sample standard errors
of kappa and weighted kappa", Psychological Bulletin 72(5):323-327 (the non-null SE, as in
Fleiss, Levin & Paik, Statistical Methods for Rates and Proportions, 3rd ed., eq. 18.15), clipped
to [-1, 1]. PABAK (Byrt, Bishop & Carlin 1993): 2 p_o - 1, kappa adjusted for prevalence and bias.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import sqrt

import numpy as np

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Agreement:
    """Agreement of two reviewers. table[i][j]: records reviewer a put in class i and b in class j
    (0 = include or maybe, 1 = exclude). kappa / se / ci are None when undefined (no record, or
    both reviewers used one class only, so chance agreement is 1)."""

    n: int
    table: list
    percent_agreement: float | None
    kappa: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    pabak: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def agreement_2x2(table) -> Agreement:
    """Percent agreement, Cohen's kappa with its 95 % interval (Fleiss, Cohen & Everitt 1969 SE),
    and PABAK from a 2x2 count table (see the module docstring)."""
    t = np.asarray(table, dtype=float)
    if t.shape != (2, 2) or (t < 0).any():
        raise ValueError("a 2x2 table of non-negative counts is needed")
    n = int(t.sum())
    as_list = t.astype(int).tolist()
    if n == 0:
        return Agreement(0, as_list, None, None, None, None, None, None)
    p = t / n
    po = float(np.trace(p))
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    pe = float(rows @ cols)
    pabak = 2 * po - 1
    if pe >= 1 - 1e-12:
        return Agreement(n, as_list, po, None, None, None, None, pabak)
    k = (po - pe) / (1 - pe)
    diag = sum(p[i, i] * (1 - (rows[i] + cols[i]) * (1 - k)) ** 2 for i in range(2))
    off = (1 - k) ** 2 * sum(p[i, j] * (cols[i] + rows[j]) ** 2 for i in range(2) for j in range(2) if i != j)
    var = (diag + off - (k - pe * (1 - k)) ** 2) / (n * (1 - pe) ** 2)
    se = sqrt(max(var, 0.0))
    return Agreement(n, as_list, po, k, se, max(-1.0, k - Z_95 * se), min(1.0, k + Z_95 * se), pabak)


def table_of(labels_a: dict, labels_b: dict) -> tuple[list, list[int]]:
    """(2x2 table, ids of the records both screened) from two {record id: label} maps."""
    both = sorted(set(labels_a) & set(labels_b))
    t = [[0, 0], [0, 0]]
    for rid in both:
        t[labels_a[rid] == "exclude"][labels_b[rid] == "exclude"] += 1
    return t, both
