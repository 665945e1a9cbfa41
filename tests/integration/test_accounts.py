"""Users, sign-in checks and API tokens, through access_control against a real database."""
import datetime as dt

import pyotp
import pytest
from sqlalchemy import select

from access_control import InvalidInput, NotAllowed, NotSignedIn, Viewer, accounts, tokens
from access_control.accounts import LoginRules
from access_control.models import ApiToken, AuditEvent, User
from analyzers import clock

from ..support.accounts import OPERATOR, PASSWORD, add_token, add_user, totp_key

NOW = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.timezone.utc)
RULES = LoginRules(max_failures=5, lockout=dt.timedelta(minutes=15))
KEY = totp_key()


@pytest.fixture(autouse=True)
def pinned_clock():
    """NOW for every module these tests reach (accounts, tokens, audit), not only where it is passed."""
    with clock.pinned(NOW):
        yield


LA_TEAM = Viewer(username="la.manager", display_name="LA manager", role="la_management", organisation="E09000001",
                 la_code="E09000001")


def _user(session, name):
    return session.scalar(select(User).where(User.username == name))


def test_passwords_are_stored_as_argon2id_and_users_get_a_totp_secret(sessions):
    account = add_user(sessions, "pat.jones")
    with sessions() as session:
        user = _user(session, "pat.jones")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert len(account.secret) == 32 and account.secret not in user.totp_secret and not user.totp_confirmed
        assert session.scalars(select(AuditEvent.action)).all() == ["user_added"]


@pytest.mark.parametrize("changes, field", [
    ({"username": "X"}, "username"), ({"username": "has space"}, "username"), ({"role": "superuser"}, "role"),
    ({"password": "short"}, "password"), ({"password": None}, "password"), ({"display_name": " "}, "display_name"),
    ({"role": "la_management", "la_code": None}, "la_code"),
    ({"role": "api_client"}, "password"), ({"expires_on": dt.date(2000, 1, 1)}, "expires_on"),
])
def test_adding_a_user_refuses_bad_input_naming_the_field(sessions, changes, field):
    fields = dict(username="pat.jones", display_name="Pat Jones", role="practitioner", organisation_kind="service",
                  organisation_code="HV", la_code="E09000001", password=PASSWORD)
    with sessions.begin() as session, pytest.raises(InvalidInput) as refused:
        accounts.add_user(session, OPERATOR, **{**fields, **changes})
    assert refused.value.field == field
    with sessions() as session:
        assert session.scalar(select(User)) is None


def test_an_la_team_administers_only_its_own_authority_and_cannot_appoint_national_roles(sessions):
    fields = dict(display_name="Pat Jones", organisation_kind="school", organisation_code="100001", password=PASSWORD)
    with sessions.begin() as session:
        accounts.add_user(session, LA_TEAM, username="own.teacher", role="practitioner", la_code="E09000001", **fields)
        with pytest.raises(NotAllowed):
            accounts.add_user(session, LA_TEAM, username="other.teacher", role="practitioner", la_code="E09000002",
                              **fields)
        with pytest.raises(NotAllowed):
            accounts.add_user(session, LA_TEAM, username="new.admin", role="national_admin", la_code="E09000001",
                              **fields)
    add_user(sessions, "elsewhere", la_code="E09000002")
    with sessions.begin() as session:
        with pytest.raises(NotAllowed):
            accounts.set_disabled(session, LA_TEAM, "elsewhere", True)
        assert accounts.set_disabled(session, LA_TEAM, "own.teacher", True).session_generation == 1
        practitioner = Viewer(username="p", display_name="p", role="practitioner", organisation="x", la_code="E09000001")
        with pytest.raises(NotAllowed):
            accounts.unlock(session, practitioner, "own.teacher")


def test_five_failures_lock_the_account_even_against_the_right_password_until_the_cool_down(sessions):
    add_user(sessions, "pat.jones")
    with sessions.begin() as session:
        for attempt in range(5):
            assert accounts.check_password(session, "pat.jones", "wrong password!", RULES, NOW)[1] == "bad_password"
        assert accounts.check_password(session, "pat.jones", PASSWORD, RULES, NOW)[1] == "locked"
        later = NOW + dt.timedelta(minutes=15, seconds=1)
        user, reason = accounts.check_password(session, "pat.jones", PASSWORD, RULES, later)
        assert reason is None and user.username == "pat.jones"
        assert accounts.check_password(session, "nobody", PASSWORD, RULES, NOW) == (None, "unknown_user")


def test_disabled_and_expired_accounts_cannot_pass_the_password_step(sessions):
    add_user(sessions, "gone", expires_on=NOW.date())
    add_user(sessions, "off")
    with sessions.begin() as session:
        accounts.set_disabled(session, OPERATOR, "off", True)
        assert accounts.check_password(session, "off", PASSWORD, RULES, NOW)[1] == "disabled"
        assert accounts.check_password(session, "gone", PASSWORD, RULES, NOW)[1] is None  # its last day
        assert accounts.check_password(session, "gone", PASSWORD, RULES, NOW + dt.timedelta(days=1))[1] == "expired"


def test_a_totp_code_is_accepted_once_with_one_step_of_drift(sessions):
    account = add_user(sessions, "pat.jones")
    totp = pyotp.TOTP(account.secret)
    with sessions.begin() as session:
        user = _user(session, "pat.jones")

        def check(code):
            return accounts.check_totp(user, code, RULES, NOW, totp_key=KEY)
        assert check("123") == "bad_code"
        assert check(totp.at(NOW - dt.timedelta(seconds=30))) is None
        assert user.totp_confirmed
        assert check(totp.at(NOW - dt.timedelta(seconds=30))) == "code_reused"
        assert check(totp.at(NOW)) is None
        assert check(totp.at(NOW - dt.timedelta(seconds=90))) == "bad_code"
        assert user.failed_logins == 1  # the successes in between reset the count


def test_tokens_are_shown_once_stored_hashed_scoped_expiring_and_revocable(sessions):
    text = add_token(sessions, "case-system", scopes=("search",), days=1)
    with sessions.begin() as session:
        row = session.scalar(select(ApiToken))
        assert text.split("_")[2] not in row.secret_hash and row.scopes == "search"
        assert tokens.authenticate(session, text, NOW).token_id == row.token_id
        with pytest.raises(NotSignedIn) as expired:
            tokens.authenticate(session, text, NOW + dt.timedelta(days=1, seconds=1))
        assert expired.value.reason == "token_expired"
        with pytest.raises(NotSignedIn) as tampered:
            tokens.authenticate(session, text[:-1] + ("A" if text[-1] != "A" else "B"), NOW)
        assert tampered.value.reason == "token_unknown"
        tokens.revoke(session, OPERATOR, row.token_id)
        with pytest.raises(NotSignedIn) as revoked:
            tokens.authenticate(session, text, NOW)
        assert revoked.value.reason == "token_revoked"


def test_tokens_are_only_for_api_clients_and_only_national_admins_issue_them(sessions):
    add_user(sessions, "pat.jones")
    with sessions.begin() as session:
        with pytest.raises(InvalidInput) as wrong_user:
            tokens.create(session, OPERATOR, "pat.jones", ["search"])
        assert wrong_user.value.field == "user"
        with pytest.raises(NotAllowed):
            tokens.create(session, LA_TEAM, "pat.jones", ["search"])
    add_token(sessions, "case-system")
    with sessions.begin() as session:
        for scopes, days in ((["export"], 30), ([], 30), (["search"], 366)):
            with pytest.raises(InvalidInput):
                tokens.create(session, OPERATOR, "case-system", scopes, days)
