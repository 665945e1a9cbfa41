"""The /fhir routes: FHIR in, the JSON API's services (policy, limits, audit), FHIR out.

Errors anywhere under /fhir are OperationOutcome resources (webapp/errors.py asks ``outcome_response``).
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError as SchemaError

from access_control import InvalidInput, NotAllowed

from ..auth import Refused, require
from ..errors import respond
from ..limiting import client_limited, search_limited, view_limited
from ..schemas import PurposeSchema
from ..services import RecordNotFound, search_children, view_child
from .capabilities import capability_statement
from .requests import invalid, match_request, search_request
from .resources import match_bundle, patient_from_record, refusal

FHIR_JSON = "application/fhir+json"
CHANNEL = "fhir"

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


def fhir_response(resource: dict, status: int = 200) -> Response:
    return Response(json.dumps(resource), status=status, mimetype=FHIR_JSON)


def outcome_response(status: int, message: str, errors: dict | None) -> Response:
    return fhir_response(refusal(status, message, errors), status)


@bp.errorhandler(InvalidInput)
def invalid_input(exc: InvalidInput):
    return respond(invalid({{"cp_id": "id"}.get(exc.field, exc.field): [exc.message]}))


@bp.errorhandler(NotAllowed)
def not_allowed(exc: NotAllowed):
    return respond(Refused(403, str(exc), "not_allowed"))


@bp.errorhandler(RecordNotFound)
def not_found(exc: RecordNotFound):
    return outcome_response(404, "no Patient with that ContactPoint ID is available to you", None)


@bp.get("/metadata")
def metadata():
    return fhir_response(capability_statement(current_app.config["SETTINGS"].max_results))


@bp.post("/Patient/$match")
@client_limited
@search_limited
def match():
    viewer, _ = require("search")
    if request.args:
        raise invalid({name: ["$match takes its parameters in the body"] for name in request.args})
    criteria, count, only_certain = match_request(request.get_json(silent=True),
                                                  current_app.config["SETTINGS"].max_results)
    outcome = search_children(viewer, criteria, channel=CHANNEL)
    results = outcome.results[:count]
    if only_certain:  # one certain match or none, as PDS answers application-restricted access
        certain = [c for c in outcome.results if c.match_grade == "certain"]
        results = certain if len(certain) == 1 and not outcome.too_many else []
    return fhir_response(match_bundle(results, outcome.too_many and not only_certain))


@bp.get("/Patient")
@client_limited
@search_limited
def search():
    viewer, _ = require("search")
    outcome = search_children(viewer, search_request(request.args), channel=CHANNEL)
    return fhir_response(match_bundle(outcome.results, outcome.too_many))


@bp.get("/Patient/<cp_id>")
@client_limited
@view_limited
def read(cp_id: str):
    viewer, _ = require("view_record")
    try:
        purpose = PurposeSchema().load(request.args.to_dict())["purpose"]
    except SchemaError as exc:
        raise invalid(exc.messages, "state why you need this record (the purpose parameter)") from None
    return fhir_response(patient_from_record(view_child(viewer, cp_id, purpose, channel=CHANNEL)))
