"""NHS number and UPN in query building: an exact clause beside the date of birth, never scoped, graded apart."""
import datetime as dt

from search_service.criteria import meets_minimum
from search_service.profiles import default_profile
from search_service.queries import Criteria, build_query, match_grade, max_score, reasons

from .test_queries import FILTERS, PROFILE, SCOPE, _named

DOB = dt.date(2015, 3, 4)
NHS = "9434765919"
UPN = "B801200005001"


def test_an_identifier_clause_stands_beside_the_exact_date_of_birth_and_is_weighted_by_the_profile():
    body = build_query(Criteria(nhs_number=NHS, upn=UPN, date_of_birth=DOB), PROFILE, FILTERS, SCOPE, size=11)
    named = _named(body)
    assert named["nhs_number"]["filter"] == {"bool": {"filter": [{"term": {"nhs_number": NHS}},
                                                                 {"term": {"date_of_birth": "2015-03-04"}}]}}
    assert named["upn"]["filter"] == {"bool": {"filter": [{"term": {"upn": UPN}},
                                                          {"term": {"date_of_birth": "2015-03-04"}}]}}
    assert (named["nhs_number"]["boost"], named["upn"]["boost"]) == (PROFILE.weights["nhs_number"],
                                                                      PROFILE.weights["upn"])
    assert PROFILE.weights["nhs_number"] > PROFILE.weights["dob_exact"] > 0


def test_without_a_name_the_identifier_is_the_gate_and_is_never_scoped():
    body = build_query(Criteria(nhs_number=NHS, date_of_birth=DOB), PROFILE, FILTERS, SCOPE, size=11)
    query = body["query"]["bool"]
    (gate,) = query["must"]
    assert gate["bool"]["minimum_should_match"] == 1
    (identifier,) = gate["bool"]["should"]
    # Identity, not location: the shielded-child scope appears nowhere inside the identifier clause.
    assert "shielded" not in str(identifier)
    assert query["minimum_should_match"] == 0   # the date of birth alone never lets a child in
    assert "locatable" in _named(body)          # location still counts only inside the scope


def test_beside_names_an_identifier_is_one_more_way_in():
    body = build_query(Criteria(family_name="Okafor", given_name="Amara", nhs_number=NHS, date_of_birth=DOB),
                       PROFILE, FILTERS, SCOPE, size=11)
    (gate,) = body["query"]["bool"]["must"]
    assert len(gate["bool"]["should"]) == 3 and gate["bool"]["minimum_should_match"] == 1


def test_a_partial_date_of_birth_is_what_the_identifier_stands_beside():
    body = build_query(Criteria(family_name="Okafor", nhs_number=NHS, birth_year=2015, birth_month=3), PROFILE,
                       FILTERS, SCOPE, size=11)
    assert _named(body)["nhs_number"]["filter"]["bool"]["filter"][1] == {"term": {"dob_year_month": "2015-03"}}


def test_identifiers_stay_out_of_the_best_possible_score():
    plain = Criteria(family_name="Okafor", given_name="Amara", date_of_birth=DOB)
    with_number = Criteria(family_name="Okafor", given_name="Amara", date_of_birth=DOB, nhs_number=NHS)
    # A child whose record has no NHS number is graded as if none had been given.
    assert max_score(with_number, PROFILE) == max_score(plain, PROFILE)
    names_and_dob = PROFILE.weights["family_exact"] + PROFILE.weights["given_exact"] + PROFILE.weights["dob_exact"]
    assert match_grade(names_and_dob, with_number, PROFILE, {"family_exact", "given_exact", "dob_exact"}) == "certain"


def test_an_identifier_makes_certain_only_with_the_full_date_of_birth():
    w = PROFILE.weights
    criteria = Criteria(nhs_number=NHS, date_of_birth=DOB)
    assert match_grade(w["nhs_number"] + w["dob_exact"], criteria, PROFILE, {"nhs_number", "dob_exact"}) == "certain"
    # With only a family name and a year beside it, the number adds nothing to the grade: it may be mistyped.
    partial = Criteria(family_name="Okafor", nhs_number=NHS, birth_year=2015)
    assert match_grade(w["nhs_number"] + w["dob_year"], partial, PROFILE, {"nhs_number", "dob_year"}) == "possible"
    assert match_grade(w["nhs_number"] + w["family_exact"] + w["dob_year"], partial, PROFILE,
                       {"nhs_number", "family_exact", "dob_year"}) == "certain"


def test_reasons_put_the_identifier_first():
    assert reasons({"dob_exact", "nhs_number", "family_exact"}) == ["NHS number", "family name", "date of birth"]
    assert reasons({"upn", "dob_exact"}) == ["unique pupil number", "date of birth"]


def test_an_identifier_is_enough_only_with_a_date_of_birth():
    assert meets_minimum({"nhs_number": NHS, "date_of_birth": DOB})
    assert meets_minimum({"upn": UPN, "date_of_birth": DOB})
    assert not meets_minimum({"nhs_number": NHS})
    assert not meets_minimum({"upn": UPN, "birth_year": 2015})


def test_a_profile_stored_before_identifiers_takes_the_shipped_weights():
    data = default_profile().to_dict()
    for name in ("nhs_number", "upn"):
        del data["weights"][name]
    profile = type(PROFILE).from_dict(data)
    assert (profile.weights["nhs_number"], profile.weights["upn"]) == (PROFILE.weights["nhs_number"],
                                                                       PROFILE.weights["upn"])
