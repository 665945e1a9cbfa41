"""One side of a record pair, as the linkage model compares it: every name, date of birth, gender,
postcodes and address lines (current first, then earlier ones) and the optional strong identifiers.

Pure data: built from a feed row's validated fields (``from_fields``) or by the linker from a child and
all of its source records. Values that are no evidence (a blank, an invalid postcode or identifier,
gender "unknown") are left out, so the model sees them as missing rather than as disagreeing.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from analyzers.dates import parse_iso_date
from analyzers.identifiers import normalise_nhs_number, normalise_upn, nhs_number_problem, upn_problem
from analyzers.postcode import normalise_postcode

Name = tuple[str, str | None, str]  # given, middle names, family

_NO_EVIDENCE_GENDERS = frozenset({"unknown", "u", "not known", "not specified"})
_ADDRESS_WORD = re.compile(r"[0-9a-z]+")


@dataclass(frozen=True)
class LinkRecord:
    """A child or a feed row reduced to what linkage compares; the first name, postcode and address are current."""

    names: tuple[Name, ...]
    date_of_birth: date
    gender: str | None = None
    postcodes: tuple[str, ...] = ()
    address_lines: tuple[str, ...] = ()
    nhs_number: str | None = None
    upn: str | None = None

    def __post_init__(self):
        if not self.names:
            raise ValueError("names: a record needs at least one name")

    @classmethod
    def from_fields(cls, fields: dict) -> "LinkRecord":
        """A record from feed-row-like fields: given_name, middle_names, family_name, date_of_birth (a date or
        YYYY-MM-DD), gender, postcode, address_line_1, nhs_number, upn.

        Optional history: ``other_names`` (dicts with given_name, middle_names, family_name),
        ``previous_postcodes`` and ``previous_address_lines`` (lists, most recent first).
        ValueError naming the field when a name or the date of birth is missing or malformed.
        """
        current = _name(fields, "")
        others = tuple(_name(other, "other_names.") for other in fields.get("other_names") or ())
        return cls(
            names=_unique((current, *others)),
            date_of_birth=_date_of_birth(fields.get("date_of_birth")),
            gender=_gender(fields.get("gender")),
            postcodes=_unique(p for p in map(normalise_postcode, (fields.get("postcode"),
                                                                  *(fields.get("previous_postcodes") or ()))) if p),
            address_lines=_unique(a for a in map(normalise_address_line, (
                fields.get("address_line_1"), *(fields.get("previous_address_lines") or ()))) if a),
            nhs_number=valid_nhs_number(fields.get("nhs_number")),
            upn=valid_upn(fields.get("upn")),
        )

    # Derived once per record (frozen dataclasses still allow cached_property: it writes __dict__ directly),
    # because one record is scored against every candidate.
    @cached_property
    def districts(self) -> frozenset[str]:
        return frozenset(postcode.partition(" ")[0] for postcode in self.postcodes)  # normalised: "OUT IN"

    @cached_property
    def postcode_set(self) -> frozenset[str]:
        return frozenset(self.postcodes)

    @cached_property
    def address_set(self) -> frozenset[str]:
        return frozenset(self.address_lines)

    @cached_property
    def swapped_names(self) -> tuple[Name, ...]:
        """Every name with given and family exchanged: the second orientation the model tries."""
        return tuple((family, middle, given) for given, middle, family in self.names)


def normalise_address_line(text: str | None) -> str | None:
    """'12, High St.' -> '12 high st': lower case, accents and punctuation dropped, digits kept (fold() drops
    them, and the house number is what tells two homes in one street apart)."""
    if not text:
        return None
    bare = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return " ".join(_ADDRESS_WORD.findall(bare)) or None


def valid_nhs_number(value) -> str | None:
    """The normalised NHS number, or None when blank or invalid (an invalid number is no evidence)."""
    if not value:
        return None
    text = normalise_nhs_number(str(value))
    return None if nhs_number_problem(text) else text


def valid_upn(value) -> str | None:
    """The normalised UPN, or None when blank or invalid."""
    if not value:
        return None
    text = normalise_upn(str(value))
    return None if upn_problem(text) else text


def _name(fields: dict, where: str) -> Name:
    given, family = fields.get("given_name"), fields.get("family_name")
    for key, value in (("given_name", given), ("family_name", family)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}{key}: a name is required")
    middle = fields.get("middle_names")
    return (given.strip(), middle.strip() if isinstance(middle, str) and middle.strip() else None, family.strip())


def _date_of_birth(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return parse_iso_date(value)
    except ValueError:
        raise ValueError(f"date_of_birth: {value!r} is not a date written YYYY-MM-DD") from None


def _gender(value) -> str | None:
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text and text not in _NO_EVIDENCE_GENDERS else None


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))
