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
    app.extensions["contactpoint"] = {"engine": engine, "sessions": make_sessionmaker(engine), "es": None}


def sessions():
    return current_app.extensions["contactpoint"]["sessions"]


def es_client():
    state = current_app.extensions["contactpoint"]
    if state["es"] is None:
        state["es"] = make_client(current_app.config["SETTINGS"])
    return state["es"]
