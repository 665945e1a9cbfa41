"""The one clock: pinning it pins every module, and nothing else reads the system time."""
import datetime as dt
import re
from pathlib import Path

import pytest

from access_control.accounts import usable
from access_control.models import User
from analyzers import clock, near_dates
from registry.fields import birth_date_of_a_child

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("access_control", "analyzers", "indexing", "registry", "search_service", "webapp")
SYSTEM_TIME = re.compile(r"\b(?:datetime\.now|datetime\.utcnow|date\.today|time\.time)\(")
# Where wall-clock time is right even under a pinned clock, and why.
EXEMPT = {
    "analyzers/clock.py": "the clock itself",
    # The limits library times its windows by the wall clock; counters must expire on the same clock.
    "access_control/limits_storage.py": "usage-limit windows",
    # A new index's name must differ from the last one's even when a test pins the clock.
    "indexing/admin.py": "unique index names",
}
MOMENT = dt.datetime(2031, 5, 17, 9, 30, tzinfo=dt.timezone.utc)


def test_only_the_clock_reads_the_system_time():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in EXEMPT or "/migrations/" in relative:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if SYSTEM_TIME.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "read the time through analyzers.clock:\n" + "\n".join(offenders)


def test_pinning_moves_now_and_today_everywhere_and_is_undone_afterwards():
    real = clock.today()
    with clock.pinned(MOMENT):
        assert clock.now() == MOMENT and clock.today() == MOMENT.date()
        assert clock.timestamp() == MOMENT.timestamp()
        # Modules that only ask the clock see the pinned day: an account expiring the day before is expired,
        # a child born 18 years before is no longer a child, and no date-of-birth variant lies after it.
        assert usable(User(disabled=False, expires_on=MOMENT.date() - dt.timedelta(days=1))) == "expired"
        assert usable(User(disabled=False, expires_on=MOMENT.date())) is None
        with pytest.raises(Exception):
            birth_date_of_a_child(MOMENT.date().replace(year=MOMENT.year - 18))
        assert max(near_dates(MOMENT.date() - dt.timedelta(days=1))) <= MOMENT.date()
    assert clock.today() == real


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError):
        with clock.pinned(dt.datetime(2031, 5, 17)):
            pass
