"""The Flask front end: the only package that knows about HTTP."""
from __future__ import annotations

import secrets

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings

MAX_BODY_BYTES = 64 * 1024
CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    settings = (test_config or {}).get("SETTINGS") or Settings.from_env()
    app.config.update(
        SETTINGS=settings,
        # Without a configured key each start gets a fresh one: sessions then end on restart.
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_NAME="contactpoint_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which times out when idle
    )
    app.config.update(test_config or {})
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)

    from . import api, auth, errors, extensions, limiting, operations, pages, review, signin

    extensions.init_app(app)
    extensions.csrf.init_app(app)
    extensions.csrf.exempt(api.bp)  # bearer-token calls carry no cookie; session calls are checked in auth
    auth.init_app(app)  # before the limiter: limits are counted per signed-in caller
    limiting.init_app(app, app.extensions["contactpoint"]["engine"])
    for blueprint in (signin.bp, pages.bp, review.bp, api.bp, operations.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, errors.respond)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    return app
