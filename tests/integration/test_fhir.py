"""The FHIR R4 façade under /fhir: $match, PDS-style search and read through the JSON API's services.

Every answer, success or refusal, is parsed by the FHIR models of fhir.resources (R4B: R4's Patient, Bundle,
Parameters, OperationOutcome and CapabilityStatement), so a resource FHIR would not accept fails the test.
"""
import json

from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from access_control.models import AuditEvent
from registry import cpid, merging, writes
from indexing import rebuild
from registry.models import Child
from webapp.fhir.resources import CP_ID_SYSTEM, MATCH_GRADE_URL, NHS_NUMBER_SYSTEM

from ..support.accounts import ACTING_FOR, add_token, add_user, csrf_token, sign_in
from .helpers import ALIAS, CHECKPOINT, change_child, years_ago

DOB = years_ago(6, day=14)
FHIR_JSON = "application/fhir+json"
NHS = "9434765919"


def fhir(response, status: int = 200) -> dict:
    """The answer's resource, after checking its status, content type and that FHIR accepts it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    body = json.loads(response.get_data(as_text=True))
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def match(client, status=200, count=None, only_certain=None, **patient) -> dict:
    parameters = [{"name": "resource", "resource": {"resourceType": "Patient", **patient}}]
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    if only_certain is not None:
        parameters.append({"name": "onlyCertainMatches", "valueBoolean": only_certain})
    return fhir(client.post("/fhir/Patient/$match", json={"resourceType": "Parameters", "parameter": parameters},
                            content_type=FHIR_JSON), status)


def patient(given="Amara", family="Okafor", dob=DOB, **more) -> dict:
    return {"name": [{"family": family, "given": [given]}], "birthDate": dob.isoformat(), **more}


def grades(bundle: dict) -> dict:
    return {e["resource"]["id"]: e["search"]["extension"][0]["valueCode"] for e in bundle.get("entry", [])
            if e["search"]["mode"] == "match"}


def problem(outcome: dict) -> str:
    """Everything the OperationOutcome says, for checking it names the problem."""
    assert outcome["resourceType"] == "OperationOutcome"
    return json.dumps(outcome["issue"])


def test_the_capability_statement_is_served_without_credentials(anonymous):
    statement = fhir(anonymous.get("/fhir/metadata"))
    assert statement["fhirVersion"] == "4.0.1"
    patient_rest = statement["rest"][0]["resource"][0]
    assert [o["name"] for o in patient_rest["operation"]] == ["match"]
    assert {p["name"] for p in patient_rest["searchParam"]} >= {"family", "given", "birthdate", "address-postalcode"}
    assert CP_ID_SYSTEM in statement["rest"][0]["documentation"]


def test_match_answers_a_searchset_with_the_searchs_own_grades_and_scores(client, indexed):
    target, misspelt = indexed(dict(given="Siobhan", family="O'Brien", dob=DOB),
                               dict(given="Amara", family="Okafor", dob=DOB))
    bundle = match(client, **patient("Siobhan", "OBrien", gender="female"))
    assert bundle["type"] == "searchset"
    assert grades(bundle) == {target: "certain"}
    entry = bundle["entry"][0]
    assert entry["search"]["mode"] == "match" and entry["search"]["score"] == 1
    assert entry["search"]["extension"][0]["url"] == MATCH_GRADE_URL
    resource = entry["resource"]
    assert resource["identifier"] == [{"system": CP_ID_SYSTEM, "value": target}]
    assert resource["name"][0]["family"] == "O'Brien" and resource["birthDate"] == DOB.isoformat()
    assert "meta" not in resource
    probable = match(client, **patient("Amara", "Okafur"))
    assert grades(probable) == {misspelt: "probable"}
    # The score is the confidence the grade is read from: between the profile's probable and certain shares.
    assert 0.8 <= probable["entry"][0]["search"]["score"] < 0.93


def test_count_and_only_certain_matches(client, indexed):
    first, second, probable = indexed(dict(given="Amara", family="Okafor", dob=DOB),
                                      dict(given="Amara", family="Okafor", dob=DOB),
                                      dict(given="Amara", family="Okafur", dob=DOB, postcode="M1 1AE"))
    everyone = match(client, **patient())
    assert set(grades(everyone)) == {first, second, probable}
    scores = [e["search"]["score"] for e in everyone["entry"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1 and 0 < scores[-1] < 1
    assert len(match(client, count=1, **patient())["entry"]) == 1
    # Two certain matches: onlyCertainMatches answers none rather than pick one.
    assert match(client, only_certain=True, **patient()).get("entry", []) == []
    one = match(client, only_certain=True, identifier=[{"system": CP_ID_SYSTEM, "value": second}], **patient())
    assert grades(one) == {second: "certain"}


def test_search_is_pds_style_and_too_many_is_an_outcome_entry(client, indexed, app):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    bundle = fhir(client.get(f"/fhir/Patient?family=Okafor&given=Amara&birthdate=eq{DOB.isoformat()}"))
    assert grades(bundle) == {target: "certain"}
    cap = app.config["SETTINGS"].max_results
    indexed(*[dict(given="Kwame", family="Mensah", dob=DOB) for _ in range(cap + 1)])
    crowded = fhir(client.get(f"/fhir/Patient?family=Mensah&given=Kwame&birthdate={DOB.isoformat()}"))
    assert [e["search"]["mode"] for e in crowded["entry"]] == ["outcome"]
    assert crowded["entry"][0]["resource"]["issue"][0]["code"] == "multiple-matches"
    assert crowded["total"] == 0


def test_read_needs_a_purpose_and_gives_address_and_contacts(client, sessions, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    change_child(sessions, target, lambda s, c: writes.add_carer(
        s, c, given_name="Grace", family_name="Okafor", relationship_to_child="mother", phone="0113 496 0000"))
    assert "purpose" in problem(fhir(client.get(f"/fhir/Patient/{target}"), 400))
    assert "purpose" in problem(fhir(client.get(f"/fhir/Patient/{target}?purpose=curiosity"), 400))
    resource = fhir(client.get(f"/fhir/Patient/{target}?purpose=safeguarding_concern"))
    assert resource["id"] == target and "meta" not in resource
    assert resource["address"][0]["postalCode"] == "LS6 2AB"
    assert resource["contact"][0]["telecom"] == [{"system": "phone", "value": "0113 496 0000"}]
    with sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "record_view")).one()
    details = json.loads(event.details)
    assert (details["channel"], details["purpose"], details["cp_id"]) == ("fhir", "safeguarding_concern", target)
    unknown = fhir(client.get("/fhir/Patient/1234567890?purpose=safeguarding_concern"), 400)
    assert "id" in problem(unknown)


def test_a_merged_childs_id_reads_the_record_that_replaces_it(client, sessions, indexed):
    older, newer = indexed(dict(given="Amara", family="Okafor", dob=DOB), dict(given="Amara", family="Okafer", dob=DOB))
    with sessions.begin() as session:
        children = {c.cp_id: c for c in session.scalars(select(Child))}
        merging.merge(session, children[older], children[newer], "admin.one")
    resource = fhir(client.get(f"/fhir/Patient/{newer}?purpose=service_coordination"))
    assert resource["id"] == older and resource["identifier"] == [{"system": CP_ID_SYSTEM, "value": older}]
    assert resource["link"] == [{"other": {"identifier": {"system": CP_ID_SYSTEM, "value": newer}},
                                 "type": "replaces"}]
    assert "link" not in fhir(client.get(f"/fhir/Patient/{older}?purpose=service_coordination"))


def test_match_by_nhs_number_and_birth_date_finds_the_child_and_a_wrong_number_finds_nobody(client, es, sessions):
    with sessions.begin() as session:
        target, namesake = (writes.create_child(session, given_name="Amara", family_name="Okafor", date_of_birth=DOB,
                                                gender="female", postcode="LS6 2AB", la_code="E08000035", **nhs)
                            for nhs in ({"nhs_number": NHS}, {}))
        target, namesake = target.cp_id, namesake.cp_id
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    by_number = [{"system": NHS_NUMBER_SYSTEM, "value": NHS}]
    assert grades(match(client, identifier=by_number, birthDate=DOB.isoformat())) == {target: "certain"}
    # Beside the names the number singles her out from her namesake, even when only certain matches will do.
    # Beside the names the number puts her first; her namesake (same names and date of birth, no number on
    # record) may still be her unlinked duplicate, so stays certain too, and a system
    # that asks only for certain matches gets none rather than a guess between the two.
    both = match(client, identifier=by_number, **patient())
    assert [e["resource"]["id"] for e in both["entry"]] == [target, namesake]
    assert grades(both) == {target: "certain", namesake: "certain"}
    assert match(client, only_certain=True, identifier=by_number, **patient()).get("entry", []) == []
    another = [{"system": NHS_NUMBER_SYSTEM, "value": "4000000020"}]
    assert match(client, identifier=another, birthDate=DOB.isoformat()).get("entry", []) == []
    bad = match(client, 400, identifier=[{"system": NHS_NUMBER_SYSTEM, "value": "9434765918"}],
                birthDate=DOB.isoformat())
    assert "identifier" in problem(bad)


def test_a_shielded_child_is_restricted_and_a_postcode_never_counts_for_it(client, sessions, indexed):
    shielded, = indexed(dict(given="Kwame", family="Mensah", dob=DOB, postcode="M1 1AE", shielded=True))
    change_child(sessions, shielded, lambda s, c: writes.add_carer(s, c, given_name="Ama", family_name="Mensah",
                                                                   relationship_to_child="mother", phone="0161 0"))
    restricted = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R",
                  "display": "restricted"}
    resource = fhir(client.get(f"/fhir/Patient/{shielded}?purpose=new_referral"))
    assert resource["meta"]["security"] == [restricted]
    assert not {"address", "telecom", "contact", "generalPractitioner"} & set(resource)
    without = match(client, **patient("Kwame", "Mensah"))
    for postcode in ("M1 1AE", "LS6 2AB"):
        found = match(client, **patient("Kwame", "Mensah", address=[{"postalCode": postcode}]))
        assert found["entry"][0]["resource"]["meta"]["security"] == [restricted]
        assert found["entry"][0]["search"] == without["entry"][0]["search"]
    with sessions() as session:
        searches = [json.loads(e.details) for e in session.scalars(select(AuditEvent)
                                                                   .where(AuditEvent.action == "search"))]
    assert [s["channel"] for s in searches] == ["fhir"] * 3
    assert all(s["shielded_returned"][0]["cp_id"] == shielded for s in searches)


def test_bad_match_input_is_a_400_outcome_naming_the_problem(client, sessions, indexed, app):
    indexed(dict(given="Amara", family="Okafor", dob=DOB))
    cap = app.config["SETTINGS"].max_results

    def post(body, content_type=FHIR_JSON):
        return fhir(client.post("/fhir/Patient/$match", data=body if isinstance(body, str) else json.dumps(body),
                                content_type=content_type), 400)

    params = {"resourceType": "Parameters", "parameter": [{"name": "count", "valueInteger": 3}]}
    assert "'resource' parameter" in problem(post(params))
    other = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
        "resourceType": "Observation", "status": "final", "code": {"text": "x"}}}]}
    assert "must be a Patient" in problem(post(other))
    assert "not FHIR JSON" in problem(post("{not json"))
    assert "Parameters" in problem(post({"resourceType": "Patient"}))
    malformed = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
        "resourceType": "Patient", "birthDate": "14/03/2019", "name": [{"family": "Okafor"}]}}]}
    assert "Parameters.parameter[0].resource.birthDate" in problem(post(malformed))
    assert "count" in problem(match(client, 400, count=cap + 1, **patient()))
    assert "Patient.birthDate" in problem(match(client, 400, **patient(dob=years_ago(40))))
    assert "Patient.name.given" in problem(match(client, 400, **patient(given="<b>A</b>")))
    assert "Patient" in problem(match(client, 400, name=[{"family": "Okafor"}]))  # below the minimum criteria
    assert "Patient.telecom" in problem(match(client, 400, telecom=[{"system": "phone", "value": "1"}], **patient()))
    assert "Patient.identifier[0]" in problem(match(client, 400, identifier=[{"system": "urn:x", "value": "1"}],
                                                    **patient()))
    as_text = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", **patient()}},
        {"name": "count", "valueString": "2"}]}
    assert "Parameters.parameter.count" in problem(post(as_text))
    unknown = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", **patient()}},
        {"name": "limit", "valueInteger": 1}]}
    assert "unknown parameter 'limit'" in problem(post(unknown))
    with sessions() as session:
        refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "request_refused")).all()
    assert len(refused) == 13 and not any("Okafor" in e.details for e in refused)


def test_search_refuses_unknown_and_bad_parameters(client, indexed):
    indexed(dict(given="Amara", family="Okafor", dob=DOB))
    assert "_count" in problem(fhir(client.get("/fhir/Patient?family=Okafor&given=Amara&_count=5"), 400))
    assert "birthdate" in problem(fhir(client.get("/fhir/Patient?family=Okafor&birthdate=2999-01-01"), 400))
    assert "family" in problem(fhir(client.get("/fhir/Patient?family=Okafor&family=Smith&given=A"), 400))
    too_little = fhir(client.get("/fhir/Patient?family=Okafor"), 400)
    assert too_little["issue"][0]["code"] == "invalid" and "given name" in problem(too_little)


def test_refusals_are_outcomes_with_the_json_apis_status(client, anonymous, app, sessions, indexed):
    denied = fhir(anonymous.get("/fhir/Patient?family=Okafor&given=Amara"), 401)
    assert denied["issue"][0]["code"] == "login"
    assert fhir(client.get("/fhir/Observation"), 404)["issue"][0]["code"] == "not-found"
    assert fhir(client.delete("/fhir/Patient/1234567890"), 405)["issue"][0]["code"] == "not-supported"
    unavailable = fhir(client.get("/fhir/Patient?family=Okafor&given=Amara"), 503)  # no index built yet
    assert unavailable["issue"][0]["code"] == "transient"
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    mistyped = fhir(client.get(f"/fhir/Patient/{target[:-1]}{(int(target[-1]) + 1) % 10}?purpose=new_referral"), 400)
    assert mistyped["issue"][0]["code"] == "invalid"
    nobody = next(cp_id for cp_id in iter(cpid.generate, None) if cp_id != target)
    assert fhir(client.get(f"/fhir/Patient/{nobody}?purpose=new_referral"), 404)["issue"][0]["code"] == "not-found"
    search_only = app.test_client()
    search_only.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {add_token(sessions, 'finder', scopes=('search',))}",
                                    HTTP_X_ACTING_FOR=ACTING_FOR)
    assert fhir(search_only.get(f"/fhir/Patient/{target}?purpose=new_referral"), 403)["issue"][0]["code"] == \
        "forbidden"
    assert fhir(search_only.get("/fhir/Patient?family=Okafor&given=Amara"))["total"] == 1


def test_a_signed_in_browser_needs_the_csrf_token_to_read_through_fhir(anonymous, sessions, indexed):
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    refused = fhir(anonymous.get(f"/fhir/Patient/{target}?purpose=new_referral"), 400)
    assert "CSRF" in problem(refused)
    token = csrf_token(anonymous, "/search")
    resource = fhir(anonymous.get(f"/fhir/Patient/{target}?purpose=new_referral", headers={"X-CSRFToken": token}))
    assert resource["id"] == target
    with sessions() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "record_view")).one().actor == "pat.jones"


def test_usage_limits_and_body_size_answer_outcomes(client, app, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    too_big = client.post("/fhir/Patient/$match", data=b"{" + b" " * 70000 + b"}", content_type=FHIR_JSON)
    assert fhir(too_big, 413)["issue"][0]["code"] == "too-costly"
    app.config["SETTINGS"] = app.config["SETTINGS"].replace(view_limit="1 per hour")
    fhir(client.get(f"/fhir/Patient/{target}?purpose=new_referral"))
    assert fhir(client.get(f"/fhir/Patient/{target}?purpose=new_referral"), 429)["issue"][0]["code"] == "throttled"
