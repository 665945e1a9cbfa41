"""API tokens for case-management systems: shown once, stored hashed, scoped, expiring, revocable.

A token reads ``cp_<token id>_<secret>``. The id is public (it appears in audit events); the
secret has 256 bits of entropy, so one SHA-256 of it is enough to store (a slow hash only helps
low-entropy passwords).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from analyzers import clock

from . import audit
from .accounts import USERNAME, find_user, usable
from .errors import InvalidInput, NotAllowed, NotSignedIn
from .models import ApiToken, User
from .permissions import allowed
from .visibility import Viewer

SCOPES = ("search", "view", "involvements")
MAX_DAYS = 365
TOKEN = re.compile(r"cp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(session: Session, actor: Viewer, username: str, scopes: list[str], days: int = 90) -> tuple[ApiToken, str]:
    """A new token for an API client user; returns the row and the token text (shown once, never stored)."""
    if not allowed(actor.role, "administer_tokens"):
        raise NotAllowed("only national administrators issue API tokens")
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise InvalidInput("user", f"there is no user {username!r}")
    if not allowed(user.role, "hold_api_tokens"):
        raise InvalidInput("user", f"{user.username} has the role {user.role}; tokens are for api_client users")
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise InvalidInput("scope", f"choose from {', '.join(SCOPES)}" + (f" (not {', '.join(unknown)})" if unknown else ""))
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"a token lasts between 1 and {MAX_DAYS} days")
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = ApiToken(token_id=token_id, secret_hash=_digest(secret), user=user, scopes=" ".join(sorted(set(scopes))),
                   expires_at=clock.now() + dt.timedelta(days=days), created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "token_created", {"token_id": token_id, "user": user.username,
                                                    "scopes": row.scopes, "expires_at": row.expires_at})
    return row, f"cp_{token_id}_{secret}"


def revoke(session: Session, actor: Viewer, token_id: str) -> ApiToken:
    if not allowed(actor.role, "administer_tokens"):
        raise NotAllowed("only national administrators revoke API tokens")
    row = session.scalar(select(ApiToken).where(ApiToken.token_id == token_id))
    if row is None:
        raise InvalidInput("token_id", f"there is no token {token_id!r}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit.record(session, actor, "token_revoked", {"token_id": token_id, "user": row.user.username})
    return row


def authenticate(session: Session, text: str, now: dt.datetime | None = None) -> ApiToken:
    """The token a bearer credential names, if it is valid now; NotSignedIn says why not."""
    now = now or clock.now()
    match = TOKEN.fullmatch(text.strip())
    if match is None:
        raise NotSignedIn("the bearer token is malformed", "token_malformed")
    # The token, its system's account and organisation and authority in one statement, not one each.
    account = joinedload(ApiToken.user)
    row = session.scalar(select(ApiToken).where(ApiToken.token_id == match.group(1)).options(
        account.joinedload(User.organisation), account.joinedload(User.local_authority)))
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(match.group(2))):
        raise NotSignedIn("the bearer token is not valid", "token_unknown")
    if row.revoked_at is not None:
        raise NotSignedIn("the bearer token has been revoked", "token_revoked")
    if row.expires_at <= now:
        raise NotSignedIn("the bearer token has expired", "token_expired")
    if usable(row.user, now.date()):
        raise NotSignedIn("the account this token belongs to is not active", "token_account_inactive")
    return row


def has_scope(row: ApiToken, scope: str) -> bool:
    return scope in row.scopes.split()


# --- whom a case-management system acts for ---------------------------------------------------

def acting_practitioner(session: Session, client: User, username: str, today: dt.date | None = None) -> User | None:
    """The practitioner a system may act for, named by username; None for anyone else.

    Only an active practitioner of the system's own organisation -- or, for a local authority's own
    system, of an organisation belonging to that authority -- so every call is someone real to answer for.
    """
    if not USERNAME.fullmatch(username):
        return None
    user = find_user(session, username, options=[joinedload(User.organisation)])
    if user is None or not allowed(user.role, "be_acted_for") or usable(user, today):
        return None
    own = client.organisation
    if user.organisation_id == own.id or (own.kind == "local_authority"
                                          and user.organisation.local_authority_id == own.id):
        return user
    return None


def acting_label(user: User) -> str:
    """How the practitioner is recorded as ``on_behalf_of``: name and username, at most 200 characters."""
    suffix = f" ({user.username})"
    return user.display_name[:200 - len(suffix)] + suffix
