"""Who is calling: a signed-in session (Flask-Login) or a case-management system's bearer token.

``authenticate`` runs before every request (and before the usage limits, which key on the
caller). Session cookies are signed; one that fails its signature is treated as signed out and
recorded. Sessions end after a period of inactivity, a fixed time after signing in however
active (CONTACTPOINT_SESSION_HOURS), and whenever the user's session generation moves
(sign-out, disabling, second-factor reset), so an old cookie cannot be replayed.
"""
from __future__ import annotations

import dataclasses
import re

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from itsdangerous import BadSignature
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError as CSRFTokenInvalid

from access_control import NotSignedIn, Viewer, VisibilityPolicy, audit, tokens as api_tokens
from access_control.accounts import usable, viewer_for
from access_control.models import ApiToken, User
from analyzers import clock

from .extensions import csrf, readers, sessions

login_manager = LoginManager()
login_manager.session_protection = "basic"
# An API client names, by username, the practitioner it acts for (see _bearer).
ACTING_FOR_HEADER = "X-Acting-For"
# The mediated search's free-text "searching for" (pages): a requester's name and organisation.
ACTING_FOR = re.compile(r"[^\x00-\x1f\x7f]{2,200}")
# Blueprints for systems (bearer tokens; a session needs the CSRF token even to read), and their documents.
MACHINE_BLUEPRINTS = ("api", "fhir")
OPEN_ENDPOINTS = ("api.openapi_document", "fhir.metadata")


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
    with readers()() as db:
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
    action = "request_refused"
    if viewer is None:
        overflow = _anonymous_overflow()
        if overflow is not None:
            if not overflow.first:
                return
            g.anonymous_overflow = dataclasses.replace(overflow, first=False)  # one such event per window
            action, details = "refusals_limited", {**details, "limit": overflow.limit}
    try:
        with sessions().begin() as db:
            if viewer is not None:
                audit.record(db, viewer, action, details)
            else:
                audit.append(db, "anonymous", None, action, details)
    except Exception:  # the refusal itself still goes out; the failure is an operator's alarm
        current_app.logger.exception("could not record a refused request in the audit trail")


def _bearer() -> None:
    scheme, _, credential = request.headers["Authorization"].partition(" ")
    acting_for = (request.headers.get(ACTING_FOR_HEADER) or "").strip().lower()
    try:
        if scheme.lower() != "bearer" or not credential:
            raise NotSignedIn("use 'Authorization: Bearer <token>'", "token_malformed")
        with readers().begin() as db:  # reads only: the token with its system, and whom it acts for
            token = api_tokens.authenticate(db, credential)
            viewer = viewer_for(token.user)
            practitioner = api_tokens.acting_practitioner(db, token.user, acting_for) if acting_for else None
            label = api_tokens.acting_label(practitioner) if practitioner is not None else None
            db.expunge(token)
    except NotSignedIn as exc:
        overflow = _anonymous_overflow()
        if overflow is not None:  # guessing tokens gets nowhere past the limit
            audit_refusal(429, "refusals_limited")
            raise Refused(429, f"too many refused requests from this address ({overflow.limit}): try again later",
                          "refusals_limited", audited=False) from None
        raise Refused(401, str(exc), exc.reason) from None
    g.token = token
    g.viewer = viewer  # the system alone, acting for nobody yet: a refusal below is recorded against it
    _act_for(acting_for, label)


def _act_for(username: str, label: str | None) -> None:
    """X-Acting-For must name, by username, an active practitioner this system may act for (403 otherwise);
    ``label`` is how that practitioner is recorded, None when the name is not one.

    Only then does the viewer record that practitioner (name and username) as on_behalf_of, and the
    usage limits count against them (g.acting_for).
    """
    if not username:
        raise Refused(400, f"every API request must name the practitioner it acts for, by their username, in the "
                           f"{ACTING_FOR_HEADER} header", "acting_for_missing", {ACTING_FOR_HEADER: ["is required"]})
    if label is None:
        raise Refused(403, f"{ACTING_FOR_HEADER} does not name an active practitioner this system may act for "
                           "(of its own organisation, or of its own authority's)", "acting_for_unknown",
                      {ACTING_FOR_HEADER: ["is not a practitioner this system may act for"]})
    g.acting_for = username
    g.viewer = dataclasses.replace(g.viewer, on_behalf_of=label)


@dataclasses.dataclass(frozen=True)
class _Overflow:
    limit: str
    first: bool  # the refusal just past the limit: recorded once, as "refusals_limited"


def _anonymous_overflow() -> _Overflow | None:
    """Count this request's refusal against its address: None while within the limit.

    Every refusal of a request nobody is signed in for (a tampered cookie, a bad token, 401, 405,
    413, a CSRF failure, a usage limit) shares one fixed window per address
    (CONTACTPOINT_LOGIN_LIMIT); a request counts once however many refusals it meets. Within the
    limit each refusal is recorded; the first past it is recorded as one "refusals_limited" event;
    the rest of the window goes unrecorded, so anonymous noise can neither flood the audit trail nor
    queue on its head lock ahead of searches.
    """
    if "anonymous_overflow" not in g:
        g.anonymous_overflow = _count_anonymous_refusal()
    return g.anonymous_overflow


def _count_anonymous_refusal() -> _Overflow | None:
    from flask_limiter.util import get_remote_address
    from limits import parse_many

    from .limiting import limiter

    address, strategy = get_remote_address(), limiter.limiter
    for limit in parse_many(current_app.config["SETTINGS"].login_limit):
        if not strategy.hit(limit, "anonymous-refusals", address):
            # A fixed window counts every attempt, so exactly one is just past the limit.
            count = strategy.storage.get(limit.key_for("anonymous-refusals", address))
            return _Overflow(str(limit), first=count == limit.amount + 1)
    return None


def authenticate():
    g.viewer, g.token = None, None
    if g.pop("rejected_session_cookie", False):
        audit_refusal(400, "session_cookie_tampered")
    if request.blueprint in MACHINE_BLUEPRINTS and "Authorization" in request.headers:
        return _bearer()
    if not current_user.is_authenticated:
        return None
    now = int(clock.timestamp())
    ended = _session_end(current_app.config["SETTINGS"], now)
    if ended is not None:
        notice, details = ended
        viewer = current_user.viewer
        logout_user()
        session.clear()
        session["notice"] = notice
        with sessions().begin() as db:
            audit.record(db, viewer, "session_timed_out", details)
        return None
    session["seen"] = now
    g.viewer = current_user.viewer
    if (request.blueprint in MACHINE_BLUEPRINTS and request.endpoint not in OPEN_ENDPOINTS
            and request.method != "OPTIONS"):
        _protect_api_call()
    return None


def _protect_api_call() -> None:
    """A cookie alone is never enough to use the API, reading included: a record view needs the CSRF token
    too, so no other site can make a signed-in browser open (and audit) a child's record."""
    if request.method not in ("GET", "HEAD"):
        csrf.protect()
        return
    header = next((request.headers[name] for name in current_app.config["WTF_CSRF_HEADERS"]
                   if request.headers.get(name)), None)
    try:
        validate_csrf(header)
    except CSRFTokenInvalid as exc:
        raise CSRFError(exc.args[0]) from None


def _session_end(settings, now: int) -> tuple[str, dict] | None:
    """Why the signed-in session ends now (the notice, and the details the audit trail records), or None.

    A session from before the absolute lifetime existed has no ``signed_in_at``: it ends at once.
    """
    if now - session.get("signed_in_at", 0) > settings.session_hours * 3600:
        return (f"You were signed out {settings.session_hours} hours after signing in. Sign in again.",
                {"session_hours": settings.session_hours})
    if now - session.get("seen", 0) > settings.idle_minutes * 60:
        return (f"You were signed out after {settings.idle_minutes} minutes without activity.",
                {"idle_minutes": settings.idle_minutes})
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
