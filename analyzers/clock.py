"""The one clock. Code that needs "now" or "today" asks here, never the system directly, so a
test that pins a moment pins it for every module at once (and a test that does not pin it sees
the real date, so nothing expires when the calendar moves on)."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Iterator

_pinned: dt.datetime | None = None


def now() -> dt.datetime:
    """The current moment, timezone-aware (UTC)."""
    return _pinned if _pinned is not None else dt.datetime.now(dt.timezone.utc)


def today() -> dt.date:
    """Today's date (UTC)."""
    return now().date()


def timestamp() -> float:
    """Seconds since the epoch, for session ages and idle timers."""
    return now().timestamp()


@contextmanager
def pinned(moment: dt.datetime) -> Iterator[dt.datetime]:
    """Every caller of this clock sees ``moment`` until the block ends (tests; and a worker process judging as
    the process that handed it work, e.g. feed validation)."""
    global _pinned
    if moment.tzinfo is None:
        raise ValueError("pin the clock to a timezone-aware moment")
    previous, _pinned = _pinned, moment
    try:
        yield moment
    finally:
        _pinned = previous
