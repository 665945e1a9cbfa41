"""Users: adding and administering them, and checking a sign-in (password, then TOTP).

Passwords are hashed with argon2id; the second factor is TOTP (RFC 6238) and a code is
accepted once only. Repeated failures lock the account for a cool-down period.
"""
from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzers import clock
from registry.models import ROLES, User
from registry.writes import get_or_create_organisation

from . import audit
from .errors import InvalidInput, NotAllowed
from .permissions import INTERACTIVE_ROLES
from .visibility import Viewer

ISSUER = "ContactPoint"
MIN_PASSWORD_LENGTH = 12
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{2,99}")
# Roles an LA management team may give; the rest are national appointments.
LA_GRANTABLE_ROLES = frozenset({"practitioner", "la_management"})

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Checked when the username is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only for constant-time refusals")


@dataclass(frozen=True)
class LoginRules:
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=15)


def _now() -> dt.datetime:
    return clock.now()


def is_locked(user: User, now: dt.datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or _now())


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def viewer_for(user: User, on_behalf_of: str | None = None) -> Viewer:
    return Viewer(username=user.username, display_name=user.display_name, role=user.role,
                  organisation=user.organisation.code, organisation_kind=user.organisation.kind,
                  la_code=user.local_authority.code if user.local_authority else None,
                  on_behalf_of=on_behalf_of)


def usable(user: User, today: dt.date | None = None) -> str | None:
    """Why this account cannot be used now (None when it can)."""
    if user.disabled:
        return "disabled"
    if user.expires_on is not None and user.expires_on < (today or _now().date()):
        return "expired"
    return None


# --- administration -------------------------------------------------------------------------

def _require_admin(actor: Viewer, la_code: str | None, role: str | None = None) -> None:
    if actor.role == "national_admin":
        return
    if actor.role != "la_management":
        raise NotAllowed("only national administrators and local authority management teams administer users")
    if not actor.la_code or la_code != actor.la_code:
        raise NotAllowed("a local authority team administers only its own authority's users")
    if role is not None and role not in LA_GRANTABLE_ROLES:
        raise NotAllowed(f"only national administrators can give the role {role!r}")


def add_user(session: Session, actor: Viewer, *, username: str, display_name: str, role: str,
             organisation_kind: str, organisation_code: str, la_code: str | None = None,
             password: str | None = None, email: str | None = None, expires_on: dt.date | None = None) -> User:
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise InvalidInput("username", "use 3 to 100 lower-case letters, digits and . _ @ -, starting with a "
                                       "letter or digit")
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if not display_name.strip():
        raise InvalidInput("display_name", "is required")
    if role == "la_management" and not la_code:
        raise InvalidInput("la_code", "a local authority management team member needs their authority's code")
    interactive = role in INTERACTIVE_ROLES
    if interactive and not password:
        raise InvalidInput("password", f"is required for the role {role}")
    if not interactive and password:
        raise InvalidInput("password", f"the role {role} never signs in with a password; it uses API tokens")
    if expires_on is not None and expires_on < _now().date():
        raise InvalidInput("expires_on", "is in the past")
    _require_admin(actor, la_code, role)
    if find_user(session, username) is not None:
        raise InvalidInput("username", f"{username!r} is already taken")
    user = User(username=username, display_name=display_name.strip(), email=email, role=role,
                organisation=get_or_create_organisation(session, organisation_kind, organisation_code),
                local_authority=get_or_create_organisation(session, "local_authority", la_code) if la_code else None,
                password_hash=hash_password(password) if password else None,
                totp_secret=pyotp.random_base32() if interactive else None, totp_confirmed=False,
                totp_last_step=0, failed_logins=0, disabled=False, expires_on=expires_on, session_generation=0,
                created_by=actor.username)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user_added", {"user": username, "role": role, "la_code": la_code,
                                                 "organisation": f"{organisation_kind}:{organisation_code}",
                                                 "expires_on": expires_on})
    return user


def _target(session: Session, actor: Viewer, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise InvalidInput("username", f"there is no user {username!r}")
    _require_admin(actor, user.local_authority.code if user.local_authority else None)
    return user


def set_disabled(session: Session, actor: Viewer, username: str, disabled: bool) -> User:
    user = _target(session, actor, username)
    user.disabled = disabled
    user.session_generation += 1  # signs them out everywhere
    audit.record(session, actor, "user_disabled" if disabled else "user_enabled", {"user": user.username})
    return user


def set_expiry(session: Session, actor: Viewer, username: str, expires_on: dt.date | None) -> User:
    user = _target(session, actor, username)
    user.expires_on = expires_on
    audit.record(session, actor, "user_expiry_set", {"user": user.username, "expires_on": expires_on})
    return user


def unlock(session: Session, actor: Viewer, username: str) -> User:
    user = _target(session, actor, username)
    user.failed_logins, user.locked_until = 0, None
    audit.record(session, actor, "user_unlocked", {"user": user.username})
    return user


def reset_second_factor(session: Session, actor: Viewer, username: str) -> User:
    """A lost authenticator: a new secret, enrolled again at the next sign-in."""
    user = _target(session, actor, username)
    if user.role not in INTERACTIVE_ROLES:
        raise InvalidInput("username", f"{user.username} does not sign in interactively")
    user.totp_secret, user.totp_confirmed = pyotp.random_base32(), False
    user.session_generation += 1
    audit.record(session, actor, "user_second_factor_reset", {"user": user.username})
    return user


# --- signing in -----------------------------------------------------------------------------

def _fail(user: User, rules: LoginRules, now: dt.datetime) -> None:
    user.failed_logins += 1
    if user.failed_logins >= rules.max_failures:
        user.locked_until, user.failed_logins = now + rules.lockout, 0


def check_password(session: Session, username: str, password: str, rules: LoginRules,
                   now: dt.datetime | None = None) -> tuple[User | None, str | None]:
    """(user, None) when the password step passes, else (user or None, reason). The caller commits."""
    now = now or _now()
    user = find_user(session, username) if username else None
    if user is None or user.password_hash is None or user.role not in INTERACTIVE_ROLES:
        try:
            _hasher.verify(_DUMMY_HASH, password or "-")
        except VerificationError:
            pass
        return None, "unknown_user"
    if is_locked(user, now):
        return user, "locked"
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        _fail(user, rules, now)
        return user, "bad_password"
    reason = usable(user, now.date())
    if reason:
        return user, reason
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user, None


def totp_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step a six-digit code belongs to (allowing one step of clock drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_totp(user: User, code: str, rules: LoginRules, now: dt.datetime | None = None) -> str | None:
    """None when the code is right and unused (enrolment is then confirmed), else the reason."""
    now = now or _now()
    if is_locked(user, now):
        return "locked"
    reason = usable(user, now.date())
    if reason:
        return reason
    step = totp_step(user.totp_secret or "", code, now)
    if step is None:
        _fail(user, rules, now)
        return "bad_code"
    if step <= user.totp_last_step:
        _fail(user, rules, now)
        return "code_reused"
    user.totp_last_step, user.totp_confirmed, user.failed_logins = step, True, 0
    return None


def provisioning_uri(user: User) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
