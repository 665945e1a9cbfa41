"""JSON API under /api/v1: one consistent error body, 4xx for anything the caller got wrong."""
from __future__ import annotations

import dataclasses

from elasticsearch import ConnectionError as ElasticsearchConnectionError, NotFoundError
from flask import Blueprint, current_app, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from .auth import current_viewer
from .schemas import SearchSchema
from .services import search_children

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, message: str, errors: dict | None = None):
    return jsonify({"message": message, "errors": errors or {}}), status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(ElasticsearchConnectionError)
@bp.errorhandler(NotFoundError)  # the alias is missing: the index was never built
def search_unavailable(exc):
    current_app.logger.error("search unavailable: %s", exc)
    return error(503, "search is unavailable at the moment: try again shortly")


@bp.post("/search")
def search():
    viewer = current_viewer()
    if viewer is None:
        return error(401, "sign-in required: no valid credentials were given")
    body = request.get_json(silent=True)
    if body is None:
        return error(400, "the request body must be JSON (Content-Type: application/json)")
    try:
        data = SearchSchema().load(body)
    except ValidationError as exc:
        return error(400, "the search criteria are not valid", exc.messages)
    outcome = search_children(viewer, data, channel="api")
    return jsonify({"results": [dataclasses.asdict(c) for c in outcome.results], "too_many": outcome.too_many})
