"""The stopping-rule interface: a frozen `RuleResult` and a registry of rule names.

A stopping rule is a pure function of a `History` plus, for the rules that read the model, a
`RuleInputs` (the current round's pool scores and the score each screened record had when it
was proposed), and for the certification rule a random sample. It never counts calls on itself
and never mutates its input, so a report can replay any rule at any prefix `history.at(k)`
(cf. tarexp `tarexp/component/stopping.py`, small-text `stopping_criteria/`).

Conventions used by every rule:
  * "screened" = decisions with origin RANKED or RANDOM, in labelling order. PRIOR labels are
    not screening effort but their relevant records count as relevant found.
  * recall is measured over all relevant records of the project (prior ones included).
  * `target` is the recall target (0 < target <= 1), `confidence` = 1 - alpha.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, field
from typing import Callable

import numpy as np

from triage.history import PRIOR, History


@dataclass(frozen=True)
class RuleResult:
    """What one stopping rule says about one history.

    name:                   rule name (a key of `evaluate_all`'s result).
    stop:                   the rule says the reviewer may stop now.
    guarantee:              True when `stop` carries a statistical guarantee (recall >= target with
                            `confidence`, under `assumption`); False for heuristics.
    recall_estimate:        point estimate of recall so far, or None when the rule has none.
    recall_lower/upper:     a confidence interval for recall (one-sided bounds leave upper None).
    confidence:             the confidence level of the interval / test, None for heuristics.
    est_relevant_remaining: estimated relevant records still in the pool, or None.
    extra:                  rule-specific numbers (p-value, knee position, ...), JSON-serialisable.
    assumption:             one sentence: what must hold for the result to mean anything.
    summary:                one plain sentence for the reviewer.
    """

    name: str
    stop: bool
    guarantee: bool
    _: KW_ONLY  # everything after the decision is named where a rule builds its result
    recall_estimate: float | None = None
    recall_lower: float | None = None
    recall_upper: float | None = None
    confidence: float | None = None
    est_relevant_remaining: float | None = None
    extra: dict = field(default_factory=dict)
    assumption: str = ""
    summary: str = ""

    def to_dict(self) -> dict:
        return {
            "name": self.name, "stop": self.stop, "guarantee": self.guarantee,
            "recall_estimate": self.recall_estimate, "recall_lower": self.recall_lower,
            "recall_upper": self.recall_upper, "confidence": self.confidence,
            "est_relevant_remaining": self.est_relevant_remaining, "extra": dict(self.extra),
            "assumption": self.assumption, "summary": self.summary,
        }


@dataclass(frozen=True)
class RuleInputs:
    """What a rule may read besides the History: the model's view of the records.

    pool_scores:   float64, shape (history.n_pool,): the current round's relevance score of each
                   pool record, in ascending record-id order (the order of the records not in the
                   history); None when no classifier has ranked the pool yet.
    probabilistic: True when the scores are P(relevant) in [0, 1]; False for margins (the SVM)
                   - rules needing probabilities then calibrate with `triage.learn.calibration`.
    screen_scores: float64, shape (len(history),): per history entry, the score the record had
                   in the round that proposed it (out of sample for that record); NaN for priors
                   and records proposed before a classifier existed. None when unknown.
    """

    pool_scores: np.ndarray | None = None
    probabilistic: bool = False
    screen_scores: np.ndarray | None = None

    @classmethod
    def coerce(cls, value: "RuleInputs | np.ndarray | None") -> "RuleInputs":
        """A RuleInputs from itself, from None (nothing), or from a bare array of pool
        probabilities (the form older callers pass)."""
        if value is None:
            return cls()
        if isinstance(value, RuleInputs):
            return value
        return cls(np.asarray(value, dtype=float), True, None)

    def at(self, k: int) -> "RuleInputs":
        """The same inputs with screen_scores cut to the first k history entries."""
        ss = None if self.screen_scores is None else self.screen_scores[:k]
        return RuleInputs(self.pool_scores, self.probabilistic, ss)


#: A rule bound to its parameters: (history, RuleInputs or None) -> RuleResult.
Rule = Callable[[History, "RuleInputs | None"], RuleResult]

#: name -> factory(target, confidence) -> Rule. Filled by `triage.stopping.rules`.
REGISTRY: dict[str, Callable[[float, float], Rule]] = {}


def register(name: str) -> Callable:
    """Decorator registering a rule factory `f(target, confidence) -> Rule` under `name`."""

    def deco(factory: Callable[[float, float], Rule]) -> Callable[[float, float], Rule]:
        if name in REGISTRY:
            raise ValueError(f"stopping rule {name!r} registered twice")
        REGISTRY[name] = factory
        return factory

    return deco


def check_target(target: float, confidence: float | None = None) -> None:
    if not 0.0 < target <= 1.0:
        raise ValueError(f"recall target must be in (0, 1], got {target}")
    if confidence is not None and not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def min_total_for_miss(r_seen: int | np.ndarray, target: float) -> int | np.ndarray:
    """Smallest total number of relevant records T with r_seen / T < target.

    floor(r_seen / target) + 1, computed with a 1e-9 guard so that e.g. 19 / 0.95 = 20 (which
    floating point gives as 20.000000000000004 or 19.999999999999996) is treated as exactly 20.
    Callaghan & Müller-Hansen (2020) write the hypergeometric K_tar = floor(r_seen/target - r_AL + 1),
    which is this value minus r_AL.
    """
    return np.floor(np.asarray(r_seen, dtype=float) / target + 1e-9).astype(np.int64) + 1


#: What a rule says once the pool is empty, whatever its own criterion would say.
ALL_SCREENED = "Stop: every record has been screened."


def split_prior(history: History) -> tuple[int, int, np.ndarray]:
    """(number of PRIOR labels, relevant among them, screened labels in order as int64)."""
    prior = history.origins == PRIOR
    return int(prior.sum()), int(history.labels[prior].sum()), history.labels[~prior].astype(np.int64)


def pct(x: float | None, digits: int = 0) -> str:
    """0.9312 -> '93 %' (None -> 'n/a')."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.{digits}f} %"
