"""Per-app resources (database, Elasticsearch client, CSRF), created lazily, never at import time."""
from __future__ import annotations

from flask import Flask, current_app
from flask_wtf.csrf import CSRFProtect

from registry.db import make_engine, make_sessionmaker
from search_service import make_client

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    # No liveness ping per checkout: it would be a round trip on every transaction of every request.
    engine = make_engine(settings.database_url, ping=False)
    # Every session carries the audit trail's key (kept outside the database; see access_control.audit).
    info = {"audit_key": settings.key("audit"), "source_trust": settings.source_trust}
    app.extensions["contactpoint"] = {"engine": engine, "sessions": make_sessionmaker(engine, info=info),
                                      "readers": make_sessionmaker(engine, info=info, read_only=True), "es": None}


def sessions():
    return current_app.extensions["contactpoint"]["sessions"]


def readers():
    """Sessions for work that only reads (see registry.db.reader)."""
    return current_app.extensions["contactpoint"]["readers"]


def es_client():
    state = current_app.extensions["contactpoint"]
    if state["es"] is None:
        state["es"] = make_client(current_app.config["SETTINGS"])
    return state["es"]
