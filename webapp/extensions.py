"""Per-app resources (database, Elasticsearch client, CSRF), created lazily, never at import time."""
from __future__ import annotations

from flask import Flask, current_app
from flask_wtf.csrf import CSRFProtect

from registry.db import make_engine, make_sessionmaker
from search_service import make_client

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    engine = make_engine(settings.database_url)
    # Every session carries the audit trail's key (kept outside the database; see access_control.audit).
    sessions = make_sessionmaker(engine, info={"audit_key": settings.key("audit"),
                                                 "source_trust": settings.source_trust})
    app.extensions["contactpoint"] = {"engine": engine, "sessions": sessions, "es": None}


def sessions():
    return current_app.extensions["contactpoint"]["sessions"]


def es_client():
    state = current_app.extensions["contactpoint"]
    if state["es"] is None:
        state["es"] = make_client(current_app.config["SETTINGS"])
    return state["es"]
