from datetime import date

import pytest

from analyzers.dates import DOB_AGREEMENT_ORDER, dob_agreement, near_dates, parse_partial_dob, transposed

TODAY = date(2024, 6, 1)


def test_transposed_swaps_day_and_month():
    assert transposed(date(2015, 3, 4)) == date(2015, 4, 3)
    assert transposed(date(2015, 12, 1)) == date(2015, 1, 12)


def test_transposed_is_none_when_identical_or_impossible():
    assert transposed(date(2015, 3, 13)) is None
    assert transposed(date(2015, 3, 3)) is None


def test_near_dates_include_a_one_digit_typo_in_each_field():
    near = near_dates(date(2015, 3, 4), today=TODAY)
    assert date(2015, 3, 5) in near       # day
    assert date(2015, 8, 4) in near       # month
    assert date(2016, 3, 4) in near       # year
    assert date(2005, 3, 4) in near       # decade


def test_near_dates_include_adjacent_digits_swapped():
    assert date(2015, 3, 21) in near_dates(date(2015, 3, 12), today=TODAY)
    assert date(2015, 1, 3) in near_dates(date(2015, 1, 30), today=TODAY)
    assert date(2015, 3, 1) not in near_dates(date(2015, 1, 3), today=TODAY)  # digits swapped across fields
    assert date(2014, 3, 5) not in near_dates(date(2015, 3, 4), today=TODAY)  # two separate slips


def test_near_dates_exclude_the_date_itself_invalid_dates_and_the_future():
    near = near_dates(date(2015, 3, 4), today=TODAY)
    assert date(2015, 3, 4) not in near
    assert date(2025, 3, 4) not in near
    assert all(d <= TODAY for d in near)
    assert date(2019, 3, 4) in near_dates(date(2015, 3, 4), today=date(2019, 3, 4))
    assert date(2019, 3, 4) not in near_dates(date(2015, 3, 4), today=date(2019, 3, 3))
    # 2016-02-29 is real, 2015-02-29 (one slip from 2015-02-19) is not
    assert date(2015, 2, 28) in near_dates(date(2015, 2, 27), today=TODAY)
    assert date(2016, 2, 29) in near_dates(date(2016, 2, 28), today=TODAY)
    assert all(not (d.month == 2 and d.day > 28) for d in near_dates(date(2015, 2, 19), today=TODAY)
               if d.year == 2015)


def test_near_dates_are_sorted_unique_and_default_to_today():
    near = near_dates(date(2015, 3, 4), today=TODAY)
    assert list(near) == sorted(set(near))
    assert isinstance(near, tuple)
    assert all(d <= date.today() for d in near_dates(date.today()))


@pytest.mark.parametrize("query, candidate, level", [
    (date(2015, 3, 4), date(2015, 3, 4), "exact"),
    (date(2015, 3, 4), date(2015, 4, 3), "transposed"),
    (date(2015, 3, 4), date(2015, 3, 7), "near"),
    (date(2015, 3, 12), date(2015, 3, 21), "near"),
    (date(2015, 3, 4), date(2016, 3, 4), "near"),
    (date(2015, 3, 4), date(2015, 3, 28), "year_month"),
    (date(2015, 3, 4), date(2015, 11, 28), "year"),
    (date(2015, 3, 4), date(2013, 7, 28), "none"),
])
def test_dob_agreement_levels(query, candidate, level):
    assert dob_agreement(query, candidate) == level
    assert level in DOB_AGREEMENT_ORDER


def test_dob_agreement_prefers_the_strongest_level():
    # 2015-01-11 transposed is itself; 2015-01-10 vs 2015-10-01 is both transposed and same year
    assert dob_agreement(date(2015, 1, 10), date(2015, 10, 1)) == "transposed"
    # a one-digit day typo is also the same year and month: near wins
    assert dob_agreement(date(2015, 3, 4), date(2015, 3, 9)) == "near"


@pytest.mark.parametrize("text, parsed", [
    ("2015", (2015, None, None)),
    ("2015-03", (2015, 3, None)),
    ("2015-03-04", (2015, 3, 4)),
    (" 2015-03-04 ", (2015, 3, 4)),
    ("2016-02-29", (2016, 2, 29)),
])
def test_parse_partial_dob_accepts_year_month_and_full_dates(text, parsed):
    assert parse_partial_dob(text) == parsed


@pytest.mark.parametrize("text", [
    "", "15", "20150", "2015-3", "2015-13", "2015-02-30", "2015-00", "0000", "04/03/2015", "2015/03/04",
    "2015-03-04T00:00", "next year", "٢٠١٥", None,
])
def test_parse_partial_dob_rejects_anything_else(text):
    assert parse_partial_dob(text) is None
