"""One registry of the pluggable parts: name -> factory + allowed parameters with defaults.

Kinds: "classifier", "balance", "querier", "features" (the blocks of `[features]`) and
"stopping". A preset names parts and parameters; `check` validates them against this registry
when the preset is loaded, so a misspelt key (`ratoi = 9.8`) or a wrong type is an error that
names the valid keys, never a silent default. Modules register their parts at import time;
`component` imports them on first use (no heavy imports: factories import their libraries).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from triage.errors import PresetError

#: Modules whose import registers the parts of each kind.
_PROVIDERS = {
    "classifier": "triage.learn.classifiers",
    "balance": "triage.learn.balance",
    "querier": "triage.learn.queriers",
    "features": "triage.features.matrix",
    "stopping": "triage.stopping",
}
ANY = object()  #: a default that accepts any value (checked by the factory itself)


@dataclass(frozen=True)
class Component:
    """A registered part. `params`: allowed parameter -> default (its type is the allowed type;
    ANY or None accepts anything); `build(**params)` makes the part; `doc`: one line."""

    kind: str
    name: str
    build: Callable[..., Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    doc: str = ""


@dataclass(frozen=True)
class Spec:
    """A part named by a preset: its registered type and the parameters the preset gives
    (defaults not merged). `Spec.of({"type": "svm", "C": 0.11})` accepts a TOML table too."""

    type: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, spec: "Spec | Mapping[str, Any]") -> "Spec":
        if isinstance(spec, Spec):
            return spec
        table = dict(spec)
        return cls(str(table.pop("type", "")), MappingProxyType(table))

    def table(self) -> dict:
        """The TOML table: {"type": ..., **params}."""
        return {"type": self.type, **self.params}


_REGISTRY: dict[str, dict[str, Component]] = {kind: {} for kind in _PROVIDERS}


def register(kind: str, name: str, params: Mapping[str, Any] | None = None, doc: str = "") -> Callable:
    """Decorator: register `build` as part `name` of `kind` with its allowed `params`."""
    if kind not in _REGISTRY:
        raise ValueError(f"unknown kind {kind!r}")

    def deco(build: Callable) -> Callable:
        if name in _REGISTRY[kind]:
            raise ValueError(f"{kind} {name!r} registered twice")
        _REGISTRY[kind][name] = Component(kind, name, build, MappingProxyType(dict(params or {})), doc)
        return build

    return deco


def _load(kind: str) -> dict[str, Component]:
    if kind not in _REGISTRY:
        raise ValueError(f"unknown kind {kind!r}")
    importlib.import_module(_PROVIDERS[kind])
    return _REGISTRY[kind]


def names(kind: str) -> list[str]:
    return sorted(_load(kind))


def component(kind: str, name: str, where: str = "") -> Component:
    """The registered part, or PresetError naming the valid ones."""
    parts = _load(kind)
    if name not in parts:
        at = f"{where}: " if where else ""
        raise PresetError(f"{at}unknown {kind} {name!r}; choose from {', '.join(sorted(parts))}")
    return parts[name]


def _type_ok(default: Any, value: Any) -> bool:
    if default is ANY or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def check(kind: str, name: str, given: Mapping[str, Any], where: str) -> dict:
    """`given` validated against the part's parameters: unknown keys and wrong types raise
    PresetError naming the valid keys. Returns the given parameters (defaults not merged)."""
    comp = component(kind, name, where)
    unknown = sorted(set(given) - set(comp.params))
    if unknown:
        allowed = ", ".join(sorted(comp.params)) or "none"
        raise PresetError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for {kind} {name!r}; "
                          f"valid keys: {allowed}")
    for key, value in given.items():
        default = comp.params[key]
        if not _type_ok(default, value):
            raise PresetError(f"{where}: {key} = {value!r} must be a {type(default).__name__} "
                              f"(like the default {default!r})")
    return dict(given)


def build(kind: str, name: str, given: Mapping[str, Any], where: str = "", **extra: Any) -> Any:
    """Make a part: defaults, overridden by `given` (validated), plus `extra` keyword arguments
    the caller supplies (e.g. random_state)."""
    comp = component(kind, name, where)
    params = {k: v for k, v in comp.params.items() if v is not ANY}
    params.update(check(kind, name, given, where or f"{kind} {name}"))
    return comp.build(**params, **extra)
