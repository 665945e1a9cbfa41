"""Survivorship: which source record each group of a child's fields comes from."""
import datetime as dt
from types import SimpleNamespace

import pytest

from registry.survivorship import TrustError, derive, parse_trust

UTC = dt.timezone.utc


def _record(id, source, days_ago, **payload):
    when = dt.datetime(2026, 1, 31, tzinfo=UTC) - dt.timedelta(days=days_ago)
    return SimpleNamespace(id=id, source=source, received_at=when, updated_at=when, payload=payload)


GP = _record(1, "gp", 30, given_name="Olivia", family_name="Smith", date_of_birth="2018-03-04", gender="female",
             postcode="LS6 2AB", address_line_1="12 Oak Road", town="Leeds", nhs_number="9434765919")
SCHOOL = _record(2, "school", 1, given_name="Liv", family_name="Smith", date_of_birth="2018-04-03",
                 gender="unknown", postcode="LS7 3CD", upn="A123")


def test_the_most_recent_record_wins_without_a_trust_order():
    child = derive([GP, SCHOOL])
    assert (child["given_name"], child["date_of_birth"], child["postcode"]) == ("Liv", "2018-04-03", "LS7 3CD")
    assert child["gender"] == "female"          # "unknown" gives nothing
    assert child["nhs_number"] == "9434765919" and child["upn"] == "A123"  # each from the only record giving it


def test_an_address_comes_whole_from_one_record():
    child = derive([GP, SCHOOL])
    assert (child["postcode"], child["address_line_1"], child["town"]) == ("LS7 3CD", None, None)


def test_the_trust_order_comes_before_recency_and_falls_back_to_star():
    child = derive([GP, SCHOOL], parse_trust("date_of_birth=gp,school; *=school"))
    assert child["date_of_birth"] == "2018-03-04" and child["given_name"] == "Liv"
    assert derive([GP, SCHOOL], {"*": ("gp",)})["postcode"] == "LS6 2AB"


@pytest.mark.parametrize("text, problem", [("dob=gp", "not a field group"), ("name", "GROUP=SOURCE"),
                                           ("name=", "GROUP=SOURCE")])
def test_a_trust_order_that_cannot_be_read_is_named(text, problem):
    with pytest.raises(TrustError, match=problem):
        parse_trust(text)
