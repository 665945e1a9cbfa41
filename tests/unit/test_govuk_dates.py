"""Dates as GOV.UK writes them, whatever shape a page is given them in."""
import datetime as dt

import pytest

from webapp.govuk_dates import govuk_date


@pytest.mark.parametrize("value, shown", [
    (dt.date(2017, 11, 12), "12 November 2017"),
    ("2017-11-02", "2 November 2017"),
    # UTC in winter is UK time; in summer the UK is an hour ahead.
    (dt.datetime(2017, 11, 12, 15, 5, tzinfo=dt.timezone.utc), "12 November 2017 at 3:05pm"),
    ("2017-07-12T14:05:09+00:00", "12 July 2017 at 3:05pm"),
    (dt.datetime(2017, 7, 12, 9, 0), "12 July 2017 at 10am"),  # naive: UTC, as stored
    (dt.datetime(2017, 11, 12, 12, 0), "12 November 2017 at midday"),
    (dt.datetime(2017, 11, 12, 0, 0), "12 November 2017 at midnight"),
    (dt.datetime(2017, 11, 12, 0, 30), "12 November 2017 at 12:30am"),
    (None, ""),
    ("not a date", "not a date"),
])
def test_govuk_date(value, shown):
    assert govuk_date(value) == shown

