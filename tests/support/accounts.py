"""Creating users and tokens through the real access_control code, and signing in like a browser."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pyotp

from access_control import Viewer
from access_control import accounts, tokens
from webapp.config import Settings

OPERATOR = Viewer(username="cli:test", display_name="test operator", role="national_admin", organisation="console")
PASSWORD = "correct horse battery staple"
TEST_SECRET_KEY = "test-only secret key, never used outside the test suite"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Account:
    username: str
    password: str
    secret: str | None
    role: str
    la_code: str | None


def totp_key() -> bytes:
    """The key the test apps encrypt TOTP secrets with (derived from TEST_SECRET_KEY, as in production)."""
    return Settings.from_env({}).replace(secret_key=TEST_SECRET_KEY).key("totp")


def add_user(sessions, username: str, role: str = "practitioner", la_code: str | None = "E09000001",
             organisation: tuple[str, str] = ("service", "HV-NORTH"), **extra) -> Account:
    """A user whose authenticator secret is already issued (as the enrolment page would), so tests know it."""
    interactive = role not in ("api_client", "indexer")
    with sessions.begin() as db:
        user = accounts.add_user(db, OPERATOR, username=username, display_name=username.replace(".", " ").title(),
                                 role=role, organisation_kind=organisation[0], organisation_code=organisation[1],
                                 la_code=la_code, password=PASSWORD if interactive else None, **extra)
        secret = accounts.enrolment_secret(user, totp_key()) if interactive else None
        return Account(user.username, PASSWORD, secret, role, la_code)


# The practitioner the test case-management systems act for (X-Acting-For), and how the audit trail names them.
ACTING_FOR = "jo.health-visitor"
ACTING_FOR_LABEL = "Jo Health-Visitor (jo.health-visitor)"


def add_token(sessions, username: str, scopes=("search", "view"), days: int = 30,
              la_code: str | None = "E09000001", acting_for: str | None = ACTING_FOR) -> str:
    """A token for an API client of local authority ``la_code`` (made on first use), and -- unless
    ``acting_for`` is None -- a practitioner of that authority it may act for (made once)."""
    with sessions.begin() as db:
        if accounts.find_user(db, username) is None:
            accounts.add_user(db, OPERATOR, username=username, display_name="Case system", role="api_client",
                              organisation_kind="local_authority", organisation_code=la_code or "E09000001",
                              la_code=la_code)
        _, text = tokens.create(db, OPERATOR, username, list(scopes), days)
    if acting_for is not None:
        add_acting_practitioner(sessions, username, acting_for)
    return text


def add_acting_practitioner(sessions, client: str, username: str = ACTING_FOR) -> str:
    """A practitioner in the API client's own organisation, whom its X-Acting-For may name (made once)."""
    with sessions.begin() as db:
        if accounts.find_user(db, username) is None:
            system = accounts.find_user(db, client)
            accounts.add_user(db, OPERATOR, username=username, display_name=username.replace(".", " ").title(),
                              role="practitioner", organisation_kind=system.organisation.kind,
                              organisation_code=system.organisation.code,
                              la_code=system.local_authority.code if system.local_authority else None,
                              password=PASSWORD)
    return username


def csrf_token(client, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def next_code(sessions, account: Account) -> str:
    """A valid code this account has not used yet (codes are accepted once)."""
    with sessions() as db:
        last = accounts.find_user(db, account.username).totp_last_step
    totp = pyotp.TOTP(account.secret)
    now = totp.timecode(dt.datetime.now(dt.timezone.utc))
    step = max(now, last + 1)  # the current code: it stays valid for one more step
    assert step <= now + 1, "this account already used every code valid right now"
    return totp.generate_otp(step)


def sign_in(client, sessions, account: Account):
    """Password then TOTP (enrolling on first sign-in), as a browser would; returns the final response."""
    response = client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "username": account.username,
                                           "password": account.password})
    assert response.status_code == 302, response.get_data(as_text=True)
    step = response.headers["Location"]
    response = client.post(step, data={"csrf_token": csrf_token(client, step), "code": next_code(sessions, account)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
