"""The Flask front end: the only package that knows about HTTP."""
from __future__ import annotations

import secrets
from pathlib import Path

from elasticsearch import ApiError, TransportError
from flask import Flask, g, request, send_from_directory
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from access_control.permissions import PERMISSIONS, allowed
from registry.local_authorities import authority_label
from search_service import SearchIncomplete

from .config import PREFIX, SECRET_KEY_FILE, MissingSecretKey, Settings
from .govuk_dates import govuk_date

MAX_BODY_BYTES = 64 * 1024
NAVIGATION = (("pages.search_form", "Find a child", "search"), ("review.events", "Audit", "review_audit"),
              ("user_admin.users", "Users", "administer_users"),
              ("admin.organisations", "Organisations", "administer_users"),
              ("relevance_admin.profiles", "Relevance", "manage_relevance"),
              ("linkage_models.models", "Linkage models", "tune_linkage"),
              ("linkage_review.queue", "Linkage review", "review_linkage"),
              ("admin.index", "Index", "view_index_status"))
GOVUK_ASSETS = Path(__file__).parent / "static" / "govuk" / "assets"  # copied by scripts/build-frontend
CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _secret_key(settings: Settings, test_config: dict) -> str:
    """The session-signing key. Never a random one: sessions would die on restart and differ per worker,
    and the TOTP secrets and the audit trail need the keys derived from it."""
    key = test_config.get("SECRET_KEY") or settings.secret_key
    if not key:
        raise MissingSecretKey(f"no secret key: set {PREFIX}SECRET_KEY (a long random string, e.g. from "
                               f"`python -c 'import secrets; print(secrets.token_urlsafe(48))'`), or run "
                               f"`contactpoint dev`, which writes one to {settings.state_dir / SECRET_KEY_FILE}")
    return key


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    settings = (test_config or {}).get("SETTINGS") or Settings.from_env()
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=_secret_key(settings, test_config or {}),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_NAME="contactpoint_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which times out when idle
    )
    app.config.update(test_config or {})
    # Our templates first, then the GOV.UK Frontend macros (govuk-frontend-jinja).
    app.jinja_loader = ChoiceLoader([PackageLoader("webapp"), PrefixLoader(
        {"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})])
    app.jinja_env.filters["govuk_date"] = govuk_date  # every date a page shows, GOV.UK style
    app.jinja_env.filters["authority"] = authority_label  # an authority by name, never a bare ONS code
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)

    # Blueprints grouped by whom they serve: practitioners (pages), administrators (admin), systems (api).
    from . import admin, api, auth, errors, extensions, fhir, limiting, operations, pages

    extensions.init_app(app)
    auth.init_app(app)  # first: CSRF refusals and usage limits are recorded against the signed-in caller
    extensions.csrf.init_app(app)
    for machine in (api.bp, fhir.bp):  # bearer-token calls carry no cookie; session calls are checked in auth
        extensions.csrf.exempt(machine)
    limiting.init_app(app, app.extensions["contactpoint"]["engine"])  # after auth: limits are per caller
    for blueprint in (*pages.BLUEPRINTS, *admin.BLUEPRINTS, api.bp, fhir.bp, operations.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, errors.respond)
    app.register_error_handler(OperationalError, errors.database_unavailable)
    # Elasticsearch unable to answer (every node tried, or a shard without a live copy): 503, pages and API alike.
    for unavailable in (TransportError, ApiError, SearchIncomplete):
        app.register_error_handler(unavailable, errors.search_unavailable)

    @app.get("/assets/<path:filename>")
    def govuk_assets(filename: str):
        """GOV.UK Frontend's fonts and images, where its stylesheet expects them."""
        return send_from_directory(GOVUK_ASSETS, filename, max_age=86400)

    @app.before_request
    def csp_nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.context_processor
    def template_globals():
        viewer = auth.current_viewer()
        return {"cspNonce": g.get("csp_nonce"),
                # Called by the header only for a signed-in person: one COUNT per page, none for API/FHIR calls.
                "unread_notifications": pages.notifications.unread_for_header,
                "navigation": [item for item in NAVIGATION if item[0] in app.view_functions],
                "permissions": {p for p in PERMISSIONS if viewer and allowed(viewer.role, p)}}

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=g.get("csp_nonce", "none")))
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    return app
