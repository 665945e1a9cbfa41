"""One way to answer a refused or failed request: a JSON error body under /api, an OperationOutcome under /fhir,
a page elsewhere.

Refusals the caller could learn from (bad input, no or wrong credentials, not allowed, too big,
too many requests) are written to the audit trail, naming fields but never their contents.
"""
from __future__ import annotations

from elasticsearch import ApiError, NotFoundError
from flask import current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from .auth import Refused, audit_refusal, current_viewer

AUDITED = {400, 401, 403, 405, 413, 429}
SEARCH_UNAVAILABLE = "search is unavailable at the moment: try again shortly"
# Statuses with which Elasticsearch says it cannot answer now (no live copy of a shard, no master, overloaded,
# a gateway in between): the caller may try again. Any other refusal is this code's mistake, a 500.
UNAVAILABLE_STATUSES = {429, 502, 503, 504}


def _reason(exc: HTTPException) -> str:
    if isinstance(exc, Refused):
        return exc.reason
    if isinstance(exc, CSRFError):
        return "csrf_token_invalid"
    if isinstance(exc, RateLimitExceeded):
        return "rate_limited"
    return {413: "body_too_large", 405: "method_not_allowed"}.get(exc.code, f"http_{exc.code}")


def respond(exc: HTTPException):
    errors = getattr(exc, "errors", {}) or {}
    message = exc.description or exc.name
    if isinstance(exc, RateLimitExceeded):
        message = f"usage limit reached ({exc.description}): try again later"
    if exc.code in AUDITED and getattr(exc, "audited", True):
        audit_refusal(exc.code, _reason(exc), list(errors) or None)
    fhir = request.path == "/fhir" or request.path.startswith("/fhir/")
    if exc.code == 401 and not request.path.startswith("/api/") and not fhir:
        return redirect(url_for("signin.login", next=request.full_path if request.method == "GET" else None))
    if fhir:  # FHIR clients read OperationOutcome resources, whatever the status
        from .fhir.views import outcome_response

        response = outcome_response(exc.code, message, errors)
    elif request.path.startswith("/api/"):
        response = jsonify({"message": message, "errors": errors})
    else:
        response = make_response(render_template("error.html", viewer=current_viewer(), status=exc.code,
                                                 message=message))
    response.status_code = exc.code
    # Keep what the exception says about itself, e.g. Allow on a 405.
    response.headers.extend([(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"])
    return response


def database_unavailable(exc: OperationalError):
    """The database dropped the connection (a restart, a failover) or stayed locked: 503, never 500. A dropped
    connection also makes SQLAlchemy replace every pooled one, so the next request gets a fresh one."""
    current_app.logger.error("database unavailable: %s", exc)
    return respond(ServiceUnavailable("the directory's database is unavailable at the moment: try again shortly"))


def search_unavailable(exc: Exception):
    """Elasticsearch cannot answer now: no node answered (TransportError), the alias is missing (the index was
    never built), a shard has no live copy (SearchIncomplete, or an ApiError with an unavailable status). 503 with
    a message, under /api as JSON and elsewhere as a page; never a 500, never a partial list."""
    if isinstance(exc, ApiError) and not isinstance(exc, NotFoundError) and exc.meta.status not in UNAVAILABLE_STATUSES:
        raise exc
    current_app.logger.error("search unavailable: %s", exc)
    return respond(ServiceUnavailable(SEARCH_UNAVAILABLE))
