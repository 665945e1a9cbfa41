"""Date-of-birth comparison that forgives the mistakes people make when typing dates."""
from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from . import clock

DOB_AGREEMENT_ORDER = ("exact", "transposed", "near", "year_month", "year", "none")

_PARTIAL_DOB = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")
# Digit positions of YYYYMMDD that belong to one field: swaps are only within a field, because
# year, month and day are typed into separate boxes (or separated by "/"), so a slip swaps
# two digits of the same number ("12" <-> "21"), not the last of the month and first of the day.
_FIELDS = ((0, 4), (4, 6), (6, 8))


def transposed(d: date) -> date | None:
    """Day and month swapped (04/03 read as 03/04, the US/UK mix-up); None when identical or invalid."""
    if d.day == d.month or d.day > 12:
        return None
    try:
        return d.replace(month=d.day, day=d.month)
    except ValueError:
        return None


def _parse_digits(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


@lru_cache(maxsize=1 << 14)
def _typo_dates(d: date) -> tuple[date, ...]:
    """All valid dates one keying slip away from d, sorted, without d; not yet limited by today."""
    digits = f"{d.year:04d}{d.month:02d}{d.day:02d}"
    found: set[date] = set()
    for position, original in enumerate(digits):
        for replacement in "0123456789":
            if replacement != original:
                candidate = _parse_digits(digits[:position] + replacement + digits[position + 1:])
                if candidate:
                    found.add(candidate)
    for start, end in _FIELDS:
        for position in range(start, end - 1):
            first, second = digits[position], digits[position + 1]
            if first != second:
                candidate = _parse_digits(digits[:position] + second + first + digits[position + 2:])
                if candidate:
                    found.add(candidate)
    found.discard(d)
    return tuple(sorted(found))


def near_dates(d: date, today: date | None = None) -> tuple[date, ...]:
    """Every valid date one digit away from d (YYYYMMDD), or with two adjacent digits of one field swapped.

    Excludes d itself and dates after ``today`` (default: the clock's today), because nobody on the
    directory is born in the future. Sorted ascending.
    """
    limit = today or clock.today()
    return tuple(candidate for candidate in _typo_dates(d) if candidate <= limit)


def dob_agreement(query: date, candidate: date) -> str:
    """How well two dates of birth agree, strongest first (see DOB_AGREEMENT_ORDER).

    "near" ignores today's date so the answer depends only on the two dates (a record's date
    of birth is never in the future anyway).
    """
    if query == candidate:
        return "exact"
    if transposed(query) == candidate:
        return "transposed"
    if candidate in _typo_dates(query):
        return "near"
    if (query.year, query.month) == (candidate.year, candidate.month):
        return "year_month"
    if query.year == candidate.year:
        return "year"
    return "none"


def parse_partial_dob(text: str | None) -> tuple[int, int | None, int | None] | None:
    """'2015' -> (2015, None, None), '2015-03' -> (2015, 3, None), '2015-03-04' -> (2015, 3, 4); else None.

    Practitioners often know only a year or a month of birth; impossible dates are None.
    """
    if not text:
        return None
    match = _PARTIAL_DOB.match(text.strip())
    if not match:
        return None
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    try:
        date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        return None
    return (year, month, day)


# --- reading dates: the one place every interface parses a date ----------------------------

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_iso_date(text: str) -> date:
    """A date written YYYY-MM-DD, the one format feeds, the API, the CLI, query strings and judgment files take.

    ValueError for anything else: ``date.fromisoformat`` alone would also take 20150304 and week dates
    (2015-W10-3), and marshmallow's Date 2015-3-4, so each interface accepted something different.
    """
    if not isinstance(text, str) or not _ISO_DATE.match(text):
        raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")
    return date.fromisoformat(text)  # ValueError for an impossible date (2015-02-30)


def parse_iso_moment(text: str) -> datetime:
    """A moment as the services write one (``datetime.isoformat()``, with or without its zone); ValueError else."""
    if not isinstance(text, str) or not _ISO_DATE.match(text[:10]) or len(text) <= 10:
        raise ValueError(f"{text!r} is not a moment written YYYY-MM-DDTHH:MM[:SS][+HH:MM]")
    return datetime.fromisoformat(text)


def date_from_parts(day: str, month: str, year: str) -> date:
    """A date typed into separate day, month and year boxes (the GOV.UK date input); ValueError unless real.

    Digits only (ASCII), and a four-digit year, so "27 3 19" is not silently read as the year 19.
    """
    parts = (day.strip(), month.strip(), year.strip())
    if not all(p.isascii() and p.isdigit() for p in parts) or len(parts[2]) != 4:
        raise ValueError(f"{day!r} {month!r} {year!r} is not a day, month and four-digit year")
    return date(int(parts[2]), int(parts[1]), int(parts[0]))
