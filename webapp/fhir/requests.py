"""FHIR in: a $match Parameters resource or PDS-style search parameters -> the JSON API's search criteria.

Structure is checked by the FHIR R4 models (fhir.resources, R4B: the same Patient and Parameters as R4); the
criteria themselves by SearchSchema, as for the JSON API. Every refusal names the FHIR element or parameter.
"""
from __future__ import annotations

from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from marshmallow import ValidationError as SchemaError
from pydantic import ValidationError

from ..auth import Refused
from ..schemas import SearchSchema
from .resources import CP_ID_SYSTEM, NHS_NUMBER_SYSTEM

MATCH_PARAMETERS = ("resource", "count", "onlyCertainMatches")
# The Patient elements $match reads; any other is refused rather than silently ignored.
PATIENT_ELEMENTS = {"resourceType", "id", "meta", "name", "birthDate", "gender", "address", "identifier"}
MATCHED_ELEMENTS = "name, birthDate, gender, address.postalCode and identifier"
IDENTIFIER_CRITERIA = {NHS_NUMBER_SYSTEM: "nhs_number", CP_ID_SYSTEM: "cp_id"}
SEARCH_PARAMETERS = {"family": "family_name", "given": "given_name", "birthdate": "date_of_birth",
                     "gender": "gender", "address-postalcode": "postcode", "identifier": None}
# Where a SearchSchema error points, in a $match Patient and among the search parameters.
PATIENT_PATHS = {"family_name": "Patient.name.family", "given_name": "Patient.name.given",
                 "date_of_birth": "Patient.birthDate", "gender": "Patient.gender",
                 "postcode": "Patient.address.postalCode", "nhs_number": "Patient.identifier",
                 "cp_id": "Patient.identifier", "_schema": "Patient"}
SEARCH_NAMES = {criterion: name for name, criterion in SEARCH_PARAMETERS.items() if criterion} | {
    "nhs_number": "identifier", "cp_id": "identifier"}


def invalid(errors: dict, message: str = "the request is not valid") -> Refused:
    return Refused(400, message, "invalid_input", errors)


def _fhir_path(resource_type: str, loc: tuple) -> str:
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _validated(model, body: dict, resource_type: str) -> None:
    try:
        model.model_validate(body)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            errors.setdefault(_fhir_path(resource_type, error["loc"]), []).append(error["msg"])
        raise invalid(errors, f"not a valid FHIR R4 {resource_type} resource") from None


def _criteria(data: dict, paths: dict) -> dict:
    try:
        return SearchSchema().load(data)
    except SchemaError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise invalid({paths.get(field, field): msgs for field, msgs in messages.items()}) from None


def _identifier(system: str | None, value: str | None, where: str) -> tuple[str, str]:
    criterion = IDENTIFIER_CRITERIA.get(system or "")
    if criterion is None:
        raise invalid({where: [f"the identifier system must be one of {', '.join(IDENTIFIER_CRITERIA)}"]})
    if not value:
        raise invalid({where: ["needs a value"]})
    return criterion, value


def match_request(body, cap: int) -> tuple[dict, int, bool]:
    """(criteria, count, onlyCertainMatches) from a $match body."""
    if not isinstance(body, dict):
        raise invalid({"Parameters": ["the body must be a FHIR JSON Parameters resource "
                                      "(Content-Type: application/fhir+json)"]}, "the request body is not FHIR JSON")
    if body.get("resourceType") != "Parameters":
        raise invalid({"Parameters": [f"expected a Parameters resource, not {str(body.get('resourceType'))[:40]!r}"]})
    _validated(Parameters, body, "Parameters")
    given: dict[str, dict] = {}
    for i, parameter in enumerate(body.get("parameter") or []):
        name = parameter.get("name")
        if name not in MATCH_PARAMETERS:
            raise invalid({f"Parameters.parameter[{i}].name": [
                f"unknown parameter {str(name)[:40]!r}: $match takes {', '.join(MATCH_PARAMETERS)}"]})
        if name in given:
            raise invalid({f"Parameters.parameter[{i}].name": [f"{name} is given more than once"]})
        given[name] = parameter
    patient = (given.get("resource") or {}).get("resource")
    if patient is None:
        raise invalid({"Parameters.parameter": ["needs a 'resource' parameter holding the Patient to match"]})
    if patient.get("resourceType") != "Patient":
        raise invalid({"Parameters.parameter.resource": [
            f"must be a Patient, not {str(patient.get('resourceType'))[:40]!r}"]})
    # A count or flag given with any other value[x] is refused, never read as the default.
    count = given["count"].get("valueInteger") if "count" in given else cap
    if type(count) is not int or not 1 <= count <= cap:
        raise invalid({"Parameters.parameter.count": [f"must be a valueInteger from 1 to {cap} (the result cap)"]})
    only_certain = given["onlyCertainMatches"].get("valueBoolean") if "onlyCertainMatches" in given else False
    if type(only_certain) is not bool:
        raise invalid({"Parameters.parameter.onlyCertainMatches": ["must be valueBoolean true or false"]})
    return _criteria(patient_criteria(patient), PATIENT_PATHS), count, only_certain


def patient_criteria(patient: dict) -> dict:
    _validated(Patient, patient, "Patient")
    extra = sorted(set(patient) - PATIENT_ELEMENTS)
    if extra:
        raise invalid({f"Patient.{extra[0]}": [f"is not used to match; $match reads {MATCHED_ELEMENTS}"]})
    data: dict = {}
    name = (patient.get("name") or [{}])[0]
    if name.get("family"):
        data["family_name"] = name["family"]
    if name.get("given"):
        data["given_name"] = name["given"][0]
    for element, criterion in (("birthDate", "date_of_birth"), ("gender", "gender")):
        if patient.get(element):
            data[criterion] = patient[element]
    postcode = (patient.get("address") or [{}])[0].get("postalCode")
    if postcode:
        data["postcode"] = postcode
    for i, identifier in enumerate(patient.get("identifier") or []):
        criterion, value = _identifier(identifier.get("system"), identifier.get("value"), f"Patient.identifier[{i}]")
        data[criterion] = value
    return data


def search_request(args) -> dict:
    """Criteria from GET /fhir/Patient's query: each parameter at most once, none unknown."""
    data: dict = {}
    for name in args:
        values = args.getlist(name)
        if name not in SEARCH_PARAMETERS:
            raise invalid({name: [f"unknown search parameter: this server takes {', '.join(SEARCH_PARAMETERS)}"]})
        if len(values) > 1:
            raise invalid({name: ["give it once"]})
        value = values[0]
        if name == "identifier":
            system, _, number = value.rpartition("|")
            criterion, value = _identifier(system, number, name)
        else:
            criterion = SEARCH_PARAMETERS[name]
            if name == "birthdate" and value.startswith("eq"):  # the only prefix a date of birth search takes
                value = value[2:]
        data[criterion] = value
    return _criteria(data, SEARCH_NAMES)
