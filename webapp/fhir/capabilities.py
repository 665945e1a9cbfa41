"""GET /fhir/metadata: what this server does, as a FHIR R4 CapabilityStatement (kept beside the routes)."""
from __future__ import annotations

from access_control import PURPOSES
from analyzers import clock

from .resources import CP_ID_SYSTEM, MATCH_GRADE_URL, NHS_NUMBER_SYSTEM


def capability_statement(cap: int) -> dict:
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": clock.today().isoformat(),
        "kind": "instance", "fhirVersion": "4.0.1", "format": ["application/fhir+json"],
        "implementation": {"description": "ContactPoint's FHIR R4 Patient façade (PDS-style search, $match, read)"},
        "rest": [{
            "mode": "server",
            "documentation": (
                "Bearer token and X-Acting-For header as for /api/v1. Identifier systems: "
                f"{CP_ID_SYSTEM} (ContactPoint ID), {NHS_NUMBER_SYSTEM} (NHS number). Shielded children carry "
                "meta.security R (v3-Confidentiality) and, for whoever may not see where they are, no address, "
                "telecom, contact or generalPractitioner. Errors are OperationOutcome resources."),
            "resource": [{
                "type": "Patient",
                "interaction": [
                    {"code": "read", "documentation": "GET /fhir/Patient/<ContactPoint ID>?purpose=<why>; purpose "
                                                      "is required, one of " + ", ".join(PURPOSES)},
                    {"code": "search-type", "documentation": (
                        f"The JSON API's minimum criteria and result cap ({cap}); too many matches answer a "
                        "Bundle holding only an OperationOutcome (code multiple-matches); unknown parameters "
                        "are refused")}],
                "searchParam": [
                    {"name": "family", "type": "string"}, {"name": "given", "type": "string"},
                    {"name": "birthdate", "type": "date", "documentation": "YYYY-MM-DD (prefix eq only)"},
                    {"name": "gender", "type": "token"},
                    {"name": "address-postalcode", "type": "string",
                     "documentation": "never counts for a shielded child"},
                    {"name": "identifier", "type": "token", "documentation": "system|value"}],
                "operation": [{"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match",
                               "documentation": (
                                   "Parameters: resource (Patient: name, birthDate, gender, address.postalCode, "
                                   f"identifier), count (1..{cap}), onlyCertainMatches (one certain match or "
                                   f"none). search.score is the score over the best in the answer; {MATCH_GRADE_URL}"
                                   " carries certain, probable or possible")}],
            }],
        }],
    }
