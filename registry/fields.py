"""Marshmallow fields shared by every schema that takes a child's particulars (feeds, search)."""
from __future__ import annotations

import datetime as dt
import unicodedata

from marshmallow import ValidationError, fields, validate

from analyzers import (
    clock, name_problem, near_dates, transposed, nhs_number_problem, normalise_nhs_number, normalise_postcode, normalise_upn, upn_problem,
)
from analyzers.dates import parse_iso_date

from .models import GENDERS
from .retention import eighteenth_birthday

_GENDER_CODES = {"f": "female", "m": "male", "o": "other", "u": "unknown", "x": "other",
                 "1": "male", "2": "female", "9": "unknown", "0": "unknown"}


def printable(value: str) -> None:
    if value.isascii() and value.isprintable():  # most text, decided without a look-up per character
        return
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in value):
        raise ValidationError("must not contain control or invisible characters")


def birth_date_of_a_child(value: dt.date) -> None:
    today = clock.today()
    if value > today:
        raise ValidationError("must not be in the future")
    if eighteenth_birthday(value) <= today:  # the same rule retention archives by
        raise ValidationError("the person is 18 or over: ContactPoint only holds children")


def birth_date_to_search_by(value: dt.date) -> None:
    """A child's date of birth, or one a slip away from a child's (day and month swapped, one digit off).

    The search finds a child through those slips, so a date the slip has pushed past an 18th birthday or
    into the future is searched for rather than refused; a date no slip away from a child's still is."""
    today = clock.today()
    if any(d is not None and d <= today < eighteenth_birthday(d)
           for d in (value, transposed(value), *near_dates(value, today))):
        return
    birth_date_of_a_child(value)


class IsoDate(fields.Date):
    """A date written YYYY-MM-DD, read by analyzers.dates.parse_iso_date like every other date ContactPoint takes."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_iso_date(value)
        except ValueError:
            raise self.make_error("invalid") from None


def _name(length: int):
    def check(value: str) -> None:
        problem = name_problem(value, length)
        if problem:
            raise ValidationError(problem)
    return check


def Name(required: bool = False, length: int = 100) -> fields.String:
    return fields.String(required=required, validate=_name(length))


def Text(length: int = 200) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=length), printable])


def Flag() -> fields.Boolean:
    return fields.Boolean(truthy={"true", "yes", "y", "1", True, 1}, falsy={"false", "no", "n", "0", False, 0})


class PostcodeField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        postcode = normalise_postcode(text)
        if postcode is None:
            raise ValidationError("is not a UK postcode (for example LS6 2AB)")
        return postcode


class GenderField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip().lower()
        gender = _GENDER_CODES.get(text, text)
        if gender not in GENDERS:
            raise ValidationError(f"must be one of {', '.join(GENDERS)}")
        return gender


class NhsNumberField(fields.String):
    """An NHS number: 10 digits (spaces and hyphens of the printed form dropped) whose modulus-11 check holds."""

    def _deserialize(self, value, attr, data, **kwargs):
        number = normalise_nhs_number(super()._deserialize(value, attr, data, **kwargs))
        problem = nhs_number_problem(number)
        if problem:
            raise ValidationError(problem)
        return number


class UpnField(fields.String):
    """A unique pupil number: 13 characters in capitals whose check letter holds."""

    def _deserialize(self, value, attr, data, **kwargs):
        upn = normalise_upn(super()._deserialize(value, attr, data, **kwargs))
        problem = upn_problem(upn)
        if problem:
            raise ValidationError(problem)
        return upn
