"""ContactPoint's shapes as FHIR R4 resources (Patient, Bundle, OperationOutcome): mapping only, no policy."""
from __future__ import annotations

from search_service.search import Candidate

CP_ID_SYSTEM = "https://contactpoint.example/Id/cp-id"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
MATCH_GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
# PDS's label on a restricted (S-flagged) patient: shielded children carry it wherever they appear.
RESTRICTED = {"security": [{"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "restricted"}]}
# The HTTP status of a refusal -> the OperationOutcome issue code FHIR has for it.
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               413: "too-costly", 429: "throttled", 503: "transient"}
FHIR_ELEMENTS = ("Patient", "Parameters")  # error keys that are FHIRPath expressions, not parameter names
OTHER_NAME_USE = {"alias": "usual", "previous": "old"}


def _org_reference(org: dict | None) -> dict | None:
    return {"display": org["name"], "identifier": {"value": org["code"]}} if org else None


def _name(given: str | None, middle: str | None, family: str | None, use: str) -> dict:
    givens = [given] if given else []
    givens += (middle or "").split()
    return {"use": use, "family": family, **({"given": givens} if givens else {})}


def _identity(cp_id: str, given: str, middle: str | None, family: str, gender: str, birth_date: str,
              shielded: bool) -> dict:
    patient = {"resourceType": "Patient", "id": cp_id,
               "identifier": [{"system": CP_ID_SYSTEM, "value": cp_id}],
               "name": [_name(given, middle, family, "official")], "birthDate": birth_date}
    if gender in ("male", "female", "other", "unknown"):
        patient["gender"] = gender
    if shielded:
        patient["meta"] = RESTRICTED
    return patient


def patient_from_candidate(candidate: Candidate) -> dict:
    return _identity(candidate.cp_id, candidate.given_name, None, candidate.family_name, candidate.gender,
                     candidate.date_of_birth, candidate.shielded)


def _telecom(phone: str | None, email: str | None) -> list[dict]:
    return ([{"system": "phone", "value": phone}] if phone else []) + \
        ([{"system": "email", "value": email}] if email else [])


def patient_from_record(record: dict) -> dict:
    """A record as view_child gave it; a redacted one has nothing that says where the child is, so neither
    has its Patient (no address, telecom, contact or general practitioner, as PDS restricts)."""
    patient = _identity(record["cp_id"], record["given_name"], record["middle_names"], record["family_name"],
                        record["gender"], record["date_of_birth"], record["shielded"])
    if record["local_authority"]:
        patient["managingOrganization"] = _org_reference(record["local_authority"])
    if record.get("merged_from"):  # read by a merged child's ID: this record replaces it, as PDS answers
        patient["link"] = [{"other": {"identifier": {"system": CP_ID_SYSTEM, "value": record["merged_from"]}},
                            "type": "replaces"}]
    if record["redacted"]:
        return patient
    patient["name"] += [_name(n["given_name"], n["middle_names"], n["family_name"], OTHER_NAME_USE[n["kind"]])
                        for n in record["other_names"]]
    address = record["address"]
    lines = [line for line in (address["line_1"], address["line_2"]) if line]
    if lines or address["town"] or address["postcode"]:
        patient["address"] = [{"use": "home", **({"line": lines} if lines else {}),
                               **({"city": address["town"]} if address["town"] else {}),
                               **({"postalCode": address["postcode"]} if address["postcode"] else {})}]
    contacts = [{"relationship": [{"text": c["relationship"]}] if c["relationship"] else [],
                 "name": {"family": c["family_name"], "given": [c["given_name"]]},
                 "telecom": _telecom(c["phone"], c["email"])} for c in record["carers"]]
    if contacts:
        patient["contact"] = [{k: v for k, v in c.items() if v} for c in contacts]
    if record["gp_practice"]:
        patient["generalPractitioner"] = [_org_reference(record["gp_practice"])]
    return patient


def match_bundle(candidates: list[Candidate], too_many: bool) -> dict:
    """A searchset Bundle. search.score is the candidate's confidence (the share of the best possible agreement
    it reached, 0..1), which its grade in the match-grade extension is read from. ``too_many`` answers an empty
    list with an OperationOutcome entry (search.mode "outcome", code multiple-matches), as the JSON API answers 200."""
    entries = []
    for c in candidates:
        search = {"extension": [{"url": MATCH_GRADE_URL, "valueCode": c.match_grade}],
                  "mode": "match", "score": c.confidence}
        entries.append({"fullUrl": f"urn:contactpoint:Patient/{c.cp_id}", "resource": patient_from_candidate(c),
                        "search": search})
    if too_many:
        entries.append({"resource": outcome("too many matches: add detail (the criteria do not single anyone out)",
                                            "multiple-matches", "information"), "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(candidates), "entry": entries}


def outcome(message: str, code: str, severity: str = "error", errors: dict | None = None) -> dict:
    """One issue per element named in ``errors`` (FHIR paths or parameter names), or one for the message."""
    issues = [{"severity": severity, "code": code, "diagnostics": f"{message}: {field}: {'; '.join(map(str, msgs))}"
               if field != "_schema" else f"{message}: {'; '.join(map(str, msgs))}",
               **({"expression": [field]} if field.startswith(FHIR_ELEMENTS) else {})}
              for field, msgs in _flat(errors or {}).items()]
    return {"resourceType": "OperationOutcome",
            "issue": issues or [{"severity": severity, "code": code, "diagnostics": message}]}


def _flat(errors: dict) -> dict:
    return {field: msgs if isinstance(msgs, list) else [msgs] for field, msgs in errors.items()}


def refusal(status: int, message: str, errors: dict | None = None) -> dict:
    return outcome(message, ISSUE_CODES.get(status, "exception"), "error", errors)
