"""The least a search may carry: the one definition the API's validation and the judgment generator share.

The alternatives follow NHS PDS's documented minimum search criteria: its non-fuzzy search needs a
family name and a date of birth (which may be a range: here, a year of birth); its fuzzy search --
which ContactPoint's always is -- needs a given name, family name and date of birth, or a family name,
date of birth, gender and postcode, or a given name, date of birth, gender and postcode. Each
combination below is the least that is enough; anything that includes one is enough too (a family
name, date of birth, gender and postcode includes "family name and date of birth"). A ContactPoint ID
stands alone. An NHS number or a unique pupil number goes with a date of birth, as in PDS's cross-check
trace: a check digit catches most slips, not a valid number that is someone else's.

What any of them may return is still bounded by the query (some name must agree, so a date of birth
or postcode alone never makes a candidate) and by the "too many matches" rule.
"""
from __future__ import annotations

from typing import Mapping

MINIMUM_COMBINATIONS: tuple[tuple[str, ...], ...] = (
    ("family_name", "given_name"),
    ("family_name", "date_of_birth"),
    ("family_name", "birth_year"),
    ("given_name", "date_of_birth", "gender", "postcode"),
    ("nhs_number", "date_of_birth"),
    ("upn", "date_of_birth"),
    ("cp_id",),
)
IN_WORDS = {"family_name": "family name", "given_name": "given name", "date_of_birth": "date of birth",
            "birth_year": "year of birth", "gender": "gender", "postcode": "postcode", "cp_id": "ContactPoint ID",
            "nhs_number": "NHS number", "upn": "unique pupil number"}


def _given(criteria: Mapping, key: str) -> bool:
    value = criteria.get(key)
    return value is not None and value != ""


def meets_minimum(criteria: Mapping) -> bool:
    """Whether the criteria (by their field names; None or "" means not given) include an accepted combination."""
    return any(all(_given(criteria, key) for key in combination) for combination in MINIMUM_COMBINATIONS)


def _in_words(combination: tuple[str, ...]) -> str:
    words = [IN_WORDS[key] for key in combination]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def minimum_criteria_message() -> str:
    """Every accepted combination in words, for the 400 and the search page."""
    return "give at least one of: " + "; ".join(_in_words(c) for c in MINIMUM_COMBINATIONS)
