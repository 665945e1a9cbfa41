"""Sign-in hardening: a locked account answers (and costs) as a wrong password does; parallel
sign-in steps for one user queue on its row (PostgreSQL), so every failure counts and a code
passes once; TOTP secrets are encrypted at rest; sessions have an absolute lifetime; the web
app refuses to start without a secret key, and `contactpoint dev` makes one."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pyotp
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select, update

from access_control import accounts, totp_secrets
from access_control.models import User
from webapp import create_app
from webapp.cli import main
from webapp.config import MissingSecretKey, Settings
from webapp.cli.dev import ensure_secret_key

from ..support.accounts import OPERATOR, PASSWORD, TEST_SECRET_KEY, add_user, csrf_token, next_code, sign_in
from .conftest import audit_mark, events_since

ONLY_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
REPOSITORY = Path(__file__).resolve().parents[2]


def _password(client, username: str, password: str):
    return client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "username": username,
                                       "password": password})


def _signed_out(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def _page(response, username: str) -> str:
    """A page less what differs between any two responses (tokens, nonces, the username typed)."""
    text = re.sub(r'(csrf_token" value=|nonce=)"[^"]*"', "", response.get_data(as_text=True))
    return text.replace(username, "USERNAME")


def _stored_secret(sessions, username: str) -> str | None:
    with sessions() as db:
        return db.scalar(select(User.totp_secret).where(User.username == username))


class CountingHasher(PasswordHasher):
    """The real argon2id hasher, noting which hash each verification ran against."""

    def __init__(self):
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash, password):
        self.verified.append(hash)
        return super().verify(hash, password)


def test_a_locked_account_gets_the_wrong_password_answer_after_the_same_argon2_work(app, sessions, settings,
                                                                                     monkeypatch):
    add_user(sessions, "alice.locked")
    add_user(sessions, "bob.unlocked")
    client = app.test_client()
    for attempt in range(settings.lockout_failures):
        assert _password(client, "alice.locked", f"wrong password {attempt}").status_code == 401
    with sessions() as db:
        assert accounts.is_locked(accounts.find_user(db, "alice.locked"))
        hashes = {name: accounts.find_user(db, name).password_hash for name in ("alice.locked", "bob.unlocked")}

    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", hasher)
    mark = audit_mark(sessions)
    answers = {"wrong password": (_password(client, "bob.unlocked", "wrong password"), "bob.unlocked"),
               "unknown user": (_password(client, "nobody.here", "wrong password"), "nobody.here"),
               "locked, right password": (_password(client, "alice.locked", PASSWORD), "alice.locked"),
               "locked, wrong password": (_password(client, "alice.locked", "wrong password"), "alice.locked")}
    pages = {case: (response.status_code, _page(response, username)) for case, (response, username) in answers.items()}
    assert len(set(pages.values())) == 1, "a locked account must be answered exactly as a wrong password"
    assert pages["wrong password"][0] == 401
    # A legitimately locked user still learns what to do from the one answer.
    assert f"locked for {settings.lockout_minutes} minutes" in pages["wrong password"][1]
    # Every refusal ran argon2 once; the locked account's against its own hash, as a wrong password does.
    assert hasher.verified[0] == hashes["bob.unlocked"]
    assert hasher.verified[2:] == [hashes["alice.locked"]] * 2 and len(hasher.verified) == 4
    # The audit trail still tells the reviewer the account was locked.
    reasons = [(actor, details.get("reason")) for actor, action, details in events_since(sessions, mark)
               if action == "login_failed" and actor != "nobody.here"]
    assert reasons[0] == ("bob.unlocked", "bad_password")
    assert reasons[-2:] == [("alice.locked", "locked")] * 2


def _until_queued(database_url: str, futures, expected: int) -> None:
    """Wait until `expected` requests wait on a lock in PostgreSQL (or one finished: then it did not queue)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(1200):
            waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'").fetchone()[0]
            if waiting >= expected:
                return
            done, _ = wait(futures, timeout=0.05, return_when=FIRST_COMPLETED)
            if done:
                return
    raise AssertionError(f"{expected} requests never queued")


def _in_parallel_while_locked(sessions, database_url: str, username: str, requests) -> list:
    """Run the requests at once while this test holds the user's row, then let them all go together.

    Held, every request gets as far as the row: the old read-modify-write then races (each reads the
    same counters); with SELECT ... FOR UPDATE they queue and each sees the one before it.
    """
    holder = sessions()
    holder.begin()
    holder.execute(select(User.id).where(User.username == username).with_for_update())
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [pool.submit(request) for request in requests]
        try:
            _until_queued(database_url, futures, len(requests))
        finally:
            holder.rollback()
            holder.close()
        return [future.result(timeout=120) for future in futures]


@ONLY_POSTGRESQL
def test_parallel_wrong_passwords_all_count_on_postgresql(app, sessions, settings):
    add_user(sessions, "carl.parallel")
    attempts = settings.lockout_failures - 1  # all counted, none locking yet
    browsers = [app.test_client() for _ in range(attempts)]
    tokens = [csrf_token(browser, "/login") for browser in browsers]

    def wrong_password(browser, token):
        return lambda: browser.post("/login", data={"csrf_token": token, "username": "carl.parallel",
                                                    "password": "wrong password"}).status_code
    statuses = _in_parallel_while_locked(sessions, settings.database_url, "carl.parallel",
                                         [wrong_password(b, t) for b, t in zip(browsers, tokens)])
    assert statuses == [401] * attempts
    with sessions() as db:
        assert accounts.find_user(db, "carl.parallel").failed_logins == attempts


@ONLY_POSTGRESQL
def test_one_code_submitted_twice_in_parallel_passes_once_on_postgresql(app, sessions, settings):
    account = add_user(sessions, "dee.replay")
    with sessions.begin() as db:  # enrolled earlier: both browsers reach the code step
        db.execute(update(User).where(User.username == "dee.replay").values(totp_confirmed=True))
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        response = _password(browser, "dee.replay", PASSWORD)
        assert (response.status_code, response.headers["Location"]) == (302, "/login/code")
    tokens = [csrf_token(browser, "/login/code") for browser in browsers]
    code = next_code(sessions, account)

    def submit(browser, token):
        return lambda: browser.post("/login/code", data={"csrf_token": token, "code": code}).status_code
    mark = audit_mark(sessions)
    statuses = _in_parallel_while_locked(sessions, settings.database_url, "dee.replay",
                                         [submit(b, t) for b, t in zip(browsers, tokens)])
    assert sorted(statuses) == [302, 401]
    outcomes = sorted((action, details.get("reason")) for actor, action, details in events_since(sessions, mark)
                      if actor == "dee.replay")
    assert outcomes == [("login", None), ("login_failed", "code_reused")]
    signed_in = [browser.get("/").status_code == 200 for browser in browsers]
    assert sorted(signed_in) == [False, True]


def test_totp_secrets_are_issued_at_enrolment_and_stored_encrypted_for_their_user_only(app, sessions, settings):
    with sessions.begin() as db:  # as an administrator adds someone: no secret exists until they enrol
        accounts.add_user(db, OPERATOR, username="nia.new", display_name="Nia New", role="practitioner",
                          organisation_kind="service", organisation_code="HV-NORTH", la_code="E09000001",
                          password=PASSWORD)
    assert _stored_secret(sessions, "nia.new") is None
    client = app.test_client()
    assert _password(client, "nia.new", PASSWORD).headers["Location"] == "/login/enrol"
    shown = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]{32})<', client.get("/login/enrol").get_data(as_text=True))
    secret = shown.group(1)
    stored = _stored_secret(sessions, "nia.new")
    assert stored.startswith(totp_secrets.PREFIX) and secret not in stored
    key = settings.key("totp")
    assert totp_secrets.decrypt(key, "nia.new", stored) == secret
    # The page shows the same secret again until enrolment is done; the code from it signs in.
    assert secret in client.get("/login/enrol").get_data(as_text=True)
    response = client.post("/login/enrol", data={"csrf_token": csrf_token(client, "/login/enrol"),
                                                 "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and client.get("/").status_code == 200
    assert _stored_secret(sessions, "nia.new") == stored

    # Useless without the key, and bound to its user: copied onto another row, it does not decrypt.
    other_key = Settings.from_env({}).replace(secret_key="some other key").key("totp")
    for wrong_key, username in ((other_key, "nia.new"), (key, "other.user")):
        with pytest.raises(totp_secrets.UnreadableSecret):
            totp_secrets.decrypt(wrong_key, username, stored)
    # A separate CONTACTPOINT_TOTP_KEY replaces the one derived from the secret key.
    assert settings.replace(totp_key="a separate totp key").key("totp") != key


def test_plaintext_secrets_from_before_encryption_still_work_and_get_encrypted(app, sessions, settings):
    legacy = {name: pyotp.random_base32() for name in ("lee.legacy", "lou.legacy")}
    for name, secret in legacy.items():
        add_user(sessions, name)
        with sessions.begin() as db:  # as a database made before migration 0008 holds them
            db.execute(update(User).where(User.username == name).values(totp_secret=secret, totp_confirmed=True))
    client = app.test_client()
    assert _password(client, "lee.legacy", PASSWORD).headers["Location"] == "/login/code"
    response = client.post("/login/code", data={"csrf_token": csrf_token(client, "/login/code"),
                                                "code": pyotp.TOTP(legacy["lee.legacy"]).now()})
    assert response.status_code == 302 and client.get("/").status_code == 200
    key = settings.key("totp")
    stored = _stored_secret(sessions, "lee.legacy")
    assert totp_secrets.is_encrypted(stored) and totp_secrets.decrypt(key, "lee.legacy", stored) == legacy["lee.legacy"]

    # The rest are encrypted by `contactpoint db upgrade` without waiting for their users to sign in.
    assert _stored_secret(sessions, "lou.legacy") == legacy["lou.legacy"]
    env = {"CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_STATE_DIR": str(settings.state_dir),
           "CONTACTPOINT_SECRET_KEY": TEST_SECRET_KEY}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "encrypted 1 authenticator secrets" in result.output
    stored = _stored_secret(sessions, "lou.legacy")
    assert totp_secrets.is_encrypted(stored) and totp_secrets.decrypt(key, "lou.legacy", stored) == legacy["lou.legacy"]


def test_a_session_ends_a_fixed_time_after_sign_in_however_active(app, sessions, settings):
    account = add_user(sessions, "abe.absolute")
    client = app.test_client()
    sign_in(client, sessions, account)
    lifetime = settings.session_hours * 3600
    with client.session_transaction() as session:
        session["signed_in_at"] -= lifetime - 60  # active all along ("seen" stays fresh), a minute to spare
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["signed_in_at"] -= 120
    mark = audit_mark(sessions)
    assert _signed_out(client.get("/"))
    events = events_since(sessions, mark)
    assert events[0][:2] == ("abe.absolute", "session_timed_out")
    assert events[0][2]["session_hours"] == settings.session_hours and "idle_minutes" not in events[0][2]
    assert f"signed out {settings.session_hours} hours after signing in" in client.get("/login").get_data(as_text=True)
    assert _signed_out(client.get("/"))

    # A session cookie from before the absolute lifetime existed (no sign-in time) ends at once.
    sign_in(client, sessions, account)
    with client.session_transaction() as session:
        del session["signed_in_at"]
    assert _signed_out(client.get("/"))

    assert Settings.from_env({}).session_hours == 12
    assert Settings.from_env({"CONTACTPOINT_SESSION_HOURS": "8"}).session_hours == 8
    for bad in ("0", "25", "eight"):
        with pytest.raises(ValueError, match="CONTACTPOINT_SESSION_HOURS"):
            Settings.from_env({"CONTACTPOINT_SESSION_HOURS": bad})


def test_the_web_app_refuses_to_start_without_a_secret_key(settings, database_url, tmp_path):
    keyless = settings.replace(secret_key=None, state_dir=tmp_path / "no-key-here")
    with pytest.raises(MissingSecretKey, match="CONTACTPOINT_SECRET_KEY"):
        create_app({"SETTINGS": keyless})
    with pytest.raises(MissingSecretKey):
        create_app({"SETTINGS": keyless, "TESTING": True})

    # Production: gunicorn exits at start-up, saying why, instead of serving with a throw-away key.
    env = {name: value for name, value in os.environ.items() if not name.startswith("CONTACTPOINT_")}
    env.update(CONTACTPOINT_STATE_DIR=str(keyless.state_dir), CONTACTPOINT_DATABASE_URL=database_url)
    gunicorn = subprocess.run([sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0",
                               "webapp:create_app()"], env=env, cwd=REPOSITORY, capture_output=True, text=True,
                              timeout=120)
    assert gunicorn.returncode != 0
    assert "no secret key: set CONTACTPOINT_SECRET_KEY" in gunicorn.stderr


def test_contactpoint_dev_makes_a_private_secret_key_once_for_the_app_and_cli(database_url, tmp_path):
    state = tmp_path / "dev-state"
    environment = {"CONTACTPOINT_STATE_DIR": str(state), "CONTACTPOINT_DATABASE_URL": database_url}
    fresh = Settings.from_env(environment)
    assert fresh.secret_key is None
    made = ensure_secret_key(fresh)
    key_file = state / "secret-key"
    assert made.secret_key and len(made.secret_key) >= 43
    assert key_file.read_text().strip() == made.secret_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # What `contactpoint serve` and the indexer that `dev` starts read: the same key, made only once.
    again = Settings.from_env(environment)
    assert again.secret_key == made.secret_key
    assert ensure_secret_key(again).secret_key == made.secret_key
    app = create_app({"SETTINGS": again})
    try:
        assert app.config["SECRET_KEY"] == made.secret_key
    finally:
        app.extensions["contactpoint"]["engine"].dispose()
    # A configured key is used as it is; no file is written for it.
    configured = Settings.from_env({**environment, "CONTACTPOINT_STATE_DIR": str(tmp_path / "other"),
                                    "CONTACTPOINT_SECRET_KEY": "configured key"})
    assert ensure_secret_key(configured).secret_key == "configured key"
    assert not (tmp_path / "other" / "secret-key").exists()
