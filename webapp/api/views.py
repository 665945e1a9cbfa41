"""JSON API under /api/v1: bearer tokens (or a session plus CSRF token, reads included), one error body, 4xx for
mistakes.

The YAML after ``---`` in each view's docstring feeds the OpenAPI document (webapp/api/openapi.py), served at
GET /api/v1/openapi.json; tests/contract check the running API against it.
"""
from __future__ import annotations

import dataclasses

from flask import Blueprint, current_app, jsonify, request, url_for
from marshmallow import ValidationError

from access_control import InvalidInput, NotAllowed

from ..auth import Refused, require
from ..errors import respond
from ..limiting import client_limited, search_limited, view_limited
from ..schemas import (
    EndInvolvementSchema, InfoToShareSchema, InvolvementSchema, PurposeSchema, SearchSchema, ShieldingSchema,
)
from ..services import (
    RecordNotFound, change_shielding, end_involvement, flag_info_to_share, register_involvement, search_children,
    view_child,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error_body(status: int, message: str, errors: dict | None = None):
    return jsonify({"message": message, "errors": errors or {}}), status


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
    """Find children by fuzzy criteria.
    ---
    post:
      operationId: searchChildren
      summary: Find children by name, date of birth, gender, postcode or ContactPoint ID
      description: >-
        The least accepted, after NHS PDS's minimum search criteria, is one of: family name and given
        name; family name and date of birth; family name and year of birth; given name, date of birth,
        gender and postcode; a ContactPoint ID (anything including one of these is enough too).
        Otherwise the answer is a 400 whose `_schema` error lists these combinations. Some name must
        still agree: a date of birth or postcode alone never makes a candidate. When more strong
        candidates exist than the result cap, or the criteria single nobody out, the answer is no
        results with `too_many` set ("add detail"). Location criteria never count for a shielded child.
      requestBody:
        required: true
        content:
          application/json:
            schema: Search
      responses:
        200:
          description: The candidates, best first
          content:
            application/json:
              schema: SearchResponse
        429: TooManyRequests
        503: SearchUnavailable
    """
    viewer, _ = require("search")
    data = _json_body(SearchSchema())
    outcome = search_children(viewer, data, channel="api")
    return jsonify({"results": [dataclasses.asdict(c) for c in outcome.results], "too_many": outcome.too_many})


@bp.get("/children/<cp_id>")
@client_limited
@view_limited
def record(cp_id: str):
    """One child's record as the caller may see it, after a stated purpose.
    ---
    get:
      operationId: viewChild
      summary: Open a child's record for a stated purpose
      description: >-
        A shielded child's record, for anyone but its own local authority's team and national
        administrators, holds only identity, the shielded marker, status and whom to contact, with
        `redacted` true. A child that does not exist and one the caller may not open get the same 404.
        Any query parameter but `purpose` is refused (400). A signed-in session needs the X-CSRFToken
        header here too, so another site cannot make a browser open a record. The ID of a child merged
        into another leads to that child: the answer is the surviving child's record (its own `cp_id`),
        with `merged_from` naming the ID asked for, and the header Content-Location its address.
      parameters:
      - in: query
        schema: PurposeSchema
      responses:
        200:
          description: The record (redacted or full)
          content:
            application/json:
              schema: ChildRecord
        404: NotFound
        429: TooManyRequests
    """
    viewer, _ = require("view_record")
    try:
        purpose = PurposeSchema().load(request.args.to_dict())["purpose"]
    except ValidationError as exc:
        raise Refused(400, "state why you need this record", "invalid_purpose", exc.messages) from None
    record = view_child(viewer, cp_id, purpose, channel="api")
    response = jsonify(record)
    if "merged_from" in record:  # the ID asked for leads to another child: say where its record lives
        response.headers["Content-Location"] = url_for("api.record", cp_id=record["cp_id"], purpose=purpose)
    return response


@bp.post("/children/<cp_id>/shielding")
def shielding(cp_id: str):
    """Shield a child or lift shielding (the child's own local authority team or a national administrator).
    ---
    post:
      operationId: setShielding
      summary: Shield a child or lift shielding
      description: >-
        For the child's own local authority management team and national administrators; it takes
        effect for searches at once. The answer is the record as the caller now sees it.
      requestBody:
        required: true
        content:
          application/json:
            schema: Shielding
      responses:
        200:
          description: The record after the change
          content:
            application/json:
              schema: ChildRecord
        404: NotFound
    """
    viewer, _ = require("set_shielding")
    data = _json_body(ShieldingSchema())
    return jsonify(change_shielding(viewer, cp_id, data["shielded"], data["reason_category"]))


@bp.post("/children/<cp_id>/involvements")
@client_limited
def involvements(cp_id: str):
    """Register that the caller's service works with the child.
    ---
    post:
      operationId: registerInvolvement
      summary: Register an involvement with a child
      description: >-
        The practitioner named in X-Acting-For (or the signed-in user) is recorded against the caller's
        organisation. A sensitive service can only be recorded with explicit consent.
      requestBody:
        required: true
        content:
          application/json:
            schema: Involvement
      responses:
        201:
          description: The involvement as registered
          content:
            application/json:
              schema: InvolvementRecord
        404: NotFound
        429: TooManyRequests
    """
    viewer, _ = require("register_involvement")
    data = _json_body(InvolvementSchema())
    return jsonify(register_involvement(viewer, cp_id, data)), 201


@bp.post("/children/<cp_id>/involvements/<int:involvement_id>/end")
@client_limited
def end(cp_id: str, involvement_id: int):
    """End an involvement (its own organisation, the owning authority's team or a national administrator).
    ---
    post:
      operationId: endInvolvement
      summary: End an involvement
      requestBody:
        required: true
        content:
          application/json:
            schema: EndInvolvement
      responses:
        200:
          description: The involvement, ended
          content:
            application/json:
              schema: InvolvementRecord
        404: NotFound
        429: TooManyRequests
    """
    viewer, _ = require("register_involvement")
    data = _json_body(EndInvolvementSchema())
    return jsonify(end_involvement(viewer, cp_id, involvement_id, data["end_date"]))


@bp.post("/children/<cp_id>/involvements/<int:involvement_id>/info-to-share")
@client_limited
def info_to_share(cp_id: str, involvement_id: int):
    """Set or clear an involvement's "information to share" flag.
    ---
    post:
      operationId: flagInfoToShare
      summary: Set or clear an involvement's information-to-share flag
      requestBody:
        required: true
        content:
          application/json:
            schema: InfoToShare
      responses:
        200:
          description: The involvement after the change
          content:
            application/json:
              schema: InvolvementRecord
        404: NotFound
        429: TooManyRequests
    """
    viewer, _ = require("register_involvement")
    data = _json_body(InfoToShareSchema())
    return jsonify(flag_info_to_share(viewer, cp_id, involvement_id, data["info_to_share"]))


@bp.get("/openapi.json")
def openapi_document():
    """This API's OpenAPI 3 document, generated from the views and their schemas (no credentials needed).
    ---
    get:
      operationId: openapiDocument
      summary: The OpenAPI document of this API
      security: []
      responses:
        200:
          description: An OpenAPI 3.0 document (it holds no personal data)
          content:
            application/json:
              schema:
                type: object
    """
    from .openapi import document

    return jsonify(document(current_app))
