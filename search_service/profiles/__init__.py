"""Relevance profiles: clause weights and grade thresholds as versioned data."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent

WEIGHT_NAMES = (
    "family_exact", "family_variant", "family_part", "family_phonetic", "family_fuzzy", "family_swapped",
    "given_exact", "given_variant", "given_phonetic", "given_fuzzy", "given_middle", "given_initial",
    "given_swapped", "dob_exact", "dob_transposed", "dob_near", "dob_year_month", "dob_year",
    "gender", "postcode", "outward_code", "family_garbled", "given_garbled", "nhs_number", "upn", "postcode_area",
)
# Weights added after profiles were first stored: a stored profile without one takes the shipped default's.
ADDED_WEIGHTS = ("family_garbled", "given_garbled", "nhs_number", "upn", "postcode_area")
THRESHOLD_NAMES = ("certain", "probable", "minimum", "indistinct", "contradicting_gender")
# Thresholds added after profiles were first stored, likewise.
ADDED_THRESHOLDS = ("contradicting_gender",)


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the field."""


@dataclass(frozen=True)
class RelevanceProfile:
    name: str
    version: int
    weights: dict[str, float]
    thresholds: dict[str, float]
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, data: dict) -> "RelevanceProfile":
        if not isinstance(data, dict):
            raise ProfileError("a profile must be a JSON object")
        unknown = set(data) - {"name", "version", "weights", "thresholds", "description"}
        if unknown:
            raise ProfileError(f"{sorted(unknown)[0]}: unknown profile field")
        name = data.get("name")
        if not isinstance(name, str) or not name or len(name) > 50 or not name.replace("-", "").replace("_", "").isalnum():
            raise ProfileError("name: 1-50 letters, digits, '-' or '_'")
        version = data.get("version", 1)
        if not isinstance(version, int) or version < 1:
            raise ProfileError("version: a whole number from 1")
        weights = _numbers(_with_added(data.get("weights"), "weights", ADDED_WEIGHTS), WEIGHT_NAMES, "weights")
        thresholds = _numbers(_with_added(data.get("thresholds"), "thresholds", ADDED_THRESHOLDS), THRESHOLD_NAMES,
                              "thresholds")
        if not 0 < thresholds["minimum"] <= thresholds["probable"] <= thresholds["certain"] <= 1:
            raise ProfileError("thresholds: need 0 < minimum <= probable <= certain <= 1")
        if not 0 < thresholds["indistinct"] <= 1:
            raise ProfileError("thresholds.indistinct: need a share of the top score between 0 and 1")
        if not 0 < thresholds["contradicting_gender"] <= 1:
            raise ProfileError("thresholds.contradicting_gender: need a share of the score between 0 and 1")
        return cls(name, version, weights, thresholds, str(data.get("description", "")))

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "description": self.description,
                "weights": dict(self.weights), "thresholds": dict(self.thresholds)}


def _with_added(values, what: str, added: tuple[str, ...]):
    """A stored profile's ``what`` with any field added since it was stored taken from the shipped default."""
    if not isinstance(values, dict) or all(name in values for name in added):
        return values
    shipped = json.loads((HERE / "default.json").read_text())[what]
    return {**{name: shipped[name] for name in added}, **values}


def _numbers(values, names: tuple[str, ...], what: str) -> dict[str, float]:
    if not isinstance(values, dict):
        raise ProfileError(f"{what}: must be an object of {', '.join(names)}")
    unknown = set(values) - set(names)
    if unknown:
        raise ProfileError(f"{what}.{sorted(unknown)[0]}: unknown")
    missing = [n for n in names if n not in values]
    if missing:
        raise ProfileError(f"{what}.{missing[0]}: missing")
    out = {}
    for name in names:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value > 1000:
            raise ProfileError(f"{what}.{name}: must be a number from 0 to 1000")
        out[name] = float(value)
    return out


def default_profile() -> RelevanceProfile:
    return RelevanceProfile.from_dict(json.loads((HERE / "default.json").read_text()))
