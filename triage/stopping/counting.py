"""Counting-process stopping rules: fit the rate of relevant records along the ranking, bound
the relevant records left in the unscreened part, stop when the target is reached.

Sneyd, A. & Stevenson, M. (2021). Modelling stopping criteria for search results using Poisson
processes. EMNLP 2021, 3484-3496. doi:10.18653/v1/2021.emnlp-main.279
Sneyd, A. & Stevenson, M. (2021). Stopping criteria for technology assisted reviews based on
counting processes. SIGIR '21, 2293-2297. doi:10.1145/3404835.3463013
Stevenson, M. & Bin-Hezam, R. (2023). Stopping methods for technology-assisted reviews based on
point processes. ACM TOIS 42(3). doi:10.1145/3631990 (the hyperbolic rate)
Bin-Hezam, R. & Stevenson, M. (2023). Combining counting processes and classification improves
a stopping rule for technology assisted review. Findings of EMNLP 2023, 2603-2609.
doi:10.18653/v1/2023.findings-emnlp.171 (the classifier variant)

Method (as in the papers): the screened sequence (RANKED + RANDOM labels in order, s records)
is cut into `n_windows` equal windows; each window gives a point (x = its middle rank, y = its
share of relevant records). A rate curve lambda(x) is fitted to the points by least squares
(`fit_rate`):
exponential a e^{-k t}, power a t^{-k} or hyperbolic a / (1 + b k t)^{1/b}, with t = x / M and
M the records that can be screened (all records but the priors). The relevant records expected
in the unscreened ranks are mu = M * integral_{s/M}^{1} lambda(t) dt. Treating their count as
Poisson(mu) - or, with `dispersion` phi > 1, as negative binomial with variance phi * mu (a Cox
process with a gamma rate, for relevant records that come in clusters) - its `confidence`
quantile U bounds the relevant records left, and the rule stops when
r_seen / (r_seen + U) >= target.

Classifier variant (Bin-Hezam & Stevenson 2023): the unscreened part of the ranking is filled
with the classifier's P(relevant) of the pool records, sorted from most to least likely, and
the windows span the whole ranking (screened labels, then pool probabilities), so the curve's
tail follows the model instead of an extrapolation. Margins are Platt-scaled first
(`triage.stopping.quantci.pool_probabilities`).

These are estimates without an exact guarantee (guarantee=False): the fitted curve must
describe the ranking's tail.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import nbinom, poisson

from triage.stopping.base import ALL_SCREENED, RuleInputs, RuleResult, check_target, pct, split_prior
from triage.history import History

NAME = "counting_process"
NAME_CLF = "counting_process_clf"
MODELS = ("exponential", "power", "hyperbolic")
ASSUMPTION = ("The rate of relevant records falls along the ranking as the fitted curve says, and the "
              "ranking's tail holds no cluster of relevant records the curve cannot see.")
ASSUMPTION_CLF = ("The rate of relevant records along the ranking follows the screened labels and the "
                  "classifier's (calibrated) probabilities of the pool records.")


# -- rate curves: lambda(t) and its integral F(t) with F(0) = 0, t in (0, 1] ------------------
def _rate(model: str):
    if model == "exponential":
        return lambda t, a, k: a * np.exp(-k * t)
    if model == "power":
        return lambda t, a, k: a * np.power(t, -k)
    if model == "hyperbolic":
        return lambda t, a, b, k: a / np.power(1.0 + b * k * t, 1.0 / b)
    raise ValueError(f"unknown rate model {model!r}; known: {', '.join(MODELS)}")


def rate_integral(model: str, params, t0, t1):
    """integral_{t0}^{t1} lambda(t) dt for the fitted rate (t in units of M records)."""
    t0, t1 = np.asarray(t0, dtype=float), np.asarray(t1, dtype=float)
    if model == "exponential":
        a, k = params
        if abs(k) < 1e-12:
            return a * (t1 - t0)
        return a / k * (np.exp(-k * t0) - np.exp(-k * t1))
    if model == "power":
        a, k = params
        if abs(1.0 - k) < 1e-9:
            return a * (np.log(t1) - np.log(t0))
        return a / (1.0 - k) * (np.power(t1, 1.0 - k) - np.power(t0, 1.0 - k))
    if model == "hyperbolic":
        a, b, k = params
        if abs(k) < 1e-12:
            return a * (t1 - t0)
        if abs(b - 1.0) < 1e-9:
            return a / k * (np.log1p(k * t1) - np.log1p(k * t0))
        e = 1.0 - 1.0 / b
        return a / (k * (b - 1.0)) * (np.power(1.0 + b * k * t1, e) - np.power(1.0 + b * k * t0, e))
    raise ValueError(f"unknown rate model {model!r}")


def window_points(values: np.ndarray, n_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): middle rank (1-based) and mean of `values` in each of `n_windows` equal windows
    (np.array_split; fewer windows when there are fewer values). Shapes (w,), (w,)."""
    values = np.asarray(values, dtype=float)
    parts = np.array_split(np.arange(len(values)), min(n_windows, len(values)))
    x = np.array([(p[0] + p[-1]) / 2.0 + 1.0 for p in parts])
    y = np.array([values[p].mean() for p in parts])
    return x, y


#: Shape-parameter grids for the least-squares fit (k: decay per M records; b: hyperbolic shape).
_K_GRID = {"exponential": np.concatenate([[0.0], np.geomspace(1e-2, 1e4, 600)]),
           "power": np.linspace(0.0, 5.0, 501),
           "hyperbolic": np.concatenate([[0.0], np.geomspace(1e-2, 1e4, 240)])}
_B_GRID = np.geomspace(1e-2, 10.0, 12)


def fit_rate(model: str, x: np.ndarray, y: np.ndarray, M: int):
    """Least-squares fit of the rate curve to points (x ranks, y rates): params or None.

    The rate may not increase along the ranking (k >= 0; power k in [0, 5]; hyperbolic b in
    [0.01, 10]). For a fixed shape the scale a has the closed form a = sum(y f) / sum(f^2), so
    the fit searches the shape on a grid (then a finer grid around the best value): the same
    criterion as the papers' `curve_fit`, deterministic and far faster (replays fit thousands of times)."""
    t = np.asarray(x, dtype=float) / M
    y = np.asarray(y, dtype=float)
    if not len(t) or not np.all(np.isfinite(y)):
        return None

    def best(F: np.ndarray) -> tuple[int, float, float]:  # F: (n_shapes, n_points) curve values at a = 1
        den = np.einsum("ij,ij->i", F, F)
        a = np.where(den > 0, (F @ y) / np.where(den > 0, den, 1.0), 0.0)
        a = np.maximum(a, 0.0)
        sse = ((y[None, :] - a[:, None] * F) ** 2).sum(axis=1)
        i = int(np.argmin(sse))
        return i, float(a[i]), float(sse[i])

    def curves(k: np.ndarray, b: float | None = None) -> np.ndarray:
        if model == "exponential":
            return np.exp(-np.outer(k, t))
        if model == "power":
            return np.power(t[None, :], -k[:, None])
        return 1.0 / np.power(1.0 + b * np.outer(k, t), 1.0 / b)

    def refine(grid: np.ndarray, i: int, b: float | None = None) -> tuple[float, float, float]:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        fine = np.linspace(lo, hi, 41)
        j, a, sse = best(curves(fine, b))
        return float(fine[j]), a, sse

    grid = _K_GRID.get(model)
    if grid is None:
        raise ValueError(f"unknown rate model {model!r}; known: {', '.join(MODELS)}")
    if model != "hyperbolic":
        i, _, _ = best(curves(grid))
        k, a, _ = refine(grid, i)
        return (a, k)
    fits = []
    for b in _B_GRID:
        i, _, _ = best(curves(grid, b))
        k, a, sse = refine(grid, i, b)
        fits.append((sse, a, float(b), k))
    sse, a, b, k = min(fits)
    return (a, b, k)


def count_quantile(mu: float, q: float, dispersion: float = 1.0) -> int:
    """The q-quantile of the count of relevant records left: Poisson(mu), or negative binomial
    with mean mu and variance dispersion * mu when dispersion > 1."""
    if mu <= 0:
        return 0
    if dispersion <= 1.0:
        return int(poisson.ppf(q, mu))
    n = mu / (dispersion - 1.0)
    return int(nbinom.ppf(q, n, 1.0 / dispersion))


def _result(name: str, stop: bool, est, lo, hi, conf, rem, extra, assumption, summary) -> RuleResult:
    return RuleResult(name, bool(stop), False, recall_estimate=est, recall_lower=lo, recall_upper=hi,
                      confidence=conf, est_relevant_remaining=rem, extra=extra, assumption=assumption,
                      summary=summary)


def counting_process(history: History, inputs: RuleInputs | np.ndarray | None = None, target: float = 0.95,
                     confidence: float = 0.95, model: str = "exponential", dispersion: float = 1.0,
                     n_windows: int = 10, min_relevant: int = 10, use_classifier: bool = False) -> RuleResult:
    """Counting-process rule (module docstring). extra = {model, params, mu, upper, screen_more,
    fitted}; est_relevant_remaining = mu; recall interval r / (r + U) .. r / (r + L) with U, L the
    `confidence` and 1 - `confidence` quantiles of the count left.

    min_relevant: relevant records the screened sequence must hold before a curve is fitted
    (Sneyd & Stevenson require enough relevant documents in the sample)."""
    check_target(target, confidence)
    if model not in MODELS:
        raise ValueError(f"unknown rate model {model!r}; known: {', '.join(MODELS)}")
    name = NAME_CLF if use_classifier else NAME
    assumption = ASSUMPTION_CLF if use_classifier else ASSUMPTION
    n_prior, r_prior, seq = split_prior(history)
    s = len(seq)
    r = r_prior + int(seq.sum())
    pool = history.n_pool
    extra = {"model": model, "dispersion": dispersion, "params": None, "mu": None, "upper": None,
             "screen_more": None, "fitted": False}
    if pool == 0:
        return _result(name, True, 1.0, 1.0, 1.0, confidence, 0.0, dict(extra, screen_more=0), assumption,
                       ALL_SCREENED)
    if int(seq.sum()) < min_relevant:
        return _result(name, False, None, None, None, confidence, None, extra, assumption,
                       f"Continue: {int(seq.sum())} relevant records screened; the rate curve needs at least "
                       f"{min_relevant}.")
    M = history.n_records - n_prior
    if use_classifier:
        from triage.stopping.quantci import pool_probabilities

        probs, how = pool_probabilities(history, inputs)
        if probs is None:
            return _result(name, False, None, None, None, confidence, None, extra, assumption,
                           f"Continue: no classifier estimate yet ({how}).")
        extra["calibration"] = how
        x, y = window_points(np.concatenate([seq, np.sort(np.asarray(probs, dtype=float))[::-1]]), n_windows)
    else:
        x, y = window_points(seq, n_windows)
    params = fit_rate(model, x, y, M)
    if params is None:
        return _result(name, False, None, None, None, confidence, None, extra, assumption,
                       "Continue: the rate curve could not be fitted to the screened records.")
    mu = float(min(max(rate_integral(model, params, s / M, 1.0) * M, 0.0), pool))
    U = min(count_quantile(mu, confidence, dispersion), pool)
    L = min(count_quantile(mu, 1.0 - confidence, dispersion), pool)
    est, lower = (r / (r + mu) if r + mu > 0 else None), (r / (r + U) if r + U > 0 else None)
    upper = r / (r + L) if r + L > 0 else None
    stop = r > 0 and r >= target * (r + U) - 1e-9
    # expected records until the fitted curve reaches the target: F(t) - F(s/M) = need / M
    need = target * (r + mu) - r
    if stop or need <= 0:
        more = 0
    else:
        grid = np.arange(s + 1, s + pool + 1, dtype=float)
        gained = rate_integral(model, params, s / M, grid / M) * M
        hit = np.flatnonzero(gained >= need)
        more = int(hit[0] + 1) if hit.size else int(pool)
    extra.update(params=list(params), mu=mu, upper=U, screen_more=more, fitted=True)
    if stop:
        summary = (f"Stop: the fitted {model} rate leaves about {mu:.1f} relevant records unscreened (at most "
                   f"{U} with {pct(confidence)} confidence): recall at least {pct(lower)}. Estimate, no exact "
                   "guarantee.")
    else:
        summary = (f"Continue: the fitted {model} rate leaves about {mu:.1f} relevant records unscreened (up to "
                   f"{U}): recall about {pct(est)} (at least {pct(lower)}); screen about {more} more records.")
    return _result(name, stop, est, lower, upper, confidence, mu, extra, assumption, summary)

