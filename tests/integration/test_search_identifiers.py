"""Searching by NHS number or UPN with a date of birth: exact, checked at the door, and shielding still holds."""
from indexing import rebuild
from registry import writes

from ..support.accounts import add_user, sign_in
from .helpers import ALIAS, CHECKPOINT, api_search, years_ago

DOB = years_ago(8, day=12)
NHS = "9434765919"
UPN = "B801200005001"


def _child(session, given, family, dob=DOB, la_code="E08000035", postcode="LS6 2AB", shielded=False, **identifiers):
    child = writes.create_child(session, given_name=given, family_name=family, date_of_birth=dob, gender="female",
                                postcode=postcode, la_code=la_code, **identifiers)
    writes.set_shielded(session, child, shielded)
    return child.cp_id


def _indexed(es, sessions, *children):
    """Write children (keyword arguments of ``_child``) and bring the index up to date."""
    with sessions.begin() as session:
        ids = [_child(session, **child) for child in children]
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    return ids


def test_an_nhs_number_and_date_of_birth_find_the_child_and_nobody_else(client, es, sessions):
    target, _, _ = _indexed(
        es, sessions,
        dict(given="Amara", family="Okafor", nhs_number=NHS),
        # Same date of birth, another number: never a candidate, since no name was given.
        dict(given="Amara", family="Okafor", nhs_number="4000000020"),
        dict(given="Kwame", family="Mensah", dob=years_ago(5)))
    status, body = api_search(client, nhs_number="943 476 5919", date_of_birth=DOB.isoformat())
    assert status == 200, body
    assert body["too_many"] is False
    assert [(r["cp_id"], r["match_grade"]) for r in body["results"]] == [(target, "certain")]
    assert body["results"][0]["matched_on"] == ["NHS number", "date of birth"]


def test_a_valid_number_with_another_date_of_birth_pulls_in_no_stranger(client, es, sessions):
    """A slip that is still a valid number (someone else's) must not find that someone else."""
    stranger, = _indexed(es, sessions, dict(given="Kwame", family="Mensah", dob=years_ago(5), nhs_number=NHS))
    status, body = api_search(client, nhs_number=NHS, date_of_birth=DOB.isoformat())
    assert (status, body) == (200, {"results": [], "too_many": False})
    # Beside a family name the number counts for nothing either without the right date of birth.
    _, by_name = api_search(client, family_name="Mensah", given_name="Kwame", nhs_number=NHS,
                            date_of_birth=DOB.isoformat())
    assert [r["cp_id"] for r in by_name["results"]] == [stranger]
    assert "NHS number" not in by_name["results"][0]["matched_on"]
    assert by_name["results"][0]["match_grade"] != "certain"


def test_a_upn_and_date_of_birth_find_the_child_and_single_her_out_from_a_namesake(client, es, sessions):
    target, namesake = _indexed(es, sessions, dict(given="Amara", family="Okafor", upn=UPN),
                         dict(given="Amara", family="Okafor"))
    status, body = api_search(client, upn="b801 2000 05001", date_of_birth=DOB.isoformat())
    assert status == 200, body
    assert [(r["cp_id"], r["match_grade"], r["matched_on"]) for r in body["results"]] == [
        (target, "certain", ["unique pupil number", "date of birth"])]
    # Beside her names the UPN ranks her above a namesake born the same day, and only she is certain.
    _, renamed = api_search(client, family_name="Okafor", given_name="Amara", upn=UPN, date_of_birth=DOB.isoformat())
    assert [(r["cp_id"], "unique pupil number" in r["matched_on"]) for r in renamed["results"]] == [
        (target, True), (namesake, False)]


def test_identifiers_are_checked_and_the_400_names_the_field(client):
    status, body = api_search(client, nhs_number="9434765918", date_of_birth=DOB.isoformat())
    assert status == 400
    assert body["errors"] == {"nhs_number": ["fails its modulus-11 check digit"]}
    status, body = api_search(client, upn="A801200005001", date_of_birth=DOB.isoformat())
    assert (status, body["errors"]) == (400, {"upn": ["fails its check letter"]})
    status, body = api_search(client, nhs_number="94347659", family_name="Okafor", given_name="Amara")
    assert (status, body["errors"]) == (400, {"nhs_number": ["must be 10 digits"]})
    # A number alone is not enough: it goes with a date of birth.
    status, body = api_search(client, nhs_number=NHS)
    assert status == 400 and "NHS number and date of birth" in body["errors"]["_schema"][0]


def test_a_shielded_child_found_by_nhs_number_shows_no_location_to_another_authority(client, es, sessions):
    # The client's practitioner works in E09000001; the child is shielded by E08000035.
    shielded, = _indexed(es, sessions, dict(given="Amara", family="Okafor", nhs_number=NHS, shielded=True,
                                            postcode="M1 1AE"))
    for postcode in ("M1 1AE", "LS6 2AB"):  # its own postcode or another: location never counts for or against
        status, body = api_search(client, nhs_number=NHS, date_of_birth=DOB.isoformat(), postcode=postcode)
        assert status == 200, body
        (result,) = body["results"]
        assert (result["cp_id"], result["shielded"], result["match_grade"]) == (shielded, True, "certain")
        assert result["matched_on"] == ["NHS number", "date of birth"]
    record = client.get(f"/api/v1/children/{shielded}?purpose=safeguarding_concern")
    assert record.status_code == 200
    child = record.get_json()
    assert child["redacted"] is True
    assert "M1 1AE" not in record.get_data(as_text=True)
    assert not {"address", "postcode", "carers", "school", "involvements"} & set(child)


def test_the_search_page_takes_an_nhs_number(anonymous, sessions, es, app):
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    target, = _indexed(es, sessions, dict(given="Amara", family="Okafor", nhs_number=NHS))
    app.config["WTF_CSRF_ENABLED"] = False
    form = {"nhs_number": "943 476 5919", "dob-day": str(DOB.day), "dob-month": str(DOB.month),
            "dob-year": str(DOB.year)}
    page = anonymous.post("/search", data=form)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert target in html and "NHS number, date of birth" in html
    wrong = anonymous.post("/search", data={**form, "nhs_number": "943 476 5918"})
    assert wrong.status_code == 400
    assert "fails its modulus-11 check digit" in wrong.get_data(as_text=True)
