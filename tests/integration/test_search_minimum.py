"""Minimum search criteria as NHS PDS has them: a given name, date of birth, gender and postcode find a child
without a family name; the 400 names every accepted combination; some name must still agree, and "too many"
still stops a broad search from listing children."""
import pytest

from webapp.api.openapi import document

from ..support.accounts import add_user, sign_in
from .helpers import api_search, years_ago

DOB = years_ago(9, day=4)
IN_WORDS = ("give at least one of: family name and given name; family name and date of birth; family name and year "
            "of birth; given name, date of birth, gender and postcode; NHS number and date of birth; unique pupil "
            "number and date of birth; ContactPoint ID")
FAMILY_NAMES = ("Adams", "Baker", "Clarke", "Davies", "Evans", "Foster", "Green", "Hughes", "Irving", "Jones",
                "Kelly", "Lewis", "Morgan", "Norris", "Owens", "Parker")


def _jack(**child):
    return {"given": "Jack", "family": "Okafor", "dob": DOB, "gender": "male", "postcode": "LS6 2AB", **child}


def test_given_name_date_of_birth_gender_and_postcode_find_a_child_without_a_family_name(client, indexed):
    target, _, _ = indexed(_jack(),
                           # Same date of birth, gender and postcode, no name in common: never a candidate.
                           dict(given="Oliver", family="Mensah", dob=DOB, gender="male", postcode="LS6 2AB"),
                           dict(given="Jack", family="Bello", dob=years_ago(4), gender="male", postcode="M1 1AE"))
    status, body = api_search(client, given_name="Jack", date_of_birth=DOB.isoformat(), gender="male",
                           postcode="LS6 2AB")
    assert status == 200
    assert body["too_many"] is False
    assert [(r["cp_id"], r["match_grade"]) for r in body["results"]] == [(target, "certain")]
    assert body["results"][0]["matched_on"] == ["given name", "date of birth", "gender", "postcode"]
    # The given-name clauses alone gate the candidates: a misspelt given name still finds the child.
    _, misspelt = api_search(client, given_name="Jakc", date_of_birth=DOB.isoformat(), gender="male",
                             postcode="LS6 2AB")
    assert [r["cp_id"] for r in misspelt["results"]] == [target]
    # PDS's other fuzzy alternative, family name + date of birth + gender + postcode, is accepted too.
    _, by_family = api_search(client, family_name="Okafor", date_of_birth=DOB.isoformat(), gender="male",
                           postcode="LS6 2AB")
    assert [r["cp_id"] for r in by_family["results"]] == [target]


@pytest.mark.parametrize("criteria", [
    {"given_name": "Jack", "date_of_birth": DOB.isoformat()},
    {"given_name": "Jack", "date_of_birth": DOB.isoformat(), "gender": "male"},
    {"given_name": "Jack", "date_of_birth": DOB.isoformat(), "postcode": "LS6 2AB"},
    {"given_name": "Jack", "birth_year": DOB.year, "gender": "male", "postcode": "LS6 2AB"},
    {"date_of_birth": DOB.isoformat(), "gender": "male", "postcode": "LS6 2AB"},
    {"family_name": "Okafor", "gender": "male", "postcode": "LS6 2AB"},
    {"postcode": "LS6 2AB"},
])
def test_too_few_criteria_get_a_400_naming_every_accepted_combination(client, indexed, criteria):
    indexed(_jack())
    status, body = api_search(client, **criteria)
    assert status == 400
    assert body == {"message": "the request is not valid", "errors": {"_schema": [IN_WORDS]}}


def test_too_many_still_stops_browsing_by_given_name_date_of_birth_and_postcode_district(client, indexed, app):
    """Boys called Jack born on one day in one postcode district: the criteria single nobody out."""
    cap = app.config["SETTINGS"].max_results
    district = [f"LS6 {n % 10}{'ABDEFGHJLNPQRSTU'[n]}A" for n in range(cap + 1)]
    jacks = indexed(*[_jack(family=family, postcode=postcode) for family, postcode in zip(FAMILY_NAMES, district)],
                    # Others nearby who share no name, or no date of birth, change nothing.
                    *[dict(given="Oliver", family="Mensah", dob=DOB, gender="male", postcode="LS6 9ZZ")] * 3,
                    *[_jack(dob=years_ago(5), postcode="LS6 9ZZ")] * 3)
    for postcode in ("LS6 9ZZ", district[0]):  # a postcode in the district, or one of the boys' own
        status, body = api_search(client, given_name="Jack", date_of_birth=DOB.isoformat(), gender="male",
                               postcode=postcode)
        assert status == 200
        assert body == {"results": [], "too_many": True}, postcode
    # Adding the family name singles one out again.
    _, narrowed = api_search(client, given_name="Jack", family_name=FAMILY_NAMES[0], date_of_birth=DOB.isoformat(),
                          gender="male", postcode=district[0])
    assert narrowed["too_many"] is False
    assert narrowed["results"][0]["cp_id"] == jacks[0]
    assert narrowed["results"][0]["match_grade"] == "certain"


def test_a_shielded_child_is_found_by_given_name_but_its_postcode_never_counts(client, indexed):
    open_child, shielded = indexed(_jack(), _jack(family="Mensah", postcode="M1 1AE", shielded=True))
    for postcode in ("LS6 2AB", "M1 1AE"):
        _, body = api_search(client, given_name="Jack", date_of_birth=DOB.isoformat(), gender="male", postcode=postcode)
        found = {r["cp_id"]: r for r in body["results"]}
        assert set(found) == {open_child, shielded}
        assert found[shielded]["shielded"] is True
        assert found[shielded]["matched_on"] == ["given name", "date of birth", "gender"]


def test_the_search_page_accepts_the_pds_alternative_and_lists_the_combinations_when_short(
        anonymous, sessions, indexed, app):
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    target, = indexed(_jack())
    app.config["WTF_CSRF_ENABLED"] = False
    form = {"given_name": "Jack", "family_name": "", "dob-day": str(DOB.day), "dob-month": str(DOB.month),
            "dob-year": str(DOB.year), "gender": "male", "postcode": "LS6 2AB"}
    page = anonymous.post("/search", data=form)
    assert page.status_code == 200
    assert target in page.get_data(as_text=True)
    short = anonymous.post("/search", data={**form, "gender": ""})
    html = short.get_data(as_text=True)
    assert short.status_code == 400
    assert "There is a problem" in html
    assert f'<a href="#given_name">{IN_WORDS}</a>' in html  # the summary links to the form's first field


def test_the_openapi_document_lists_the_same_combinations(app):
    rules = document(app)["components"]["schemas"]["Search"]["allOf"][0]["anyOf"]
    assert rules == [{"required": ["family_name", "given_name"]}, {"required": ["family_name", "date_of_birth"]},
                     {"required": ["family_name", "birth_year"]},
                     {"required": ["given_name", "date_of_birth", "gender", "postcode"]},
                     {"required": ["nhs_number", "date_of_birth"]}, {"required": ["upn", "date_of_birth"]},
                     {"required": ["cp_id"]}]
