"""Who is calling: a signed-in session (Flask-Login) or a case-management system's bearer token.

``authenticate`` runs before every request (and before the usage limits, which key on the
caller). Session cookies are signed; one that fails its signature is treated as signed out and
recorded. Sessions end after a period of inactivity and whenever the user's session generation
moves (sign-out, disabling, second-factor reset), so an old cookie cannot be replayed.
"""
from __future__ import annotations

import re

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, logout_user
from itsdangerous import BadSignature
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from access_control import NotSignedIn, Viewer, VisibilityPolicy, audit, tokens as api_tokens
from access_control.accounts import usable, viewer_for
from analyzers import clock
from registry.models import ApiToken, User

from .extensions import csrf, sessions

login_manager = LoginManager()
login_manager.session_protection = "basic"
ACTING_FOR_HEADER = "X-Acting-For"
ACTING_FOR = re.compile(r"[^\x00-\x1f\x7f]{2,200}")


class Refused(HTTPException):
    """A request refused on purpose: ``reason`` goes to the audit trail, ``errors`` name the fields.

    ``audited=False`` only for refusals that would otherwise let anyone flood the trail.
    """

    def __init__(self, code: int, message: str, reason: str, errors: dict | None = None, audited: bool = True):
        super().__init__(description=message)
        self.code, self.reason, self.errors, self.audited = code, reason, errors or {}, audited


class Principal(UserMixin):
    def __init__(self, user: User):
        self.user_id, self.generation, self.viewer = user.id, user.session_generation, viewer_for(user)

    def get_id(self) -> str:
        return f"{self.user_id}:{self.generation}"


@login_manager.user_loader
def load_principal(identity: str) -> Principal | None:
    user_id, _, generation = identity.partition(":")
    if not user_id.isdigit() or not generation.isdigit():
        return None
    with sessions()() as db:
        user = db.get(User, int(user_id), options=[joinedload(User.organisation), joinedload(User.local_authority)])
        if user is None or user.session_generation != int(generation) or usable(user):
            return None
        return Principal(user)


class AuditedSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, remembering when a cookie was presented but did not verify."""

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        value = request.cookies.get(self.get_cookie_name(app))
        if serializer is None or not value:
            return super().open_session(app, request)
        try:
            return self.session_class(serializer.loads(value, max_age=int(app.permanent_session_lifetime
                                                                          .total_seconds())))
        except BadSignature:
            g.rejected_session_cookie = True
            return self.session_class()


def init_app(app) -> None:
    login_manager.init_app(app)
    app.session_interface = AuditedSessionInterface()
    app.before_request(authenticate)


def current_viewer() -> Viewer | None:
    return g.get("viewer")


def current_token() -> ApiToken | None:
    return g.get("token")


def audit_refusal(status: int, reason: str, fields: list[str] | None = None) -> None:
    """Record a refused request: who, what was refused and why -- never the refused content."""
    viewer = current_viewer()
    details = {"status": status, "reason": reason, "method": request.method, "path": request.path,
               "remote_addr": request.remote_addr}
    if fields:
        details["fields"] = sorted(fields)
    try:
        with sessions().begin() as db:
            if viewer is not None:
                audit.record(db, viewer, "request_refused", details)
            else:
                audit.append(db, "anonymous", None, "request_refused", details)
    except Exception:  # the refusal itself still goes out; the failure is an operator's alarm
        current_app.logger.exception("could not record a refused request in the audit trail")


def _bearer() -> None:
    scheme, _, credential = request.headers["Authorization"].partition(" ")
    try:
        if scheme.lower() != "bearer" or not credential:
            raise NotSignedIn("use 'Authorization: Bearer <token>'", "token_malformed")
        with sessions().begin() as db:
            token = api_tokens.authenticate(db, credential)
            user = token.user
            viewer = viewer_for(user)
            db.expunge(token)
    except NotSignedIn as exc:
        _count_refused_credential()
        raise Refused(401, str(exc), exc.reason) from None
    g.token = token
    acting_for = (request.headers.get(ACTING_FOR_HEADER) or "").strip()
    g.viewer = Viewer(**{**viewer.__dict__, "on_behalf_of": acting_for or None})
    if not ACTING_FOR.fullmatch(acting_for):
        raise Refused(400, f"every API request must name the practitioner it acts for in the {ACTING_FOR_HEADER} "
                           "header (2 to 200 characters)", "acting_for_missing", {ACTING_FOR_HEADER: ["is required"]})


def _count_refused_credential() -> None:
    """Bad tokens from one address count against the sign-in limit; past it they are refused unrecorded.

    One event says the limit was reached; after that nobody can fill the audit trail by guessing.
    """
    from flask_limiter.util import get_remote_address
    from limits import parse_many

    from .limiting import limiter

    address, strategy = get_remote_address(), limiter.limiter
    for limit in parse_many(current_app.config["SETTINGS"].login_limit):
        if not strategy.hit(limit, "refused-credentials", address):
            # A fixed window counts every attempt: the one just past the limit is recorded, no more.
            if strategy.storage.get(limit.key_for("refused-credentials", address)) == limit.amount + 1:
                audit_refusal(429, "refused_credentials_limit")
            raise Refused(429, f"too many refused credentials from this address ({limit}): try again later",
                          "refused_credentials_limit", audited=False)


def authenticate():
    g.viewer, g.token = None, None
    if g.pop("rejected_session_cookie", False):
        audit_refusal(400, "session_cookie_tampered")
    if request.blueprint == "api" and "Authorization" in request.headers:
        return _bearer()
    if not current_user.is_authenticated:
        return None
    settings = current_app.config["SETTINGS"]
    now = int(clock.timestamp())
    seen = session.get("seen", 0)
    if now - seen > settings.idle_minutes * 60:
        viewer = current_user.viewer
        logout_user()
        session.clear()
        session["notice"] = f"You were signed out after {settings.idle_minutes} minutes without activity."
        with sessions().begin() as db:
            audit.record(db, viewer, "session_timed_out", {"idle_minutes": settings.idle_minutes})
        return None
    session["seen"] = now
    g.viewer = current_user.viewer
    if request.blueprint == "api" and request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()  # a cookie alone must never be enough to act through the API
    return None


def require(permission: str) -> tuple[Viewer, VisibilityPolicy]:
    """The caller and their policy, if they may do this; otherwise a 401 or 403 that is audited."""
    viewer = current_viewer()
    if viewer is None:
        raise Refused(401, "sign-in required: no valid credentials were given", "not_signed_in")
    policy = VisibilityPolicy(viewer)
    if not policy.may(permission):
        raise Refused(403, f"your role ({viewer.role}) may not do this", f"role_may_not_{permission}")
    token, scope = current_token(), TOKEN_SCOPES.get(permission, permission)
    if token is not None and not api_tokens.has_scope(token, scope):
        raise Refused(403, f"this token's scopes ({token.scopes}) do not include {scope!r}", "token_scope")
    return viewer, policy


TOKEN_SCOPES = {"search": "search", "view_record": "view", "register_involvement": "involvements"}
