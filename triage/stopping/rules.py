"""Bound rules, combinations, `evaluate_all` and fast replay (`first_stop`).

A `Rule` is a rule with its parameters fixed: call it on (history, RuleInputs or None) to get a
RuleResult (`RuleInputs` in base.py: the pool's scores and the screened records' scores). Rules with a vectorised `replay` (the statistical rule, the run of
irrelevant records, combinations of such rules) replay a 9,000-record history in about a
second; the others are evaluated prefix by prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from triage.stopping import heuristics
from triage.stopping.base import REGISTRY, RuleInputs, RuleResult, check_target, pct, register, split_prior
from triage.stopping.counting import counting_process
from triage.stopping.posterior import counting_posterior
from triage.stopping.posterior import first_stop as posterior_first_stop
from triage.stopping.quantci import quantci
from triage.stopping.sample import CertificationSample, random_sample
from triage.stopping.statistical import statistical, statistical_replay
from triage.history import History

#: k -> the RuleInputs of `history.at(k)` (pool scores of that prefix's pool, screen scores of its
#: first k entries), or None when no scores are known there. A bare array is read as probabilities.
ScoresAt = Callable[[int], "RuleInputs | np.ndarray | None"]


@dataclass(frozen=True)
class Rule:
    """A stopping rule with fixed parameters.

    evaluate: (history, RuleInputs) -> RuleResult.
    replay:   optional fast path (history, scores_at or None) -> bool array of shape
              (len(history) + 1,), entry k = whether the rule stops on `history.at(k)`.
    uses_scores: whether the rule reads RuleInputs (replays then need scores_at).
    """

    name: str
    evaluate: Callable[[History, RuleInputs], RuleResult]
    replay: Callable[[History, "ScoresAt | None"], np.ndarray] | None = None
    uses_scores: bool = False

    def __call__(self, history: History, inputs: "RuleInputs | np.ndarray | None" = None) -> RuleResult:
        return self.evaluate(history, RuleInputs.coerce(inputs))


def _rename(r: RuleResult, name: str) -> RuleResult:
    d = r.to_dict()
    d["name"] = name
    return RuleResult(**d)


def combine_results(name: str, mode: str, results: Sequence[RuleResult]) -> RuleResult:
    """Combine component results. mode 'any': stop when any component stops; 'all': when all do.

    Confidence is the Bonferroni bound over the guaranteed components (1 - sum of alphas), valid
    for all their bounds at once; recall_lower is the largest guaranteed lower bound. `guarantee`
    is True for 'any' only when every component has one (any firing rule then is covered at
    that confidence), for 'all' when at least one does.
    """
    if mode not in ("any", "all") or not results:
        raise ValueError("combine_results needs mode 'any' or 'all' and at least one result")
    stop = any(r.stop for r in results) if mode == "any" else all(r.stop for r in results)
    g = [r for r in results if r.guarantee and r.confidence is not None]
    guarantee = (len(g) == len(results)) if mode == "any" else bool(g)
    conf = max(0.0, 1.0 - sum(1.0 - r.confidence for r in g)) if g else None
    lowers = [r.recall_lower for r in g if r.recall_lower is not None]
    ests = [r.recall_estimate for r in results if r.recall_estimate is not None]
    rems = [r.est_relevant_remaining for r in results if r.est_relevant_remaining is not None]
    word = "any" if mode == "any" else "all"
    fired = [r.name for r in results if r.stop]
    summary = (f"{'Stop' if stop else 'Continue'}: {word} of {', '.join(r.name for r in results)} "
               f"({', '.join(fired) + ' says stop' if fired else 'none says stop'}).")
    if not guarantee:
        summary += " No statistical guarantee as a whole."
    return RuleResult(name, bool(stop), guarantee, recall_estimate=ests[0] if ests else None,
                      recall_lower=max(lowers) if lowers else None, confidence=conf,
                      est_relevant_remaining=rems[0] if rems else None,
                      extra={"mode": mode, "components": {r.name: r.stop for r in results}},
                      assumption=" AND ".join(dict.fromkeys(r.assumption for r in results if r.assumption)),
                      summary=summary)


def _combine(mode: str, rules: Sequence[Rule], name: str | None) -> Rule:
    if not rules:
        raise ValueError("a combination needs at least one rule")
    name = name or f"{mode}_of(" + ",".join(r.name for r in rules) + ")"

    def evaluate(h: History, inputs: RuleInputs) -> RuleResult:
        return combine_results(name, mode, [r(h, inputs) for r in rules])

    def replay(h: History, scores_at: ScoresAt | None) -> np.ndarray:
        vs = [replay_rule(h, r, scores_at) for r in rules]
        return np.logical_or.reduce(vs) if mode == "any" else np.logical_and.reduce(vs)

    return Rule(name, evaluate, replay, any(r.uses_scores for r in rules))


def any_of(*rules: Rule, name: str | None = None) -> Rule:
    """Stop as soon as any of `rules` stops."""
    return _combine("any", rules, name)


def all_of(*rules: Rule, name: str | None = None) -> Rule:
    """Stop only when all of `rules` stop."""
    return _combine("all", rules, name)


# -- bound rules ------------------------------------------------------------------------------
@register("statistical")
def statistical_rule(target: float = 0.95, confidence: float = 0.95) -> Rule:
    check_target(target, confidence)
    return Rule("statistical", lambda h, p: statistical(h, target, confidence),
                lambda h, s: statistical_replay(h, target, confidence))


@register("statistical_midp")
def statistical_midp_rule(target: float = 0.95, confidence: float = 0.95) -> Rule:
    check_target(target, confidence)
    return Rule("statistical_midp", lambda h, p: statistical(h, target, confidence, mid_p=True),
                lambda h, s: statistical_replay(h, target, confidence, mid_p=True))


def consecutive_irrelevant_rule(n: int = 50) -> Rule:
    def replay(h: History, scores_at: ScoresAt | None) -> np.ndarray:
        n_prior, _, seq = split_prior(h)
        out = np.zeros(len(h) + 1, dtype=bool)
        if n_prior and not (h.origins[:n_prior] == 0).all():
            return _generic_replay(h, rule, scores_at)
        # run length of trailing zeros after each screened prefix
        run = np.zeros(len(seq), dtype=np.int64)
        last_one = -1
        for i, v in enumerate(seq):  # cheap: one pass of Python ints over <= 10^4 values
            if v:
                last_one = i
            run[i] = i - last_one
        out[n_prior + 1:] = run >= n
        out[h.n_records - np.arange(len(h) + 1) == 0] = True
        return out

    rule = Rule("consecutive_irrelevant", lambda h, p: heuristics.consecutive_irrelevant(h, n), replay)
    return rule


REGISTRY["consecutive_irrelevant"] = lambda target=0.95, confidence=0.95: consecutive_irrelevant_rule(50)
REGISTRY["knee"] = lambda target=0.95, confidence=0.95: Rule("knee", lambda h, p: heuristics.knee(h))
REGISTRY["budget"] = lambda target=0.95, confidence=0.95: Rule("budget", lambda h, p: heuristics.budget(h))
REGISTRY["safe"] = lambda target=0.95, confidence=0.95: Rule("safe", lambda h, p: heuristics.safe(h))
REGISTRY["quantci"] = lambda target=0.95, confidence=0.95: Rule(
    "quantci", lambda h, p: quantci(h, p, target, confidence), uses_scores=True)


def counting_process_rule(target: float = 0.95, confidence: float = 0.95, model: str = "exponential",
                          dispersion: float = 1.0, n_windows: int = 10, min_relevant: int = 10,
                          use_classifier: bool = False, name: str | None = None) -> Rule:
    """A counting-process rule (`triage.stopping.counting`) with fixed parameters."""
    check_target(target, confidence)
    name = name or ("counting_process_clf" if use_classifier else "counting_process")

    def evaluate(h: History, inputs: RuleInputs) -> RuleResult:
        return _rename(counting_process(h, inputs, target, confidence, model, dispersion, n_windows,
                                        min_relevant, use_classifier), name)

    return Rule(name, evaluate, uses_scores=use_classifier)


REGISTRY["counting_process"] = lambda target=0.95, confidence=0.95: counting_process_rule(target, confidence)
REGISTRY["counting_process_clf"] = lambda target=0.95, confidence=0.95: counting_process_rule(
    target, confidence, use_classifier=True)


#: Parameters of the posterior counting process (triage/stopping/posterior.py) per recall target:
#: (b of the Beta(1, b) prior of the share of relevant records the ranking cannot find, spike = prior
#: probability that it finds them all, predictive probability required at confidence 0.95). Chosen
#: by leave-one-review-out on the default preset's histories without and with the review question
#: (41 reviews x 5 seeds each; BENCHMARKS.md section 4): the 0.95 entry in 400 of 410 held-out folds,
#: the 0.90 entry in 390 of 410. Other targets use the nearest entry.
POSTERIOR_PARAMS = {0.95: (10.0, 0.75, 0.95), 0.90: (5.0, 0.25, 0.95)}


def posterior_params(target: float) -> tuple[float, float, float]:
    """(prior_b, spike, predictive probability at confidence 0.95) for `target` (POSTERIOR_PARAMS)."""
    return POSTERIOR_PARAMS[min(POSTERIOR_PARAMS, key=lambda t: (abs(t - target), -t))]


def posterior_probability(confidence: float, calibrated: float) -> float:
    """The predictive probability the posterior rule requires for a requested `confidence`:
    `calibrated` (what the selection chose) at 0.95, the risk scaled in proportion otherwise
    (0.99 asks for a risk five times smaller)."""
    return 1.0 - (1.0 - confidence) * (1.0 - calibrated) / 0.05


def counting_posterior_rule(target: float = 0.95, confidence: float = 0.95, prior_b: float | None = None,
                            spike: float | None = None, name: str = "counting_posterior") -> Rule:
    """The posterior counting process (`triage.stopping.posterior`) with the parameters chosen for
    `target` (`posterior_params`; prior_b / spike override them); it requires the predictive
    probability `posterior_probability(confidence, ...)`."""
    check_target(target, confidence)
    chosen_b, chosen_spike, calibrated = posterior_params(target)
    prior_b = chosen_b if prior_b is None else prior_b
    spike = chosen_spike if spike is None else spike
    prob = posterior_probability(confidence, calibrated)
    check_target(target, prob)

    def replay(h: History, scores_at: ScoresAt | None) -> np.ndarray:  # exact for first_stop
        out = np.zeros(len(h) + 1, dtype=bool)
        k = posterior_first_stop(h, target, prob, prior_b, spike)
        if k is not None:
            out[k:] = True
        return out

    return Rule(name, lambda h, i: counting_posterior(h, i, target, prob, prior_b, name, spike), replay)


REGISTRY["counting_posterior"] = counting_posterior_rule


def random_sample_rule(sample: CertificationSample, target: float = 0.95, confidence: float = 0.95) -> Rule:
    """The certification rule bound to one drawn sample (not in REGISTRY: it needs a sample)."""
    return Rule("random_sample", lambda h, p: random_sample(h, sample, target, confidence))


#: Slope ratio at the knee (Cormack & Grossman 2016) from which `statistical_knee` trusts mid-p values.
#: Chosen on simulations with seeds 4-8 among 6, 10, 20 and checked on other seeds
#: (benchmarks/results/stopping.md).
DEFAULT_KNEE_RHO = 20.0
STATISTICAL_KNEE_DESCRIPTION = (
    "statistical (Callaghan & Müller-Hansen 2020), or its mid-p variant once the gain curve has "
    f"a knee with slope ratio >= {DEFAULT_KNEE_RHO:g} (the ranking demonstrably works)")


def _knee_rho(history: History) -> float:
    _, _, seq = split_prior(history)
    return heuristics.knee_point(np.cumsum(seq))[1]


def statistical_knee_rule(target: float = 0.95, confidence: float = 0.95) -> Rule:
    """The conservative reference (triage's default until issue #12): stop when the exact
    statistical rule stops, or earlier when the mid-p version of the same test stops *and* the
    gain curve shows that the ranking works (slope ratio at the knee >= DEFAULT_KNEE_RHO,
    Cormack & Grossman 2016).

    Why: the exact test's p-values are conservative for a ranked tail, the mid-p values
    (Lancaster 1961) less so; the mid-p test alone missed the target too often on datasets whose
    ranking was little better than random (benchmarks/results/stopping.md), which the knee gate
    excludes. guarantee=True only when the exact test stops; recall_lower is the exact bound.
    """
    check_target(target, confidence)
    name = "statistical_knee"

    def evaluate(h: History, inputs: RuleInputs) -> RuleResult:
        exact = statistical(h, target, confidence)
        mid = statistical(h, target, confidence, mid_p=True)
        rho = _knee_rho(h)
        gated = mid.stop and rho >= DEFAULT_KNEE_RHO
        stop = exact.stop or gated
        extra = dict(exact.extra, mid_p_value=mid.extra["p_value"], knee_rho=rho,
                     more_irrelevant_needed=(0 if stop else
                                             (mid.extra["more_irrelevant_needed"] if rho >= DEFAULT_KNEE_RHO
                                              else exact.extra["more_irrelevant_needed"])),
                     stopped_by="exact test" if exact.stop else ("mid-p test with a knee" if gated else None))
        if exact.stop:
            summary = exact.summary
        elif gated:
            summary = (f"Stop: the mid-p test rejects recall below {pct(target)} (p = {mid.extra['p_value']:.3g}) and "
                       f"the ranking has a clear knee (slope ratio {rho:.0f}); approximate, no exact guarantee "
                       f"(the exact bound is {pct(exact.recall_lower)}).")
        else:
            summary = exact.summary + (f" The knee's slope ratio is {rho:.1f}; from {DEFAULT_KNEE_RHO:g} the "
                                       "mid-p test applies.")
        return RuleResult(name, bool(stop), bool(exact.stop), recall_lower=exact.recall_lower,
                          confidence=confidence, extra=extra, assumption=exact.assumption, summary=summary)

    def replay(h: History, scores_at: ScoresAt | None) -> np.ndarray:
        exact = statistical_replay(h, target, confidence)
        mid = statistical_replay(h, target, confidence, mid_p=True)
        out = exact.copy()
        for k in np.flatnonzero(mid & ~exact):
            out[k] = _knee_rho(h.at(int(k))) >= DEFAULT_KNEE_RHO
        return out

    return Rule(name, evaluate, replay)


REGISTRY["statistical_knee"] = statistical_knee_rule


def gated_rule(estimate: Rule, gate: float, target: float = 0.95, confidence: float = 0.95,
               name: str = "gated") -> Rule:
    """An estimate gated by the exact test: stop when the exact statistical rule stops at
    `target` (guarantee), or when `estimate` says stop AND the exact test already rejects recall
    below `gate` (its recall lower bound is at least `gate` with `confidence`).

    The gate keeps a fitted curve from stopping on the few relevant records of an early,
    misleading stretch; the estimate stops far earlier than the exact test once the ranking's
    tail is thin. Reported fields (estimate, interval, remaining, 'screen about N more') are
    the estimate's; guarantee=True only when the exact test stops. extra holds both components.
    """
    check_target(target, confidence)
    check_target(gate)

    def evaluate(h: History, inputs: RuleInputs) -> RuleResult:
        exact = statistical(h, target, confidence)
        gate_r = statistical(h, gate, confidence)
        est = estimate(h, inputs)
        gated = est.stop and gate_r.stop
        stop = exact.stop or gated
        more = est.extra.get("screen_more")
        if more is None:  # no fitted curve yet: the exact test's run of irrelevant records
            more = exact.extra.get("more_irrelevant_needed")
        extra = {"estimate": est.to_dict(), "exact": exact.to_dict(), "gate": gate, "gate_passed": gate_r.stop,
                 "stopped_by": "exact test" if exact.stop else ("estimate with gate" if gated else None),
                 "screen_more": 0 if stop else more, "exact_lower": exact.recall_lower}
        lower = est.recall_lower if est.recall_lower is not None else exact.recall_lower
        if h.n_pool == 0:
            summary = exact.summary
        elif exact.stop:
            summary = (f"Stop: {exact.summary[6:]}" if exact.summary.startswith("Stop: ") else exact.summary)
        elif gated:
            summary = (f"Stop: {est.summary[6:]} The exact test confirms recall of at least "
                       f"{pct(exact.recall_lower)} with {pct(confidence)} confidence.")
        elif est.stop:
            summary = (f"Continue: the {estimate.name} estimate would stop, but the exact test cannot yet confirm "
                       f"recall of {pct(gate)} (it shows at least {pct(exact.recall_lower)}).")
        else:
            summary = est.summary
        assumption = (f"{est.assumption} The exact test's assumption: {exact.assumption[0].lower()}"
                      f"{exact.assumption[1:]}")
        return RuleResult(name, bool(stop), bool(exact.stop), recall_estimate=est.recall_estimate,
                          recall_lower=lower, recall_upper=est.recall_upper, confidence=confidence,
                          est_relevant_remaining=est.est_relevant_remaining, extra=extra,
                          assumption=assumption, summary=summary)

    def replay(h: History, scores_at: ScoresAt | None) -> np.ndarray:
        # The estimate is evaluated prefix by prefix only where the gate passes and only up to
        # the first stop; every later entry is set True (the reviewer has stopped there), so the
        # result is exact for `first_stop` and for `any_of`, approximate inside `all_of`.
        exact = statistical_replay(h, target, confidence)
        passed = statistical_replay(h, gate, confidence)
        out = exact.copy()
        first_exact = int(np.argmax(exact)) if exact.any() else len(out)
        for k in np.flatnonzero(passed & ~exact):
            k = int(k)
            if k > first_exact:
                break
            if estimate(h.at(k), scores_at(k) if scores_at is not None else None).stop:
                out[k:] = True
                break
        return out

    return Rule(name, evaluate, replay, estimate.uses_scores)


#: Parameters of the gated counting process measured as a default candidate (provisional values;
#: benchmarks/stopping_eval.py names it cp_exp_d1+gate0.8).
DEFAULT_MODEL = "exponential"
DEFAULT_DISPERSION = 1.0
DEFAULT_MIN_RELEVANT = 10
DEFAULT_GATE = 0.8
POSTERIOR_DESCRIPTION = (
    "counting_posterior, a counting process over the ranking that keeps the uncertainty of the fitted "
    "rate (a decaying rate plus a share of relevant records the ranking cannot find); it stops when the "
    "relevant records left are few enough for the target with the probability chosen by "
    "leave-one-review-out on 41 benchmark reviews")
#: The default: the posterior counting process, chosen by leave-one-review-out over the benchmark
#: reviews' histories of the default preset with and without the review question, at targets 0.95
#: and 0.90 (BENCHMARKS.md section 4). statistical_knee, with its guarantee, stays in the table as
#: the conservative reference.
DEFAULT_DESCRIPTION = POSTERIOR_DESCRIPTION


def gated_counting_rule(target: float = 0.95, confidence: float = 0.95) -> Rule:
    """`gated_rule` of a counting process with the DEFAULT_* parameters."""
    cp = counting_process_rule(target, confidence, DEFAULT_MODEL, DEFAULT_DISPERSION,
                               min_relevant=DEFAULT_MIN_RELEVANT)
    return gated_rule(cp, DEFAULT_GATE, target, confidence, name="counting_process_gated")


REGISTRY["counting_process_gated"] = gated_counting_rule


def default_rule(target: float = 0.95, confidence: float = 0.95) -> Rule:
    """The recommended rule (see DEFAULT_DESCRIPTION): `counting_posterior` under the name default."""
    r = counting_posterior_rule(target, confidence)
    return Rule("default", lambda h, i: _rename(r.evaluate(h, i), "default"), r.replay, r.uses_scores)


REGISTRY["default"] = default_rule


def make_rule(name: str, target: float = 0.95, confidence: float = 0.95) -> Rule:
    """A registered rule by name, bound to target and confidence."""
    if name not in REGISTRY:
        raise KeyError(f"unknown stopping rule {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](target, confidence)


# -- evaluation -------------------------------------------------------------------------------
#: Order in which `evaluate_all` lists the rules (registered rules not named here follow).
RULE_ORDER = ("default", "statistical_knee", "statistical", "statistical_midp", "counting_posterior",
              "counting_process_gated", "counting_process",
              "counting_process_clf", "quantci", "random_sample", "knee", "budget", "safe", "consecutive_irrelevant")


def evaluate_all(history: History, inputs: "RuleInputs | np.ndarray | None" = None, target: float = 0.95,
                 confidence: float = 0.95, sample: CertificationSample | None = None) -> dict[str, RuleResult]:
    """Every registered rule on one history: {name: RuleResult}, default first (RULE_ORDER);
    random_sample only when `sample` is given.

    inputs: RuleInputs (pool scores, probabilistic flag, screened records' scores), a bare array
    of pool probabilities, or None (rules needing scores then say why they cannot estimate).
    """
    check_target(target, confidence)
    inputs = RuleInputs.coerce(inputs)
    names = [n for n in RULE_ORDER if n in REGISTRY] + sorted(set(REGISTRY) - set(RULE_ORDER))
    out = {}
    for name in names:
        out[name] = REGISTRY[name](target, confidence)(history, inputs)
        if name == "quantci" and sample is not None:
            out["random_sample"] = random_sample(history, sample, target, confidence)
    if sample is not None and "random_sample" not in out:
        out["random_sample"] = random_sample(history, sample, target, confidence)
    return out


def _generic_replay(history: History, rule: Rule, scores_at: ScoresAt | None, check_every: int = 1,
                    first_only: bool = False) -> np.ndarray:
    L = len(history)
    out = np.zeros(L + 1, dtype=bool)
    ks = list(range(check_every, L + 1, check_every))
    if not ks or ks[-1] != L:
        ks.append(L)
    for k in ks:
        h = history.at(k)
        out[k] = rule(h, scores_at(k) if scores_at is not None else None).stop
        if first_only and out[k]:
            break
    return out


def replay_rule(history: History, rule: Rule, scores_at: ScoresAt | None = None) -> np.ndarray:
    """Bool array of shape (len(history) + 1,): whether `rule` stops on each prefix."""
    if rule.replay is not None:
        return rule.replay(history, scores_at)
    return _generic_replay(history, rule, scores_at)


def first_stop(history: History, rule: str | Rule, pool_scores_at: ScoresAt | None = None,
               check_every: int = 1, target: float = 0.95, confidence: float = 0.95) -> int | None:
    """Replay `rule` over the prefixes of `history` and return the first prefix length k (number
    of history entries, PRIOR labels included) at which it says stop, or None if it never does.

    rule: a registered name (bound to target/confidence) or a Rule.
    pool_scores_at: k -> RuleInputs of `history.at(k)` (for rules reading scores), or None.
    check_every: only prefixes k that are multiples of it (and the full history) are checked,
    as when the rule is consulted once per batch.
    """
    if check_every < 1:
        raise ValueError("check_every must be >= 1")
    if isinstance(rule, str):
        rule = make_rule(rule, target, confidence)
    if rule.replay is not None:
        stops = rule.replay(history, pool_scores_at)
    else:
        stops = _generic_replay(history, rule, pool_scores_at, check_every, first_only=True)
    L = len(history)
    mask = np.zeros(L + 1, dtype=bool)
    mask[check_every::check_every] = True
    mask[L] = True
    hits = np.flatnonzero(stops & mask)
    return int(hits[0]) if hits.size else None
