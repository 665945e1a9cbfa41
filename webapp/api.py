"""JSON API under /api/v1: bearer tokens (or a session plus CSRF token), one error body, 4xx for mistakes."""
from __future__ import annotations

import dataclasses

from elasticsearch import ConnectionError as ElasticsearchConnectionError, NotFoundError
from flask import Blueprint, current_app, jsonify, request
from marshmallow import ValidationError

from access_control import InvalidInput, NotAllowed

from .auth import Refused, require
from .errors import respond
from .limiting import client_limited, search_limited, view_limited
from .schemas import (
    EndInvolvementSchema, InfoToShareSchema, InvolvementSchema, PurposeSchema, SearchSchema, ShieldingSchema,
)
from .services import (
    RecordNotFound, change_shielding, end_involvement, flag_info_to_share, register_involvement, search_children,
    view_child,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error_body(status: int, message: str, errors: dict | None = None):
    return jsonify({"message": message, "errors": errors or {}}), status


@bp.errorhandler(ElasticsearchConnectionError)
@bp.errorhandler(NotFoundError)  # the alias is missing: the index was never built
def search_unavailable(exc):
    current_app.logger.error("search unavailable: %s", exc)
    return error_body(503, "search is unavailable at the moment: try again shortly")


@bp.errorhandler(InvalidInput)
def invalid_input(exc: InvalidInput):
    return respond(Refused(400, "the request is not valid", "invalid_input", {exc.field: [exc.message]}))


@bp.errorhandler(NotAllowed)
def not_allowed(exc: NotAllowed):
    return respond(Refused(403, str(exc), "not_allowed"))


@bp.errorhandler(RecordNotFound)
def not_found(exc: RecordNotFound):
    return error_body(404, "no record with that ContactPoint ID is available to you")


def _json_body(schema) -> dict:
    body = request.get_json(silent=True)
    if body is None:
        raise Refused(400, "the request body must be JSON (Content-Type: application/json)", "body_not_json")
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise Refused(400, "the request is not valid", "invalid_input",
                      exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}) from None


@bp.post("/search")
@client_limited
@search_limited
def search():
    viewer, _ = require("search")
    data = _json_body(SearchSchema())
    outcome = search_children(viewer, data, channel="api")
    return jsonify({"results": [dataclasses.asdict(c) for c in outcome.results], "too_many": outcome.too_many})


@bp.get("/children/<cp_id>")
@client_limited
@view_limited
def record(cp_id: str):
    viewer, _ = require("view_record")
    try:
        purpose = PurposeSchema().load(request.args.to_dict())["purpose"]
    except ValidationError as exc:
        raise Refused(400, "state why you need this record", "invalid_purpose", exc.messages) from None
    return jsonify(view_child(viewer, cp_id, purpose, channel="api"))


@bp.post("/children/<cp_id>/shielding")
def shielding(cp_id: str):
    viewer, _ = require("set_shielding")
    data = _json_body(ShieldingSchema())
    return jsonify(change_shielding(viewer, cp_id, data["shielded"], data["reason_category"]))


@bp.post("/children/<cp_id>/involvements")
@client_limited
def involvements(cp_id: str):
    viewer, _ = require("register_involvement")
    data = _json_body(InvolvementSchema())
    return jsonify(register_involvement(viewer, cp_id, data)), 201


@bp.post("/children/<cp_id>/involvements/<int:involvement_id>/end")
@client_limited
def end(cp_id: str, involvement_id: int):
    viewer, _ = require("register_involvement")
    data = _json_body(EndInvolvementSchema())
    return jsonify(end_involvement(viewer, cp_id, involvement_id, data["end_date"]))


@bp.post("/children/<cp_id>/involvements/<int:involvement_id>/info-to-share")
@client_limited
def info_to_share(cp_id: str, involvement_id: int):
    viewer, _ = require("register_involvement")
    data = _json_body(InfoToShareSchema())
    return jsonify(flag_info_to_share(viewer, cp_id, involvement_id, data["info_to_share"]))
