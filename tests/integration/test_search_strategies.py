"""Name-matching strategies on a real index: each finds the child and says why."""
import datetime as dt

import pytest

from analyzers import transposed

from indexing import rebuild
from registry.retention import eighteenth_birthday

from .helpers import ALIAS, CHECKPOINT, add_child, top_results, years_ago

DOB = years_ago(7, day=4).replace(month=3)


@pytest.fixture
def population(es, sessions):
    """The target plus look-alikes that must rank below it."""
    people = {
        "target": add_child(sessions, given="Siobhan", family="McAllister", dob=DOB, gender="female",
                            aliases=[("Shiv", "Doherty")]),
        "sibling": add_child(sessions, given="Aoife", family="McAllister", dob=years_ago(5), gender="female"),
        "namesake": add_child(sessions, given="Siobhan", family="McAllister", dob=years_ago(12), gender="female"),
        "mohammed": add_child(sessions, given="Mohammed", family="Chowdhury", dob=DOB, gender="male"),
        "other": add_child(sessions, given="Kwame", family="Mensah", dob=DOB, gender="male"),
    }
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    return people


@pytest.mark.parametrize("criteria, reason", [
    (dict(given_name="Siobhan", family_name="MacAllister"), "family name"),                  # Mac/Mc
    (dict(given_name="Shivaun", family_name="McAllister"), "given name is a nickname or variant"),
    (dict(given_name="Siobhan", family_name="McAlister"), None),                               # misspelt
    (dict(given_name="McAllister", family_name="Siobhan"), "given and family names swapped"),
    (dict(given_name="Shiv", family_name="Doherty"), "known alias"),
])
def test_name_strategies_put_the_child_first(client, population, criteria, reason):
    results = top_results(client, **criteria, date_of_birth=DOB.isoformat())
    assert results[0]["cp_id"] == population["target"]
    if reason:
        assert reason in results[0]["matched_on"]


def test_a_transliterated_given_name_finds_the_child(client, population):
    results = top_results(client, given_name="Muhammad", family_name="Choudhury", date_of_birth=DOB.isoformat())
    assert results[0]["cp_id"] == population["mohammed"]
    assert results[0]["matched_on"][:2] == ["family name is a known variant spelling",
                                            "given name is a nickname or variant"]


def test_day_and_month_swapped_finds_the_child_and_says_so(client, population):
    swapped = DOB.replace(month=DOB.day, day=DOB.month)
    results = top_results(client, given_name="Siobhan", family_name="McAllister", date_of_birth=swapped.isoformat())
    assert results[0]["cp_id"] == population["target"]
    assert "date of birth with day and month swapped" in results[0]["matched_on"]


def test_a_one_digit_date_typo_finds_the_child(client, population):
    typo = DOB.replace(day=DOB.day + 1)
    results = top_results(client, given_name="Siobhan", family_name="McAllister", date_of_birth=typo.isoformat())
    assert results[0]["cp_id"] == population["target"]
    assert "date of birth differs by one digit" in results[0]["matched_on"]


def test_the_exact_date_of_birth_outranks_a_namesake(client, population):
    results = top_results(client, given_name="Siobhan", family_name="McAllister", date_of_birth=DOB.isoformat())
    assert [r["cp_id"] for r in results[:2]] == [population["target"], population["namesake"]]
    assert results[0]["match_grade"] == "certain"
    assert results[1]["match_grade"] != "certain"


def test_a_year_of_birth_narrows_a_name_search(client, population):
    results = top_results(client, given_name="Siobhan", family_name="McAllister", birth_year=DOB.year)
    assert results[0]["cp_id"] == population["target"]
    assert "same year of birth" in results[0]["matched_on"]


def test_gender_and_postcode_are_evidence_not_filters(client, population):
    results = top_results(client, given_name="Siobhan", family_name="McAllister", date_of_birth=DOB.isoformat(),
                   gender="male", postcode="ZZ1 1ZZ")
    assert results[0]["cp_id"] == population["target"]


def test_unrelated_children_are_not_returned(client, population):
    results = top_results(client, given_name="Siobhan", family_name="McAllister", date_of_birth=DOB.isoformat())
    assert population["other"] not in [r["cp_id"] for r in results]


def test_a_swapped_date_that_would_make_the_child_18_still_finds_the_child(es, sessions, client):
    """A 17-year-old's date of birth typed day-for-month can read as an adult's: searched for, never refused."""
    today = dt.date.today()
    dob = today.replace(year=today.year - 19, day=1)
    while eighteenth_birthday(dob) <= today or not (transposed(dob) and eighteenth_birthday(transposed(dob)) <= today):
        dob += dt.timedelta(days=1)
    target = add_child(sessions, given="Willow", family="Fox", dob=dob)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    results = top_results(client, given_name="Willow", family_name="Fox", date_of_birth=transposed(dob).isoformat())
    assert results[0]["cp_id"] == target
    assert "date of birth with day and month swapped" in results[0]["matched_on"]
