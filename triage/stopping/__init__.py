"""Stopping rules: pure functions of the labelling history (and current scores where needed).

Public API: `evaluate_all`, `first_stop`, `make_rule`, `any_of`, `all_of`, `gated_rule`, the rule
functions (`statistical`, `counting_process`, `random_sample`, `quantci`, heuristics), `RuleResult`
and `RuleInputs` (what score-reading rules receive besides the History).
"""

from triage.stopping.base import REGISTRY, RuleInputs, RuleResult
from triage.stopping.heuristics import budget, consecutive_irrelevant, knee, safe
from triage.stopping.quantci import quantci
from triage.stopping.counting import counting_process
from triage.stopping.rules import (Rule, all_of, any_of, counting_process_rule, default_rule, evaluate_all, first_stop,
                                   gated_rule, make_rule, random_sample_rule, replay_rule, statistical_knee_rule)
from triage.stopping.sample import (CertificationSample, certification_sample_size, draw_sample, random_sample,
                                    target_method_size)
from triage.stopping.statistical import statistical

__all__ = [
    "REGISTRY", "RuleInputs", "RuleResult", "counting_process", "counting_process_rule", "gated_rule",
    "statistical_knee_rule", "Rule", "all_of", "any_of", "budget", "consecutive_irrelevant", "knee", "safe",
    "quantci", "default_rule", "evaluate_all", "first_stop", "make_rule", "random_sample_rule", "replay_rule",
    "CertificationSample", "certification_sample_size", "draw_sample", "random_sample", "target_method_size",
    "statistical",
]

# The one registry of pluggable parts (triage.registry) lists the stopping rules too: each is a
# factory of (target, confidence). Mirrored once, after every module above has registered.
from triage import registry as _registry  # noqa: E402

for _name, _factory in sorted(REGISTRY.items()):
    _registry.register("stopping", _name, {"target": 0.95, "confidence": 0.95},
                       (_factory.__doc__ or "").strip().split("\n")[0])(_factory)
