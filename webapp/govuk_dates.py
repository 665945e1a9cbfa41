"""Dates and times as GOV.UK writes them: "12 November 2017", "12 November 2017 at 3:05pm".

Pages get dates as date or datetime objects or as ISO strings (what the services' schemas dump), so
the filter takes all three. A datetime without a zone is UTC (how the database stores moments) and is
shown in UK time, the time the reader lives in.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from analyzers.dates import parse_iso_date, parse_iso_moment

UK = ZoneInfo("Europe/London")


def govuk_date(value: dt.date | dt.datetime | str | None) -> str:
    """``value`` in GOV.UK style; empty for nothing, and a string that is no date unchanged."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = _parse(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return f"{value.day} {value:%B %Y}"
    moment = (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(UK)
    return f"{govuk_date(moment.date())} at {_time(moment)}"


def _parse(text: str) -> dt.date | dt.datetime:
    return parse_iso_date(text) if len(text) == 10 else parse_iso_moment(text)


def _time(moment: dt.datetime) -> str:
    """GOV.UK style: "3pm", "3:05pm", "midday", "midnight"."""
    if moment.minute == 0 and moment.hour in (0, 12):
        return "midnight" if moment.hour == 0 else "midday"
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes}{'am' if moment.hour < 12 else 'pm'}"
