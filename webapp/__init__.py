"""The Flask front end: the only package that knows about HTTP."""
from __future__ import annotations

import secrets

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from .config import Settings

csrf = CSRFProtect()

MAX_BODY_BYTES = 64 * 1024


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    settings = (test_config or {}).get("SETTINGS") or Settings.from_env()
    app.config.update(
        SETTINGS=settings,
        # Without a configured key each start gets a fresh one: sessions then end on restart.
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.update(test_config or {})

    from . import api, extensions, operations, pages

    extensions.init_app(app)
    csrf.init_app(app)
    csrf.exempt(api.bp)  # the API takes bearer tokens, never cookies alone
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(operations.bp)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
