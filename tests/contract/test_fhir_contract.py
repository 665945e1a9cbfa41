"""The /fhir routes against FHIR R4 itself: a running server's every answer is a resource FHIR accepts.

No OpenAPI document describes FHIR; the FHIR models of fhir.resources (R4B: R4's Patient, Bundle, Parameters,
OperationOutcome, CapabilityStatement) are the contract. Hypothesis generates $match bodies and search queries,
valid and not, with the seeded children's real names and IDs mixed in, and sends them over HTTP. Each answer
must not be a server error, must be application/fhir+json, must parse as its FHIR resource, and must be a
Bundle exactly when the status is 200 (an OperationOutcome otherwise).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings, strategies as st

from access_control import PURPOSES
from webapp.fhir.requests import SEARCH_PARAMETERS
from webapp.fhir.resources import CP_ID_SYSTEM, NHS_NUMBER_SYSTEM

from .conftest import ACTING_FOR

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

EXAMPLES = 40
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def call(live_server, token, method, path, body=None) -> tuple[int, dict]:
    """(status, resource) of one request, after checking the answer is a FHIR resource FHIR accepts."""
    data = body.encode() if isinstance(body, str) else None
    request = urllib.request.Request(live_server + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "X-Acting-For": ACTING_FOR, "Content-Type": "application/fhir+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, content_type, text = response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        status, content_type, text = exc.code, exc.headers["Content-Type"], exc.read()
    assert status < 500, text
    assert content_type.startswith("application/fhir+json"), (status, content_type)
    resource = json.loads(text)
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert (resource["resourceType"] == "OperationOutcome") == (status != 200), (status, resource)
    return status, resource


def names(seeded):
    return st.sampled_from(seeded.names) | st.text(max_size=12)


def dates():
    return st.dates().map(lambda d: d.isoformat()) | st.text(max_size=12)


def patients(seeded):
    ids = st.sampled_from([seeded.open_child, seeded.shielded_child, seeded.other_child]) | st.text(max_size=12)
    identifier = st.fixed_dictionaries({"system": st.sampled_from([CP_ID_SYSTEM, NHS_NUMBER_SYSTEM, "urn:x"]),
                                        "value": ids})
    elements = {"name": st.lists(st.fixed_dictionaries({}, optional={"family": names(seeded), "given": st.lists(
                    names(seeded), max_size=2)}), max_size=2),
                "birthDate": dates(), "gender": st.sampled_from(["male", "female", "other", "unknown", "x"]),
                "address": st.lists(st.fixed_dictionaries({"postalCode": st.sampled_from(["LS6 2AB", "M1 1AE", "?"])}),
                                    max_size=1),
                "identifier": st.lists(identifier, max_size=2), "telecom": st.just([{"value": "1"}])}
    return st.fixed_dictionaries({"resourceType": st.sampled_from(["Patient", "Patient", "Observation"])},
                                 optional=elements)


# The seeded children's own names (tests/contract/conftest.py), so that matches are found and checked too.
SEEDED_NAMES = [("Amara", "Okafor"), ("Kwame", "Mensah"), ("Siobhan", "O'Brien")]


def found():
    return st.sampled_from(SEEDED_NAMES).map(lambda n: {"name": [{"family": n[1], "given": [n[0]]}]})


def parameters(seeded):
    good = found().map(lambda p: json.dumps({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", **p}}]}))
    parameter = st.one_of(
        patients(seeded).map(lambda p: {"name": "resource", "resource": p}),
        st.integers(-1, 60).map(lambda n: {"name": "count", "valueInteger": n}),
        st.booleans().map(lambda b: {"name": "onlyCertainMatches", "valueBoolean": b}),
        st.just({"name": "limit", "valueInteger": 1}))
    body = st.fixed_dictionaries({"resourceType": st.sampled_from(["Parameters", "Parameters", "Patient"]),
                                  "parameter": st.lists(parameter, max_size=3)})
    return good | body.map(json.dumps) | st.text(max_size=20)


def test_the_capability_statement_is_a_valid_r4_capability_statement(live_server, api_token):
    status, statement = call(live_server, api_token, "GET", "/fhir/metadata")
    assert status == 200 and statement["resourceType"] == "CapabilityStatement"


def test_every_match_answer_is_fhir(live_server, api_token, seeded):
    statuses, found_shielded = set(), []

    @SETTINGS
    @given(parameters(seeded))
    def check(body):
        status, resource = call(live_server, api_token, "POST", "/fhir/Patient/$match", body)
        statuses.add(status)
        for entry in resource.get("entry", []) if status == 200 else []:
            if entry["resource"]["id"] == seeded.shielded_child:
                found_shielded.append(entry)
                assert entry["resource"]["meta"]["security"][0]["code"] == "R"
    check()
    assert statuses == {200, 400}  # both answers were reached
    assert found_shielded, "the shielded child was never matched: its restriction went unchecked"


def test_every_search_and_read_answer_is_fhir(live_server, api_token, seeded):
    statuses = set()
    query = found().map(lambda p: {"family": p["name"][0]["family"], "given": p["name"][0]["given"][0]}) | \
        st.dictionaries(st.sampled_from([*SEARCH_PARAMETERS, "_count"]), names(seeded) | dates(), max_size=4)
    purpose = st.sampled_from([*PURPOSES, "curiosity"])
    ids = st.sampled_from([seeded.open_child, seeded.shielded_child, seeded.other_child, "1234567890", "x"])

    @SETTINGS
    @given(query, ids, purpose)
    def check(criteria, cp_id, why):
        status, _ = call(live_server, api_token, "GET", "/fhir/Patient?" + urllib.parse.urlencode(criteria))
        statuses.add(status)
        path = f"/fhir/Patient/{urllib.parse.quote(cp_id)}?purpose={why}"
        status, resource = call(live_server, api_token, "GET", path)
        statuses.add(status)
        if status == 200 and cp_id == seeded.shielded_child:
            assert "address" not in resource and resource["meta"]["security"][0]["code"] == "R"
        if status == 200 and cp_id == seeded.open_child:
            assert resource["address"][0]["postalCode"] == "LS6 2AB" and "contact" in resource
    check()
    assert {200, 400} <= statuses
