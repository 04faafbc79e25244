"""Model presets: a name plus frozen, validated parameters, read from the TOML files in `models/`.

A preset file holds four tables - `features`, `classifier`, `balance`, `querier` - and
`batch_size` / `batch_growth` (the retrain schedule: live screening and simulation retrain after
`batch_for(n)` new labels). Every table is validated against `triage.registry` when the preset is
loaded (a misspelt key is an error naming the valid ones). Each file's comments say where its
numbers came from; its model card is the Markdown file of the same name."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from triage.errors import PresetError
from triage.registry import Spec, check

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The preset used when none is named. Chosen from the cross-dataset benchmark (BENCHMARKS.md).
DEFAULT_PRESET = "hybrid_svm"

_TABLES = ("features", "classifier", "balance", "querier")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    features: Mapping  # the validated [features] table (see triage.features.matrix)
    classifier: Spec
    balance: Spec
    querier: Spec
    batch_size: int = 1
    batch_growth: float = 0.0  # batch = max(batch_size, floor(batch_growth * labelled so far))
    #: Random pool records trained as irrelevant in every round (AutoTAR's pseudo-negatives,
    #: Cormack & Grossman 2015): at ~1-5 % prevalence almost all of them are irrelevant.
    pseudo_negatives: int = 0

    def batch_for(self, n_labelled: int) -> int:
        """Records to label before the next retrain (fixed, or growing with the history)."""
        return max(self.batch_size, int(self.batch_growth * n_labelled))

    def params(self) -> dict:
        """Everything that determines a ranking, as plain JSON-able data (stored with each round)."""
        return {"name": self.name, "features": _plain(self.features), "classifier": self.classifier.table(),
                "balance": self.balance.table(), "querier": self.querier.table(), "batch_size": self.batch_size,
                "batch_growth": self.batch_growth} | (
                    {"pseudo_negatives": self.pseudo_negatives} if self.pseudo_negatives else {})



def _preset_dir():
    """`models/`: installed as the package `triage.presets_data`; in a source checkout (tests run
    from the repository put the source `triage/` first on sys.path) it is the folder itself."""
    try:
        return resources.files("triage.presets_data")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "models"


def list_presets() -> list[str]:
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".toml"))


def _plain(x):
    """Mappings (read-only views included) as plain dicts, for JSON."""
    if isinstance(x, Mapping):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _spec(kind: str, table, origin: str, default: str | None = None) -> Spec:
    if table is None and default is not None:
        table = {"type": default}
    if not isinstance(table, dict) or "type" not in table:
        raise PresetError(f"{origin}: [{kind}] needs a 'type'")
    params = {k: v for k, v in table.items() if k != "type"}
    where = f"{origin} [{kind}]"
    return Spec(str(table["type"]), MappingProxyType(check(kind, str(table["type"]), params, where)))


def parse_preset(name: str, data: dict, origin: str) -> Preset:
    from triage.features.matrix import check_features

    top = ["description", "batch_size", "batch_growth", "pseudo_negatives", *_TABLES]
    unknown = set(data) - set(top)
    if unknown:
        raise PresetError(f"{origin}: unknown key(s) {sorted(unknown)}; valid keys: {', '.join(top)}")
    pseudo = data.get("pseudo_negatives", 0)
    if not isinstance(pseudo, int) or isinstance(pseudo, bool) or pseudo < 0:
        raise PresetError(f"{origin}: pseudo_negatives must be a whole number >= 0, not {pseudo!r}")
    if not data.get("features"):
        raise PresetError(f"{origin}: [features] needs 'tfidf' and/or 'embedding'")
    try:
        features = check_features(data["features"])
    except PresetError as e:
        raise PresetError(f"{origin}: {e}") from None
    batch = data.get("batch_size", 1)
    if not isinstance(batch, int) or batch < 1:
        raise PresetError(f"{origin}: batch_size must be a positive integer")
    growth = data.get("batch_growth", 0.0)
    if not isinstance(growth, (int, float)) or not 0 <= growth < 1:
        raise PresetError(f"{origin}: batch_growth must be a number in [0, 1)")
    querier = _spec("querier", data.get("querier"), origin)
    if features.get("combine", "concat") != "concat" and querier.type == "uncertainty":
        raise PresetError(f"{origin}: [querier] uncertainty needs a decision boundary; fused scores "
                          f"(combine = {features['combine']!r}) have none: use max or mixed")
    return Preset(name, str(data.get("description", "")), MappingProxyType(features),
                  _spec("classifier", data.get("classifier"), origin),
                  _spec("balance", data.get("balance"), origin, default="none"),
                  querier, batch, float(growth), pseudo)


def load_preset(name_or_path: str | None = None) -> Preset:
    """A preset by name (see `list_presets()`) or from a TOML file path."""
    name_or_path = name_or_path or DEFAULT_PRESET
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, name = path.read_text(encoding="utf-8"), path.stem
    else:
        f = _preset_dir() / f"{name_or_path}.toml"
        if not f.is_file():
            raise PresetError(f"unknown preset {name_or_path!r}; available: {', '.join(list_presets())}")
        text, name = f.read_text(encoding="utf-8"), name_or_path
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"preset {name_or_path}: {e}") from e
    return parse_preset(name, data, f"preset {name_or_path}")
