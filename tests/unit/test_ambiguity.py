"""Which benchmark queries other children fit exactly as well as their own (search_service.ambiguity)."""
import datetime as dt

from search_service.ambiguity import shared_evidence, without_a_name_of_theirs
from search_service.evaluation import Judgment

DOB = dt.date(2015, 3, 14)


def child(given="Jack", family="Wood", dob=DOB, gender="male", postcode="LS6 2AB", shielded=False) -> dict:
    return {"given_name": given, "family_name": family, "date_of_birth": dob, "gender": gender,
            "postcode": postcode, "shielded": shielded}


def judgment(expected, corruptions=(), id_="q1", **criteria) -> Judgment:
    return Judgment(id=id_, criteria=criteria, expected=expected, corruptions=tuple(corruptions))


def test_namesakes_tie_a_query_with_no_date_of_birth_and_a_postcode_the_child_left():
    children = [("a", child()), ("b", child(dob=dt.date(2012, 1, 2), postcode="NG1 4JZ")),
                ("c", child(postcode="E7 3QD")), ("d", child(given="Jake"))]
    query = judgment("a", ["missing:date_of_birth", "moved"], given_name="JACK", family_name="wood",
                     gender="male", postcode="BS5 5LP")
    assert shared_evidence(children, [query]) == {"q1": 2}   # b and c; Jake is not Jack


def test_a_postcode_in_the_childs_district_or_area_is_evidence_namesakes_elsewhere_lack():
    children = [("a", child(postcode="LS6 2AB")), ("b", child(postcode="LS6 9ZZ")), ("c", child(postcode="LS17 1AA")),
                ("d", child(postcode="E7 3QD"))]
    same_district = judgment("a", ["moved"], given_name="Jack", family_name="Wood", postcode="LS6 5XX")
    same_area = judgment("a", ["moved"], id_="q2", given_name="Jack", family_name="Wood", postcode="LS2 5XX")
    assert shared_evidence(children, [same_district, same_area]) == {"q1": 1, "q2": 2}


def test_location_counts_only_for_children_who_are_not_shielded():
    children = [("a", child(postcode="LS6 2AB", shielded=True)), ("b", child(postcode="E7 3QD")),
                ("c", child(postcode="LS6 2AB", shielded=True))]
    # Her own postcode does not single her out (it never counts for her), so both namesakes fit as well.
    assert shared_evidence(children, [judgment("a", given_name="Jack", family_name="Wood", postcode="LS6 2AB")]) \
        == {"q1": 2}
    # His postcode does count, and a shielded namesake there cannot be lifted by it.
    children[0] = ("a", child(postcode="LS6 2AB"))
    assert shared_evidence(children, [judgment("a", given_name="Jack", family_name="Wood", postcode="LS6 2AB")]) \
        == {"q1": 0}


def test_a_new_surname_leaves_the_given_name_and_postcode_as_the_evidence():
    children = [("a", child(family="Carter")), ("b", child(family="Evans", postcode="E14 0GG")),
                ("c", child(given="George", family="Carter"))]
    query = judgment("a", ["missing:date_of_birth", "surname_change"], given_name="Jack", family_name="Evans",
                     gender="male", postcode="LS6 2AB")
    assert shared_evidence(children, [query]) == {"q1": 0}


def test_queries_with_misspelt_names_or_dates_are_not_assessed():
    children = [("a", child()), ("b", child())]
    queries = [judgment("a", ["typo:given_name"], given_name="Jakc", family_name="Wood"),
               judgment("a", ["dob:transposed"], id_="q2", given_name="Jack", family_name="Wood",
                        date_of_birth="2015-14-03")]
    assert shared_evidence(children, queries) == {"q1": None, "q2": None}


def test_a_query_with_no_name_of_the_childs_is_barred_by_the_minimum_evidence_rule():
    children = [("a", child()), ("b", child(family="Evans"))]
    queries = [judgment("a", ["missing:given_name", "surname_change"], family_name="Evans", date_of_birth="2015-03-14",
                        postcode="LS6 2AB"),
               judgment("a", ["surname_change"], id_="q2", given_name="Jack", family_name="Evans"),
               judgment("a", ["typo:given_name", "surname_change"], id_="q3", given_name="Jakc", family_name="Evans")]
    assert without_a_name_of_theirs(children, queries) == {"q1"}
