"""Stopping rules: pure functions of the labelling history (and current scores where needed).

Public API: `evaluate_all`, `first_stop`, `make_rule`, `any_of`, `all_of`, the rule functions
(`statistical`, `random_sample`, `quantci`, heuristics) and `RuleResult`.
"""

from triage.stopping.base import REGISTRY, RuleResult
from triage.stopping.heuristics import budget, consecutive_irrelevant, knee, safe
from triage.stopping.quantci import quantci
from triage.stopping.rules import (Rule, all_of, any_of, default_rule, evaluate_all, first_stop, make_rule,
                                   random_sample_rule, replay_rule)
from triage.stopping.sample import (CertificationSample, certification_sample_size, draw_sample, random_sample,
                                    target_method_size)
from triage.stopping.statistical import statistical

__all__ = [
    "REGISTRY", "RuleResult", "Rule", "all_of", "any_of", "budget", "consecutive_irrelevant", "knee", "safe",
    "quantci", "default_rule", "evaluate_all", "first_stop", "make_rule", "random_sample_rule", "replay_rule",
    "CertificationSample", "certification_sample_size", "draw_sample", "random_sample", "target_method_size",
    "statistical",
]
