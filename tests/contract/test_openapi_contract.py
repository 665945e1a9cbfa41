"""The API against its own OpenAPI document: the document is valid and complete, and a running server keeps it.

The document is generated (webapp/api/openapi.py) from the views and their marshmallow schemas. These tests
check it is a valid OpenAPI document describing every route of the "api" blueprint, then let schemathesis
generate requests for every operation -- valid and deliberately invalid, with real ContactPoint IDs mixed
in so that success answers are checked too -- against the app served over HTTP. Each answer must not be a
server error and must match the document: a documented status code, content type and body (including the
redacted and full record shapes, which allow nothing extra), and invalid requests must be refused.
"""
from __future__ import annotations

import json
import re
import zlib
from collections import Counter, defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate as validate_openapi
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import select
from werkzeug.routing import Rule

from registry.models import Child, ReviewCandidate, ReviewItem
from webapp.api.openapi import document

from ..support.accounts import add_user, csrf_token, sign_in
from .conftest import ACTING_FOR, CLIENT_LA

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SPEC_PATH = "/api/v1/openapi.json"
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # added by Flask to every rule
EXAMPLES_PER_OPERATION = 30
# The document cannot say everything the server checks -- a name's letters, a date of birth within the
# last 18 years, a ContactPoint ID's check digit, a start date not in the future -- so a request the
# document allows may still be refused with a 400, and schemathesis's "valid data must be accepted"
# check does not apply. Every other check does, including that invalid data is refused.
EXCLUDED_CHECKS = [positive_data_acceptance]


def _openapi_path(rule: Rule) -> str:
    from apispec_webframeworks.flask import FlaskPlugin

    return FlaskPlugin.flaskpath2openapi(rule.rule)


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


# --- the document itself ------------------------------------------------------------------------

def test_the_document_is_valid_openapi_and_served_without_credentials(app):
    response = app.test_client().get(SPEC_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()
    validate_openapi(doc)  # raises with the first problem
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    # Loads in schemathesis too, every operation without an error.
    operations = list(schemathesis.openapi.from_dict(doc).get_all_operations())
    assert operations and all(result.ok() for result in operations)


def test_the_document_describes_every_api_route_and_nothing_else(app):
    doc = document(app)
    routes = {(_openapi_path(rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - IGNORED_METHODS}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item
                  if method in {"get", "put", "post", "delete", "patch"}}
    assert routes, "no /api/v1 routes found"
    assert routes == documented, (f"undocumented: {sorted(routes - documented)}; "
                                  f"documented but missing: {sorted(documented - routes)}")
    assert all(path.startswith("/api/v1/") for path, _ in routes)


def test_every_operation_documents_its_auth_header_errors_and_path_parameters(app):
    doc = document(app)
    for path, item in doc["paths"].items():
        path_parameters = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
        assert path_parameters == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path
        for method, operation in item.items():
            if method == "parameters":
                continue
            if operation.get("security") == []:
                assert path == SPEC_PATH  # the one open route
                continue
            assert {"$ref": "#/components/parameters/ActingFor"} in operation["parameters"], (method, path)
            errors = {status for status in operation["responses"] if status.startswith("4")}
            assert {"400", "401", "403"} <= errors, (method, path)
            if "requestBody" in operation:
                assert "413" in errors, (method, path)
            for status in errors:
                error = operation["responses"][status]["$ref"].rsplit("/", 1)[1]
                assert doc["components"]["responses"][error]["content"]["application/json"]["schema"] == \
                    {"$ref": "#/components/schemas/Error"}


def test_request_bodies_refuse_unknown_fields_as_the_schemas_do(app):
    """``unknown = RAISE`` must read as ``additionalProperties: false`` (the server answers 400 otherwise)."""
    doc = document(app)
    bodies = [_resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
              for item in doc["paths"].values() for method, op in item.items() if isinstance(op, dict)
              and "requestBody" in op]
    assert len(bodies) == 7
    assert all(body["additionalProperties"] is False for body in bodies)


def test_the_document_holds_no_personal_data(app, seeded):
    text = json.dumps(document(app))
    for value in [seeded.open_child, seeded.shielded_child, seeded.other_child, *seeded.names]:
        assert value not in text


# --- the running server keeps the document ------------------------------------------------------

schema = schemathesis.pytest.from_fixture("api_schema")
ANSWERS: dict[str, Counter] = defaultdict(Counter)  # operation -> status -> how many generated requests got it


def _real_acting_for(case) -> None:
    """Most generated X-Acting-For usernames name nobody (a 403): swap them for the real practitioner, except in a
    case meant to break the headers, so that success answers are checked too."""
    if not case.headers or "X-Acting-For" not in case.headers or (
            case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)):
        return
    if zlib.crc32(case.headers["X-Acting-For"].encode("utf-8", "replace")) % 4:
        case.headers = {**case.headers, "X-Acting-For": ACTING_FOR}


def _real_path(case, targets: list[dict]) -> None:
    """Swap most generated path parameters for real ones (never in a case meant to break the path).

    The choice follows from the generated values, so Hypothesis sees the same case for the same draw.
    """
    if not case.path_parameters or (case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)):
        return
    choice = zlib.crc32(repr(sorted(case.path_parameters.items())).encode()) % (len(targets) + 1)
    if choice < len(targets):
        case.path_parameters = {name: targets[choice].get(name, value) for name, value in case.path_parameters.items()}


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True, database=None)  # the same requests on every run: a failure reproduces
def test_the_server_keeps_the_document(case, seeded, auth_headers):
    _real_path(case, seeded.path_targets)
    _real_acting_for(case)
    secured = case.operation.definition.raw.get("security") != []
    response = case.call_and_validate(headers=auth_headers if secured else None, excluded_checks=EXCLUDED_CHECKS,
                                      timeout=30)
    assert response.status_code < 500
    if case.method.upper() == case.operation.method.upper():  # not one of the undeclared-method probes
        ANSWERS[case.operation.label][response.status_code] += 1


def test_the_generated_requests_reached_every_answer_worth_checking(app):
    """Success answers were among those checked: the generated run is not all refusals."""
    if not ANSWERS:
        pytest.skip("runs after test_the_server_keeps_the_document")
    print({label: dict(sorted(counts.items())) for label, counts in sorted(ANSWERS.items())})
    # schemathesis leaves out the route serving the document it loaded; the first tests cover that one.
    expected = {f"{method.upper()} {path}" for path, item in document(app)["paths"].items() for method in item
                if method != "parameters" and path != SPEC_PATH}
    assert set(ANSWERS) == expected
    for label, counts in ANSWERS.items():
        if label.endswith("/shielding") or PEOPLE_ONLY.search(label):
            # An API client may never shield, review linkage or merge: see the session tests below.
            assert set(counts) <= {400, 401, 403, 404, 413}, counts
        else:
            assert any(200 <= status < 300 for status in counts), (label, counts)
        assert not any(status >= 500 for status in counts), (label, counts)


PEOPLE_ONLY = re.compile(r"/linkage/|/(un)?merge$")


def test_a_refused_method_names_the_allowed_ones(app):
    response = app.test_client().delete("/api/v1/search")
    assert response.status_code == 405
    assert response.get_json()["message"]
    assert response.headers.get("Allow") is not None
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"POST", "OPTIONS"}


# --- known answers, each checked against the document -------------------------------------------

def _call(api_schema, method: str, path: str, headers: dict, expected: int, excluded=(), **parts):
    case = api_schema[path][method].Case(**parts)
    response = case.call_and_validate(headers=headers, excluded_checks=[*EXCLUDED_CHECKS, *excluded], timeout=30)
    assert response.status_code == expected, response.text
    return response.json()


def test_each_success_answer_matches_the_document(api_schema, seeded, auth_headers):
    headers = {**auth_headers, "X-Acting-For": ACTING_FOR}
    found = _call(api_schema, "POST", "/api/v1/search", headers, 200,
                  body={"given_name": "Amara", "family_name": "Okafor"})
    assert seeded.open_child in [r["cp_id"] for r in found["results"]]

    record = "/api/v1/children/{cp_id}"
    full = _call(api_schema, "GET", record, headers, 200, path_parameters={"cp_id": seeded.open_child},
                 query={"purpose": "safeguarding_concern"})
    assert full["redacted"] is False and full["carers"] and full["other_names"] and full["involvements"]
    redacted = _call(api_schema, "GET", record, headers, 200, path_parameters={"cp_id": seeded.shielded_child},
                     query={"purpose": "new_referral"})
    assert redacted["redacted"] is True and "address" not in redacted

    involvement = _call(api_schema, "POST", "/api/v1/children/{cp_id}/involvements", headers, 201,
                        path_parameters={"cp_id": seeded.other_child},
                        body={"role": "School nurse", "phone": "0113 496 0001", "sensitive_category": "sexual_health",
                              "consent_recorded": True})
    ids = {"cp_id": seeded.other_child, "involvement_id": involvement["id"]}
    flagged = _call(api_schema, "POST", "/api/v1/children/{cp_id}/involvements/{involvement_id}/info-to-share",
                    headers, 200, path_parameters=ids, body={"info_to_share": True})
    assert flagged["info_to_share"] is True
    ended = _call(api_schema, "POST", "/api/v1/children/{cp_id}/involvements/{involvement_id}/end", headers, 200,
                  path_parameters=ids, body={})
    assert ended["end_date"] is not None
    _call(api_schema, "POST", "/api/v1/children/{cp_id}/involvements/{involvement_id}/end", headers, 404,
          path_parameters={"cp_id": seeded.other_child, "involvement_id": seeded.others_involvement}, body={})


def test_each_error_answer_matches_the_document(api_schema, es, seeded, auth_headers):
    headers = {**auth_headers, "X-Acting-For": ACTING_FOR}
    search, criteria = "/api/v1/search", {"given_name": "Amara", "family_name": "Okafor"}
    unknown_token = {"Authorization": "Bearer cp_000000000000_" + "A" * 43, "X-Acting-For": ACTING_FOR}
    assert _call(api_schema, "POST", search, unknown_token, 401, body=criteria)["errors"] == {}
    missing = _call(api_schema, "POST", search, auth_headers, 400, body=criteria)
    assert list(missing["errors"]) == ["X-Acting-For"]
    assert "smuggled" in _call(api_schema, "POST", search, headers, 400, body={**criteria, "smuggled": 1})["errors"]
    _call(api_schema, "POST", search, headers, 413, body={**criteria, "postcode": "x" * 70_000})
    _call(api_schema, "GET", "/api/v1/children/{cp_id}", headers, 404, path_parameters={"cp_id": "1442725095"},
          query={"purpose": "contact_details"})
    es.indices.delete(index="children*", expand_wildcards="all")  # the alias is gone: search is unavailable
    _call(api_schema, "POST", search, headers, 503, excluded=[not_a_server_error], body=criteria)  # documented


def test_shielding_by_the_owning_authority_matches_the_document(app, api_schema, sessions, seeded):
    """Only a signed-in team (session cookie plus CSRF token) may shield: the answer is the full record."""
    manager = add_user(sessions, "la.manager", role="la_management", la_code=CLIENT_LA,
                       organisation=("local_authority", CLIENT_LA))
    client = app.test_client()
    sign_in(client, sessions, manager)
    token = csrf_token(client, "/")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    case = api_schema["/api/v1/children/{cp_id}/shielding"]["POST"].Case(
        path_parameters={"cp_id": seeded.open_child}, body={"shielded": True, "reason_category": "court_order"},
        headers={"X-Acting-For": ACTING_FOR, "X-CSRFToken": token}, cookies={cookie.key: cookie.value})
    response = case.call_and_validate(excluded_checks=EXCLUDED_CHECKS, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["shielded"] is True and body["redacted"] is False and body["shielding_reason"] == "court_order"


def test_linkage_review_and_merging_by_an_authority_team_match_the_document(app, api_schema, sessions, seeded):
    """Only a signed-in team (session cookie plus CSRF token) reviews linkage and merges: each answer as documented."""
    manager = add_user(sessions, "la.manager", role="la_management", la_code=CLIENT_LA,
                       organisation=("local_authority", CLIENT_LA))
    client = app.test_client()
    sign_in(client, sessions, manager)
    headers = {"X-Acting-For": ACTING_FOR, "X-CSRFToken": csrf_token(client, "/")}
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])  # after the token: the session holds it
    cookies = {cookie.key: cookie.value}
    with sessions.begin() as db:  # the shielded child of another authority may be the open child of the team's
        ids = dict(db.execute(select(Child.cp_id, Child.id)).all())
        item = ReviewItem(child_id=ids[seeded.open_child], candidates=[ReviewCandidate(
            child_id=ids[seeded.shielded_child], match_weight=-2.5, contributions={
                "family_name": {"level": "different", "weight": -4.0}, "postcode": {"level": "exact", "weight": 7.5}})])
        db.add(item)
        db.flush()
        item_id = item.id

    def call(method, path, expected, **parts):
        case = api_schema[path][method].Case(headers=headers, cookies=cookies, **parts)
        response = case.call_and_validate(excluded_checks=EXCLUDED_CHECKS, timeout=30)
        assert response.status_code == expected, response.text
        return response.json()

    queue = call("GET", "/api/v1/linkage/review", 200, query={"page": 1})
    assert [entry["id"] for entry in queue["items"]] == [item_id]
    detail = call("GET", "/api/v1/linkage/review/{item_id}", 200, path_parameters={"item_id": item_id})
    assert detail["candidates"][0]["record"]["redacted"] is True and detail["candidates"][0]["match_weight"] is None
    call("GET", "/api/v1/linkage/review/{item_id}", 404, path_parameters={"item_id": item_id + 1})
    decision = "/api/v1/linkage/review/{item_id}/decision"
    decided = call("POST", decision, 200, path_parameters={"item_id": item_id},
                   body={"decision": "different", "expected_version": 1})
    assert decided["status"] == "different"
    call("POST", decision, 409, path_parameters={"item_id": item_id}, body={"decision": "skip", "expected_version": 1})
    merged = call("POST", "/api/v1/children/{cp_id}/merge", 200, path_parameters={"cp_id": seeded.open_child},
                  body={"other_cp_id": seeded.other_child})
    assert merged["survivor_cp_id"] == seeded.open_child and merged["unmerged_at"] is None
    record = call("GET", "/api/v1/children/{cp_id}", 200, path_parameters={"cp_id": seeded.other_child},
                  query={"purpose": "contact_details"})
    assert (record["cp_id"], record["merged_from"]) == (seeded.open_child, seeded.other_child)
    undone = call("POST", "/api/v1/children/{cp_id}/unmerge", 200, path_parameters={"cp_id": seeded.other_child})
    assert undone["unmerged_at"] is not None
    call("POST", "/api/v1/children/{cp_id}/unmerge", 409, path_parameters={"cp_id": seeded.open_child})  # never merged
