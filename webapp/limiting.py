"""Per-user usage limits (Flask-Limiter) counted in the database, so they hold across all workers.

Searches and record views each have a per-user limit, shared by the pages and the API. A case-
management system's calls count against the real practitioner it acts for (the same counter as that
practitioner's own use of the pages) and, hourly and daily, against the system as a whole.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from access_control.limits_storage import SCHEME

limiter = Limiter(key_func=get_remote_address, strategy="fixed-window", headers_enabled=True,
                  storage_uri=f"{SCHEME}://")


def _request_memo() -> dict | None:
    return g.setdefault("usage_counters", {}) if has_request_context() else None


def init_app(app, engine) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = f"{SCHEME}://"
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"engine": engine, "memo": _request_memo}
    limiter.init_app(app)


def _setting(name: str):
    return lambda: getattr(current_app.config["SETTINGS"], name)


def user_key() -> str:
    viewer = g.get("viewer")
    if viewer is None:
        return f"address:{get_remote_address()}"
    if g.get("token") is not None:
        return f"user:{g.acting_for}"  # the validated practitioner's username (webapp.auth._act_for)
    return f"user:{viewer.username}"


def client_key() -> str:
    viewer = g.get("viewer")
    return f"client:{viewer.username}" if viewer is not None else f"address:{get_remote_address()}"


search_limited = limiter.shared_limit(_setting("search_limit"), scope="search", key_func=user_key)
view_limited = limiter.shared_limit(_setting("view_limit"), scope="view", key_func=user_key)
client_limited = limiter.shared_limit(_setting("client_limit"), scope="client", key_func=client_key,
                                      exempt_when=lambda: g.get("token") is None)
login_limited = limiter.shared_limit(_setting("login_limit"), scope="login", key_func=get_remote_address,
                                     methods=["POST"])
