"""Users: adding and administering them, and checking a sign-in (password, then TOTP).

Passwords are hashed with argon2id; the second factor is TOTP (RFC 6238) and a code is
accepted once only. Repeated failures lock the account for a cool-down period. A TOTP secret is
issued when its user enrols (never by administration) and stored encrypted (``totp_secrets``)
under a key the caller passes in. Each sign-in step locks the user's row (PostgreSQL) until
the caller commits, so parallel attempts queue: every failure counts, a code passes once.
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
from registry.models import Organisation
from registry.writes import get_or_create_organisation

from . import audit, totp_secrets
from .errors import InvalidInput, NotAllowed
from .models import ROLES, User
from .permissions import INTERACTIVE_ROLES, LA_GRANTABLE_ROLES, allowed
from .visibility import Viewer

ISSUER = "ContactPoint"
MIN_PASSWORD_LENGTH = 12
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{2,99}")

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


def find_user(session: Session, username: str, lock: bool = False, options=()) -> User | None:
    """``lock``: SELECT ... FOR UPDATE, fresh from the database, held until the caller commits. ``options``:
    loader options, e.g. the relationships the caller reads next, in the same statement."""
    query = select(User).where(User.username == username.strip().lower()).options(*options)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def lock_user(session: Session, user_id: int) -> User | None:
    """The user for a sign-in step, its row locked (PostgreSQL; SQLite serialises writers anyway)."""
    return session.get(User, user_id, with_for_update=True, populate_existing=True)


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
    if not allowed(actor.role, "administer_users"):
        raise NotAllowed("only national administrators and local authority management teams administer users")
    if allowed(actor.role, "act_in_every_authority"):
        return
    if not actor.la_code or la_code != actor.la_code:
        raise NotAllowed("a local authority team administers only its own authority's users")
    if role is not None and role not in LA_GRANTABLE_ROLES:
        raise NotAllowed(f"only national administrators can give the role {role!r}")


def _require_own_organisation(actor: Viewer, organisation_la_code: str | None) -> None:
    """An LA team works only in organisations of its own authority; national ones are for national admins."""
    if not allowed(actor.role, "act_in_every_authority") and organisation_la_code != actor.la_code:
        raise NotAllowed("a local authority team administers users only in organisations of its own authority "
                         "(national organisations and other authorities' are administered nationally)")


def _find_organisation(session: Session, kind: str, code: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.kind == kind, Organisation.code == code))


def authority_code(organisation: Organisation) -> str | None:
    """The code of the local authority an organisation belongs to; None for a national organisation."""
    return organisation.local_authority.code if organisation.local_authority else None


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
    if allowed(role, "act_for_own_authority") and not la_code:
        raise InvalidInput("la_code", "a local authority management team member needs their authority's code")
    interactive = role in INTERACTIVE_ROLES
    if interactive and not password:
        raise InvalidInput("password", f"is required for the role {role}")
    if not interactive and password:
        raise InvalidInput("password", f"the role {role} never signs in with a password; it uses API tokens")
    if expires_on is not None and expires_on < _now().date():
        raise InvalidInput("expires_on", "is in the past")
    _require_admin(actor, la_code, role)
    # A new organisation belongs to the user's authority (a local authority to itself); national
    # organisations are made by national administrators, adding a user with no authority.
    existing = _find_organisation(session, organisation_kind, organisation_code)
    _require_own_organisation(actor, authority_code(existing) if existing is not None else
                              organisation_code if organisation_kind == "local_authority" else la_code)
    if find_user(session, username) is not None:
        raise InvalidInput("username", f"{username!r} is already taken")
    authority = get_or_create_organisation(session, "local_authority", la_code) if la_code else None
    user = User(username=username, display_name=display_name.strip(), email=email, role=role,
                organisation=existing or get_or_create_organisation(session, organisation_kind, organisation_code,
                                                                    local_authority=authority),
                local_authority=authority,
                password_hash=hash_password(password) if password else None,
                totp_secret=None, totp_confirmed=False,  # the secret is issued when they enrol
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
    if not allowed(actor.role, "act_in_every_authority"):
        # National appointments and API clients are never an LA team's to re-enable, unlock, reset or extend.
        if user.role not in LA_GRANTABLE_ROLES:
            raise NotAllowed(f"only national administrators administer {user.role} accounts")
        _require_own_organisation(actor, authority_code(user.organisation))
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
    """A lost authenticator: the old secret goes; a new one is issued as they enrol at the next sign-in."""
    user = _target(session, actor, username)
    if user.role not in INTERACTIVE_ROLES:
        raise InvalidInput("username", f"{user.username} does not sign in interactively")
    user.totp_secret, user.totp_confirmed = None, False
    user.session_generation += 1
    audit.record(session, actor, "user_second_factor_reset", {"user": user.username})
    return user


# --- signing in -----------------------------------------------------------------------------

def _fail(user: User, rules: LoginRules, now: dt.datetime) -> None:
    user.failed_logins += 1
    if user.failed_logins >= rules.max_failures:
        user.locked_until, user.failed_logins = now + rules.lockout, 0


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(session: Session, username: str, password: str, rules: LoginRules,
                   now: dt.datetime | None = None) -> tuple[User | None, str | None]:
    """(user, None) when the password step passes, else (user or None, reason). The caller commits.

    Every refusal costs one argon2 verification, a locked account's too, so timing never tells a
    locked account from a wrong password or an unknown user (the caller gives them one answer).
    """
    now = now or _now()
    user = find_user(session, username, lock=True) if username else None
    if user is None or user.password_hash is None or user.role not in INTERACTIVE_ROLES:
        _verify(_DUMMY_HASH, password or "-")
        return None, "unknown_user"
    right = _verify(user.password_hash, password or "")
    if is_locked(user, now):
        return user, "locked"  # whichever password: guessing during the cool-down learns nothing
    if not right:
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


def totp_secret(user: User, totp_key: bytes) -> str | None:
    """The user's plaintext secret (None before enrolment); one stored in plaintext is encrypted now."""
    if user.totp_secret is None:
        return None
    secret = totp_secrets.decrypt(totp_key, user.username, user.totp_secret)
    if not totp_secrets.is_encrypted(user.totp_secret):  # stored before migration 0008
        user.totp_secret = totp_secrets.encrypt(totp_key, user.username, secret)
    return secret


def enrolment_secret(user: User, totp_key: bytes) -> str:
    """The secret to set up in an authenticator app, issued (and stored encrypted) on first need."""
    secret = totp_secret(user, totp_key)
    if secret is None:
        secret = pyotp.random_base32()
        user.totp_secret = totp_secrets.encrypt(totp_key, user.username, secret)
    return secret


def encrypt_plaintext_secrets(session: Session, totp_key: bytes) -> int:
    """Encrypt every secret still stored in plaintext (from before migration 0008); how many there were."""
    users = session.scalars(select(User).where(User.totp_secret.is_not(None),
                                               User.totp_secret.not_like(f"{totp_secrets.PREFIX}%"))).all()
    for user in users:
        totp_secret(user, totp_key)
    return len(users)


def check_totp(user: User, code: str, rules: LoginRules, now: dt.datetime | None = None, *,
               totp_key: bytes) -> str | None:
    """None when the code is right and unused (enrolment is then confirmed), else the reason.

    Load ``user`` with ``lock_user`` and commit afterwards: parallel submissions of one code then
    queue on the row, and only the first passes.
    """
    now = now or _now()
    if is_locked(user, now):
        return "locked"
    reason = usable(user, now.date())
    if reason:
        return reason
    step = totp_step(totp_secret(user, totp_key) or "", code, now)
    if step is None:
        _fail(user, rules, now)
        return "bad_code"
    if step <= user.totp_last_step:
        _fail(user, rules, now)
        return "code_reused"
    user.totp_last_step, user.totp_confirmed, user.failed_logins = step, True, 0
    return None


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
