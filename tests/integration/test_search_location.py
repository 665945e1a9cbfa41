"""Location evidence on a real index: a family that moved within its postcode area is ranked above a namesake
elsewhere, an area is its letters (LS is not L), and a child the caller may not locate gains nothing from it."""
import pytest

from indexing import rebuild

from .helpers import ALIAS, CHECKPOINT, add_child, api_search, top_results

AREA = "postcode area"


@pytest.fixture
def namesakes(es, sessions):
    # Four girls with one name and no date of birth to tell them apart: only where they live differs.
    people = {
        "moved_nearby": add_child(sessions, postcode="LS17 5QT"),
        "one_letter_area": add_child(sessions, postcode="L6 2AB"),       # Liverpool's L, not Leeds's LS
        "far_away": add_child(sessions, postcode="BD1 1AA"),
        "shielded_nearby": add_child(sessions, postcode="LS12 4RT", shielded=True, la_code="E08000025"),
    }
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    return people


def test_a_child_who_moved_within_the_area_is_ranked_first_and_says_why(client, namesakes):
    results = top_results(client, given_name="Amara", family_name="Okafor", gender="female", postcode="LS6 2AB")
    assert results[0]["cp_id"] == namesakes["moved_nearby"]
    assert AREA in results[0]["matched_on"]
    others = {r["cp_id"]: r for r in results[1:]}
    assert AREA not in others[namesakes["one_letter_area"]]["matched_on"]
    assert AREA not in others[namesakes["far_away"]]["matched_on"]
    assert results[0]["score"] > others[namesakes["far_away"]]["score"]


def test_the_area_never_counts_for_a_child_the_caller_may_not_locate(client, namesakes):
    status, body = api_search(client, given_name="Amara", family_name="Okafor", gender="female", postcode="LS6 2AB")
    assert status == 200
    shielded = next(r for r in body["results"] if r["cp_id"] == namesakes["shielded_nearby"])
    far_away = next(r for r in body["results"] if r["cp_id"] == namesakes["far_away"])
    assert AREA not in shielded["matched_on"]
    assert shielded["score"] == far_away["score"]
