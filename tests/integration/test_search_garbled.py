"""Badly garbled names on a real index: found when the date of birth (one slip) and the postcode agree, never
on a date of birth and postcode alone, and never through the postcode of a child the caller may not locate."""
import pytest

from indexing import rebuild

from .helpers import ALIAS, CHECKPOINT, add_child, top_results, years_ago

DOB = years_ago(9, day=14).replace(month=6)
SLIPPED = DOB.replace(day=24)            # one digit off
TWO_SLIPS = DOB.replace(day=25)          # two digits off
POSTCODE = "LS6 2AB"


@pytest.fixture
def population(es, sessions):
    people = {
        "target": add_child(sessions, given="Amara", family="Haak", dob=DOB, postcode=POSTCODE),
        # Look-alikes that agree on one strong piece of evidence only.
        "same_day_elsewhere": add_child(sessions, given="Amara", family="Hake", dob=DOB, postcode="BD1 1AA"),
        "neighbour": add_child(sessions, given="Kwame", family="Mensah", dob=DOB, postcode=POSTCODE,
                               gender="male"),
        # Shielded, in another authority than the caller's: its postcode must never count for the caller.
        "shielded": add_child(sessions, given="Bisi", family="Hook", dob=DOB, postcode="M1 1AE", shielded=True),
    }
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    return people


@pytest.mark.parametrize("names, reason", [
    # Names swapped and each misspelt once ("Amara Haak" typed as given "Haka", family "Amra").
    (dict(given_name="Haka", family_name="Amra"), "family name garbled, date of birth and postcode agree"),
    # The family name two slips away ("hakq" for "haak") and no given name at all.
    (dict(family_name="Hakq"), "family name garbled, date of birth and postcode agree"),
])
def test_a_garbled_name_with_a_slipped_date_and_the_postcode_finds_the_child_first(client, population, names,
                                                                                  reason):
    results = top_results(client, **names, date_of_birth=SLIPPED.isoformat(), gender="female", postcode=POSTCODE)
    assert results and results[0]["cp_id"] == population["target"]
    assert reason in results[0]["matched_on"]
    assert "date of birth differs by one digit" in results[0]["matched_on"]


def test_the_exact_given_name_and_a_two_slip_family_name_rank_the_child_first(client, population):
    results = top_results(client, given_name="Amara", family_name="Hakq", date_of_birth=SLIPPED.isoformat(),
                      gender="female", postcode=POSTCODE)
    assert results[0]["cp_id"] == population["target"]
    assert results[0]["matched_on"][:2] == ["family name garbled, date of birth and postcode agree", "given name"]


@pytest.mark.parametrize("change", [
    dict(postcode="LS6 9ZZ"),                     # another postcode
    dict(date_of_birth=TWO_SLIPS.isoformat()),    # the date two slips away
    dict(postcode=None),                          # no postcode at all
])
def test_a_garbled_name_needs_both_the_near_date_and_the_postcode(client, population, change):
    criteria = {"family_name": "Hakq", "date_of_birth": SLIPPED.isoformat(), "gender": "female",
                "postcode": POSTCODE, **change}
    criteria = {key: value for key, value in criteria.items() if value is not None}
    assert population["target"] not in [r["cp_id"] for r in top_results(client, **criteria)]


def test_a_date_of_birth_and_postcode_alone_never_make_a_candidate(client, population):
    # The neighbour shares the exact date of birth and postcode, but no name resembles it.
    results = top_results(client, given_name="Zofia", family_name="Haak", date_of_birth=DOB.isoformat(),
                      postcode=POSTCODE)
    assert population["neighbour"] not in [r["cp_id"] for r in results]


def test_a_shielded_childs_postcode_never_lets_a_garbled_name_in(client, population):
    criteria = dict(family_name="Hokq", date_of_birth=SLIPPED.isoformat(), gender="female")
    with_postcode = top_results(client, **criteria, postcode="M1 1AE")
    assert population["shielded"] not in [r["cp_id"] for r in with_postcode]
    assert [r["cp_id"] for r in with_postcode] == [r["cp_id"] for r in top_results(client, **criteria)]
