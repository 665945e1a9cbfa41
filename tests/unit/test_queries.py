"""Query building as pure dicts: clauses, weights from the profile, scope, grades and reasons."""
import datetime as dt

import pytest

from search_service.profiles import default_profile
from search_service.queries import Criteria, build_query, match_confidence, match_grade, max_score, reasons, strongest

PROFILE = default_profile()
FILTERS = [{"term": {"status": "active"}}]
SCOPE = {"term": {"shielded": False}}
DOB = dt.date(2015, 3, 4)


def _named(node, found=None):
    """Every named clause in the query, with its boost."""
    found = {} if found is None else found
    if isinstance(node, dict):
        if "constant_score" in node:
            found[node["constant_score"]["_name"]] = node["constant_score"]
        for value in node.values():
            _named(value, found)
    elif isinstance(node, list):
        for value in node:
            _named(value, found)
    return found


def test_visibility_filters_are_always_applied_and_something_must_match():
    body = build_query(Criteria(family_name="Smith", given_name="Jo"), PROFILE, FILTERS, SCOPE, size=11)
    assert body["query"]["bool"]["filter"] == FILTERS
    assert body["query"]["bool"]["minimum_should_match"] == 0  # the name gate in "must" decides
    assert body["size"] == 11


def test_every_strategy_is_present_and_weighted_by_the_profile():
    body = build_query(Criteria(family_name="O'Brien", given_name="Siobhan", date_of_birth=DOB, gender="female",
                                postcode="LS6 2AB"), PROFILE, FILTERS, SCOPE, size=11)
    named = _named(body)
    assert named.pop("locatable")["boost"] == 0.0  # marks the children location may count for; scores nothing
    assert set(named) == {"family_exact", "family_variant", "family_part", "family_phonetic", "family_fuzzy", "family_swapped",
                          "given_exact", "given_variant", "given_phonetic", "given_fuzzy", "given_middle",
                          "given_swapped", "given_initial", "dob_exact", "dob_transposed", "dob_near",
                          "dob_year_month", "dob_year", "gender", "postcode", "outward_code", "postcode_area",
                          "family_garbled", "given_garbled"}
    for name, clause in named.items():
        assert clause["boost"] == PROFILE.weights[name]


def test_names_use_the_same_keys_as_the_index():
    from analyzers import family_name_keys

    body = build_query(Criteria(family_name="Smith-Jones", given_name="Zoë"), PROFILE, FILTERS, None, size=11)
    named = _named(body)
    assert named["family_exact"]["filter"] == {"terms": {"family_full": ["smithjones"]}}
    assert named["family_part"]["filter"] == {"terms": {"family_exact": list(family_name_keys("Smith-Jones").exact)}}
    assert named["given_exact"]["filter"]["terms"]["given_exact"][0] == "zoe"
    # swapped names: the family criterion is looked for among given names, and vice versa
    assert "given_exact" in named["family_swapped"]["filter"]["terms"]
    assert "family_exact" in named["given_swapped"]["filter"]["terms"]


def test_outside_the_scope_only_the_current_name_counts():
    named = _named(build_query(Criteria(family_name="Smith", given_name="Jo"), PROFILE, FILTERS, SCOPE, size=11))
    assert named["family_exact"]["filter"] == {"bool": {"should": [
        {"terms": {"current_family_full": ["smith"]}},
        {"bool": {"filter": [{"terms": {"family_full": ["smith"]}}, SCOPE]}}], "minimum_should_match": 1}}
    fuzzy = named["family_fuzzy"]["filter"]["bool"]["should"]
    assert set(fuzzy[0]["fuzzy"]) == {"current_family_exact"} and set(fuzzy[1]["bool"]["filter"][0]["fuzzy"]) == \
        {"family_exact"}
    assert named.pop("locatable")["filter"] == SCOPE  # tells which side of the scope each child was put


def test_date_of_birth_alternatives():
    named = _named(build_query(Criteria(family_name="Smith", date_of_birth=DOB), PROFILE, FILTERS, SCOPE, size=11))
    assert named["dob_exact"]["filter"] == {"term": {"date_of_birth": "2015-03-04"}}
    assert named["dob_transposed"]["filter"] == {"term": {"date_of_birth": "2015-04-03"}}
    near = named["dob_near"]["filter"]["terms"]["date_of_birth"]
    assert "2015-03-05" in near and "2015-03-04" not in near and "2015-04-03" not in near
    assert named["dob_year_month"]["filter"] == {"term": {"dob_year_month": "2015-03"}}
    assert named["dob_year"]["filter"] == {"term": {"dob_year": "2015"}}


def test_a_partial_date_of_birth():
    named = _named(build_query(Criteria(family_name="Smith", birth_year=2015), PROFILE, FILTERS, SCOPE, size=11))
    assert set(n for n in named if n.startswith("dob")) == {"dob_year"}
    named = _named(build_query(Criteria(family_name="Smith", birth_year=2015, birth_month=3), PROFILE, FILTERS,
                               SCOPE, size=11))
    assert named["dob_year_month"]["filter"] == {"term": {"dob_year_month": "2015-03"}}


def test_location_only_counts_inside_the_scope():
    named = _named(build_query(Criteria(family_name="Smith", given_name="Jo", postcode="ls62ab"), PROFILE, FILTERS,
                               SCOPE, size=11))
    assert named["postcode"]["filter"] == {"bool": {"filter": [{"term": {"postcode": "LS6 2AB"}}, SCOPE]}}
    assert named["outward_code"]["filter"] == {"bool": {"filter": [{"term": {"outward_code": "LS6"}}, SCOPE]}}
    # Any district of the area (LS1, LS6, LS10, LS99) and none of another area sharing a letter (L6, LE1).
    assert named["postcode_area"]["filter"] == {
        "bool": {"filter": [{"regexp": {"outward_code": "LS[0-9][0-9A-Z]?"}}, SCOPE]}}
    unscoped = _named(build_query(Criteria(family_name="Smith", given_name="Jo", postcode="ls62ab"), PROFILE,
                                  FILTERS, None, size=11))
    assert unscoped["postcode"]["filter"] == {"term": {"postcode": "LS6 2AB"}}


def test_weak_candidates_are_cut_in_elasticsearch():
    criteria = Criteria(family_name="Smith", given_name="Jo", date_of_birth=DOB)
    body = build_query(criteria, PROFILE, FILTERS, SCOPE, size=11)
    best = PROFILE.weights["family_exact"] + PROFILE.weights["given_exact"] + PROFILE.weights["dob_exact"]
    assert max_score(criteria, PROFILE) == best
    assert body["min_score"] == round(PROFILE.thresholds["minimum"] * best, 4)


def test_an_id_search_is_an_exact_term_within_the_filters():
    body = build_query(Criteria(cp_id="9434765919"), PROFILE, FILTERS, SCOPE, size=11)
    assert body["query"]["bool"]["must"] == [{"term": {"cp_id": {"value": "9434765919", "_name": "cp_id"}}}]
    assert body["query"]["bool"]["filter"] == FILTERS


def test_only_identity_fields_are_fetched():
    body = build_query(Criteria(family_name="Smith", given_name="Jo"), PROFILE, FILTERS, SCOPE, size=11)
    assert set(body["_source"]) == {"cp_id", "given_name", "family_name", "date_of_birth", "gender", "shielded",
                                    "names"}


def test_grades_follow_the_share_of_the_best_possible_score():
    criteria = Criteria(family_name="Smith", given_name="Jo", date_of_birth=DOB)
    best = max_score(criteria, PROFILE)
    certain, probable = PROFILE.thresholds["certain"], PROFILE.thresholds["probable"]
    assert match_grade(best, criteria, PROFILE, set()) == "certain"
    assert match_grade(best * certain, criteria, PROFILE, set()) == "certain"
    assert match_grade(best * certain - 0.01, criteria, PROFILE, set()) == "probable"
    assert match_grade(best * probable, criteria, PROFILE, set()) == "probable"
    assert match_grade(best * probable - 0.01, criteria, PROFILE, set()) == "possible"
    assert match_grade(0, Criteria(cp_id="9434765919"), PROFILE, {"cp_id"}) == "certain"


def test_confidence_is_the_share_the_grade_is_read_from_between_0_and_1():
    criteria = Criteria(family_name="Smith", given_name="Jo", date_of_birth=DOB)
    best = max_score(criteria, PROFILE)
    assert match_confidence(best * 0.5, criteria, PROFILE, set()) == pytest.approx(0.5)
    assert match_confidence(best * 1.2, criteria, PROFILE, set()) == 1.0  # an identifier's weight never lifts it over 1
    assert match_confidence(0, Criteria(cp_id="9434765919"), PROFILE, {"cp_id"}) == 1.0
    # A number beside a date that does not agree exactly proves no more than the rest: its weight is left out.
    with_number = best * 0.5 + PROFILE.weights["nhs_number"]
    assert match_confidence(with_number, criteria, PROFILE, {"nhs_number"}) == pytest.approx(0.5)
    assert match_confidence(with_number, criteria, PROFILE, {"nhs_number", "dob_exact"}) == 1.0


def test_reasons_name_the_strongest_agreement_of_each_kind():
    matched = {"family_phonetic", "family_fuzzy", "given_variant", "given_initial", "dob_transposed", "dob_year"}
    assert strongest(matched) == ["family_phonetic", "given_variant", "dob_transposed"]
    assert reasons(matched) == ["family name sounds like", "given name is a nickname or variant",
                                "date of birth with day and month swapped"]
    assert reasons({"family_swapped", "given_swapped"}) == ["given and family names swapped"]


def test_some_name_must_agree_when_names_are_given():
    body = build_query(Criteria(family_name="Smith", given_name="Jo", date_of_birth=DOB), PROFILE, FILTERS, SCOPE,
                       size=11)
    (name_gate,) = body["query"]["bool"]["must"]
    assert name_gate["bool"]["minimum_should_match"] == 1
    assert {c for c in _named(name_gate)} >= {"family_exact", "given_exact"}
    assert not any(n.startswith("dob") for n in _named(name_gate))
    # each group is scored once: names in the gate, other evidence in "should"
    assert not any(n.startswith(("family", "given")) for n in _named(body["query"]["bool"]["should"]))


def _candidates(*scores_and_grades):
    from search_service.search import Candidate

    return [Candidate(str(i), "A", "B", "2015-01-01", "female", score, grade, [], False)
            for i, (score, grade) in enumerate(scores_and_grades)]


def test_too_many_when_more_strong_candidates_than_may_be_shown():
    from search_service.search import too_many

    assert too_many(_candidates(*[(25, "probable")] * 4), 3, PROFILE) is True
    assert too_many(_candidates(*[(25, "probable")] * 3, (5, "possible")), 3, PROFILE) is False


def test_too_many_when_the_cut_candidate_cannot_be_told_from_the_best():
    from search_service.search import too_many

    assert too_many(_candidates((12, "possible"), (12, "possible"), (11.5, "possible"), (11, "possible")), 3,
                    PROFILE) is True
    # one candidate stands out from weak ones: a short list, best first
    assert too_many(_candidates((19, "possible"), (13, "possible"), (12, "possible"), (12, "possible")), 3,
                    PROFILE) is False


def test_children_outside_the_location_scope_are_cut_and_graded_without_location():
    criteria = Criteria(given_name="Amara", family_name="Okafor", date_of_birth=DOB, postcode="LS6 2AB")
    scoped = build_query(criteria, PROFILE, FILTERS, SCOPE, size=11)
    without_postcode = max_score(criteria, PROFILE, with_location=False)
    assert without_postcode == max_score(criteria, PROFILE) - PROFILE.weights["postcode"]
    assert scoped["min_score"] == round(PROFILE.thresholds["minimum"] * without_postcode, 4)
    marker = _named(scoped)["locatable"]
    assert (marker["filter"], marker["boost"]) == (SCOPE, 0.0)
    # Seen by someone who may locate everyone, the postcode counts in the minimum and no marker is needed.
    national = build_query(criteria, PROFILE, FILTERS, None, size=11)
    assert "locatable" not in _named(national)
    assert national["min_score"] == round(PROFILE.thresholds["minimum"] * max_score(criteria, PROFILE), 4)
    # A shielded child agreeing on everything but (unusable) location is still certain.
    assert match_grade(without_postcode, criteria, PROFILE, set(), location_counts=False) == "certain"
    assert match_grade(without_postcode, criteria, PROFILE, set(), location_counts=True) != "certain"


# --- Garbled names beside strong other evidence ------------------------------------------------------------
GARBLED = Criteria(family_name="Hakq", given_name="Amara", date_of_birth=DOB, gender="female", postcode="ls62ab")


def test_a_garbled_name_counts_only_beside_a_near_date_and_the_postcode_in_scope():
    from analyzers import near_dates

    named = _named(build_query(GARBLED, PROFILE, FILTERS, SCOPE, size=11))
    name_part, evidence = named["family_garbled"]["filter"]["bool"]["filter"]
    # Two slips from a short family name, or (swapped) the usual slips from a given name.
    fuzzies = [q["fuzzy"] for q in name_part["bool"]["should"]]
    assert [(list(f)[0], f[list(f)[0]]["value"], f[list(f)[0]]["fuzziness"]) for f in fuzzies] == [
        ("family_exact", "hakq", 2), ("given_exact", "hakq", "AUTO")]
    dates, postcode, scope = evidence["bool"]["filter"]
    assert set(dates["terms"]["date_of_birth"]) == {d.isoformat() for d in (DOB, DOB.replace(month=4, day=3),
                                                                              *near_dates(DOB))}
    assert postcode == {"term": {"postcode": "LS6 2AB"}} and scope == SCOPE
    assert named["given_garbled"]["filter"]["bool"]["filter"][1] == evidence
    assert named["family_garbled"]["boost"] == PROFILE.weights["family_garbled"]


def test_no_garbled_name_without_a_full_date_of_birth_and_a_postcode():
    for criteria in (Criteria(family_name="Hakq", given_name="Amara", date_of_birth=DOB),
                     Criteria(family_name="Hakq", given_name="Amara", birth_year=2015, postcode="LS6 2AB")):
        named = _named(build_query(criteria, PROFILE, FILTERS, SCOPE, size=11))
        assert "family_garbled" not in named and "given_garbled" not in named


def test_garbled_names_leave_the_best_possible_score_and_the_minimum_alone():
    body = build_query(GARBLED, PROFILE, FILTERS, SCOPE, size=11)
    w = PROFILE.weights
    assert max_score(GARBLED, PROFILE) == w["family_exact"] + w["given_exact"] + w["dob_exact"] + w["gender"] \
        + w["postcode"]
    assert body["min_score"] == round(PROFILE.thresholds["minimum"] * max_score(GARBLED, PROFILE, False), 4)
    assert w["family_garbled"] < w["family_fuzzy"] and w["given_garbled"] < w["given_fuzzy"]


def test_a_garbled_name_is_the_weakest_reason_of_its_group():
    assert reasons({"family_garbled", "given_initial", "given_garbled"}) == [
        "family name garbled, date of birth and postcode agree", "given name garbled, date of birth and postcode agree"]
    assert reasons({"family_fuzzy", "family_garbled"}) == ["family name spelt similarly"]


def test_long_garbled_names_leave_two_slips_to_the_ordinary_fuzzy_clause():
    criteria = Criteria(family_name="Fitzgefalr", given_name="Emma", date_of_birth=DOB, postcode="LS6 2AB")
    named = _named(build_query(criteria, PROFILE, FILTERS, SCOPE, size=11))
    name_part = named["family_garbled"]["filter"]["bool"]["filter"][0]
    assert [list(q["fuzzy"]) for q in name_part["bool"]["should"]] == [["given_exact"]]


@pytest.mark.parametrize("given, opposite", [("male", "female"), ("female", "male")])
def test_a_child_recorded_as_the_opposite_gender_keeps_only_a_share_of_its_score(given, opposite):
    body = build_query(Criteria(family_name="Fox", given_name="Alex", gender=given), PROFILE, FILTERS, SCOPE, size=11)
    boosting = body["query"]["boosting"]
    assert boosting["negative"] == {"term": {"gender": opposite}}
    assert boosting["negative_boost"] == PROFILE.thresholds["contradicting_gender"]
    assert boosting["positive"]["bool"]["filter"] == FILTERS  # the visibility filters still decide who is found


@pytest.mark.parametrize("gender", [None, "unknown", "other"])
def test_a_gender_that_contradicts_nothing_demotes_nobody(gender):
    body = build_query(Criteria(family_name="Fox", given_name="Alex", gender=gender), PROFILE, FILTERS, SCOPE, size=11)
    assert "boosting" not in body["query"]
