"""Signing in and staying signed in: lockout, single-use codes, disabled and expired users, idle
timeout, session fixation, sign-out, tampered cookies, CSRF, security headers and redirects."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pyotp
from sqlalchemy import update

from access_control import accounts
from access_control.models import User

from ..support.accounts import OPERATOR, PASSWORD, add_user, csrf_token, next_code, sign_in
from .conftest import PURPOSE, audit_mark, events_since, make_app, refusal, report

COOKIE = "contactpoint_session"


def _password(client, username: str, password: str, next_path: str | None = None):
    data = {"csrf_token": csrf_token(client, "/login"), "username": username, "password": password}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data)


def _code(client, step: str, code: str):
    return client.post(step, data={"csrf_token": csrf_token(client, step), "code": code})


def _failures(events) -> list[tuple[str, str, str | None]]:
    return [(actor, action, details.get("reason")) for actor, action, details in events]


def _wrong_code(secret: str) -> str:
    """A six-digit code that is not valid in any step near now."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(dt.datetime.now(dt.timezone.utc))
    valid = {totp.generate_otp(step) for step in range(now - 3, now + 4)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def _cookie(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def _signed_out(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def _set_user(sessions, username: str, **values) -> None:
    with sessions.begin() as db:
        db.execute(update(User).where(User.username == username).values(**values))


def test_five_failures_lock_the_account_even_for_the_right_password_until_the_cool_down_passes(settings, es,
                                                                                              sessions):
    app = make_app(settings.replace(lockout_minutes=7))
    try:
        alice, bob = add_user(sessions, "alice.lock"), add_user(sessions, "bob.lock")
        client = app.test_client()

        def page(response, username):  # a refusal page, less what differs between any two responses
            text = re.sub(r'(csrf_token" value=|nonce=)"[^"]*"', "", response.get_data(as_text=True))
            return text.replace(username, "USERNAME")
        # An unknown user and a wrong password get the same answer: usernames cannot be discovered.
        unknown = _password(client, "nobody.here", "wrong password 0")
        mark = audit_mark(sessions)
        wrong = _password(client, "alice.lock", "wrong password 0")
        assert (unknown.status_code, page(unknown, "nobody.here")) == (401, page(wrong, "alice.lock"))
        statuses = [wrong.status_code] + [_password(client, "alice.lock", f"wrong password {i}").status_code
                                          for i in range(1, 5)]
        locked_right = _password(client, "alice.lock", PASSWORD)
        locked_wrong = _password(client, "alice.lock", "wrong password again")
        assert statuses + [locked_right.status_code, locked_wrong.status_code] == [401] * 7
        assert _failures(events_since(sessions, mark)) == [("alice.lock", "login_failed", "bad_password")] * 5 + [
            ("alice.lock", "login_failed", "locked")] * 2

        assert page(locked_right, "alice.lock") == page(locked_wrong, "alice.lock")  # whichever password
        with sessions() as db:
            locked_until = accounts.find_user(db, "alice.lock").locked_until
        remaining = locked_until - dt.datetime.now(dt.timezone.utc)
        assert dt.timedelta(minutes=6, seconds=50) < remaining <= dt.timedelta(minutes=7)

        # Still inside the cool-down: still locked. Once it has passed, the right password works again.
        _set_user(sessions, "alice.lock", locked_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30))
        assert _password(client, "alice.lock", PASSWORD).status_code == 401
        _set_user(sessions, "alice.lock", locked_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        sign_in(client, sessions, alice)
        assert client.get("/").status_code == 200

        # Wrong second-factor codes count too: the fifth locks, and then even the right code is refused.
        client = app.test_client()
        response = _password(client, "bob.lock", PASSWORD)
        assert (response.status_code, response.headers["Location"]) == (302, "/login/enrol")
        mark = audit_mark(sessions)
        statuses = [_code(client, "/login/enrol", _wrong_code(bob.secret)).status_code for _ in range(5)]
        right_code = _code(client, "/login/enrol", next_code(sessions, bob))
        assert statuses == [401] * 5
        assert _signed_out(right_code)
        assert _failures(events_since(sessions, mark)) == [("bob.lock", "login_failed", "bad_code")] * 5 + [
            ("bob.lock", "login_failed", "locked")]
        assert _signed_out(client.get("/"))
        assert _password(client, "bob.lock", PASSWORD).status_code == 401
    finally:
        app.extensions["contactpoint"]["engine"].dispose()


def test_second_factor_codes_are_single_use_and_checked(app, sessions):
    carol = add_user(sessions, "carol.totp")
    client = app.test_client()
    response = _password(client, "carol.totp", PASSWORD)
    assert (response.status_code, response.headers["Location"]) == (302, "/login/enrol")
    # Only the password: not signed in yet.
    assert _signed_out(client.get("/"))
    used = pyotp.TOTP(carol.secret).now()  # this step's code: still inside the window when replayed below
    assert _code(client, "/login/enrol", used).status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    response = _password(client, "carol.totp", PASSWORD)
    assert (response.status_code, response.headers["Location"]) == (302, "/login/code")
    # Enrolled: the secret is never shown again.
    enrol = client.get("/login/enrol")
    assert (enrol.status_code, enrol.headers["Location"]) == (302, "/login/code")
    assert carol.secret not in client.get("/login/code").get_data(as_text=True)

    mark = audit_mark(sessions)
    # Four failures (a fifth would lock the account): the used code, a wrong one and two malformed ones.
    answers = [_code(client, "/login/code", code).status_code
               for code in (used, _wrong_code(carol.secret), "12ab56", "1234567")]
    assert answers == [401] * 4
    assert _failures(events_since(sessions, mark)) == [
        ("carol.totp", "login_failed", "code_reused")] + [("carol.totp", "login_failed", "bad_code")] * 3
    assert _signed_out(client.get("/"))
    assert _code(client, "/login/code", next_code(sessions, carol)).status_code == 302
    assert client.get("/").status_code == 200


def test_disabled_and_expired_users_cannot_sign_in_and_their_sessions_end_at_once(app, sessions):
    today = dt.date.today()
    dora = add_user(sessions, "dora.disabled")
    eve = add_user(sessions, "eve.expired")
    fay = add_user(sessions, "fay.lastday", expires_on=today)  # usable until the end of the day
    browsers, tokens = {}, {}
    for account in (dora, eve, fay):
        browsers[account.username] = app.test_client()
        sign_in(browsers[account.username], sessions, account)
        tokens[account.username] = csrf_token(browsers[account.username], "/")  # sessions read the API with it
    assert [browsers[a.username].get("/").status_code for a in (dora, eve, fay)] == [200, 200, 200]

    with sessions.begin() as db:
        accounts.set_disabled(db, OPERATOR, "dora.disabled", True)
        accounts.set_expiry(db, OPERATOR, "eve.expired", today - dt.timedelta(days=1))
    mark = audit_mark(sessions)
    outcome = {}
    for username, client in browsers.items():
        page = client.get("/")
        api = client.get(f"/api/v1/children/1000000001?purpose={PURPOSE}", headers={"X-CSRFToken": tokens[username]})
        outcome[username] = (page.status_code if not _signed_out(page) else "signed out", api.status_code)
    assert outcome == {"dora.disabled": ("signed out", 401), "eve.expired": ("signed out", 401),
                       "fay.lastday": (200, 404)}
    assert refusal(events_since(sessions, mark)) == [
        ("anonymous", "request_refused", 401, "not_signed_in", None)] * 4 + [
        ("fay.lastday", "record_view_refused", None, "not_found", None)]

    mark = audit_mark(sessions)
    fresh = app.test_client()
    assert [_password(fresh, name, PASSWORD).status_code for name in ("dora.disabled", "eve.expired")] == [401, 401]
    assert _failures(events_since(sessions, mark)) == [("dora.disabled", "login_failed", "disabled"),
                                                       ("eve.expired", "login_failed", "expired")]
    assert _signed_out(fresh.get("/"))

    # Disabled between the password and the code: the code step refuses too.
    gus = add_user(sessions, "gus.midway")
    client = app.test_client()
    assert _password(client, "gus.midway", PASSWORD).status_code == 302
    with sessions.begin() as db:
        accounts.set_disabled(db, OPERATOR, "gus.midway", True)
    mark = audit_mark(sessions)
    assert _signed_out(_code(client, "/login/enrol", next_code(sessions, gus)))
    assert _failures(events_since(sessions, mark)) == [("gus.midway", "login_failed", "disabled")]
    assert _signed_out(client.get("/"))


def test_an_idle_session_times_out(app, sessions, settings):
    account = add_user(sessions, "ida.idle")
    client = app.test_client()
    sign_in(client, sessions, account)
    idle = settings.idle_minutes * 60
    with client.session_transaction() as session:
        session["seen"] -= idle - 60  # not quite idle long enough (a minute to spare)
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["seen"] -= idle + 60
    mark = audit_mark(sessions)
    assert _signed_out(client.get("/"))
    events = events_since(sessions, mark)
    assert [(actor, action) for actor, action, _ in events] == [("ida.idle", "session_timed_out"),
                                                                ("anonymous", "request_refused")]
    assert events[0][2]["idle_minutes"] == settings.idle_minutes
    assert refusal(events[1:]) == [("anonymous", "request_refused", 401, "not_signed_in", None)]
    assert _signed_out(client.get("/"))  # and it stays signed out


def test_sign_in_starts_a_new_session_and_sign_out_kills_the_old_cookie(app, sessions):
    account = add_user(sessions, "hal.fixation")
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    before = _cookie(client)
    response = _password(client, "hal.fixation", PASSWORD)
    pending = _cookie(client)
    assert response.status_code == 302
    _code(client, "/login/enrol", next_code(sessions, account))
    signed_in = _cookie(client)
    with client.session_transaction() as session:
        kept = sorted(session.keys())
    assert "planted" not in kept
    assert len({before, pending, signed_in}) == 3
    assert client.get("/").status_code == 200
    # Neither the planted pre-sign-in cookie nor the half-way one gets anyone in.
    assert [_signed_out(_with_cookie(app, value).get("/")) for value in (before, pending)] == [True, True]
    assert _with_cookie(app, signed_in).get("/").status_code == 200

    mark = audit_mark(sessions)
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert _signed_out(response)
    assert [(actor, action) for actor, action, _ in events_since(sessions, mark)] == [("hal.fixation", "logout")]
    replay = _with_cookie(app, signed_in)
    assert _signed_out(replay.get("/"))
    assert replay.get(f"/api/v1/children/1000000001?purpose={PURPOSE}").status_code == 401
    assert _signed_out(client.get("/"))


def test_a_tampered_session_cookie_is_treated_as_signed_out_and_recorded(app, sessions):
    account = add_user(sessions, "ivy.tamper")
    client = app.test_client()
    sign_in(client, sessions, account)
    value = _cookie(client)
    payload, _, signature = value.rpartition(".")
    flip = {"A": "B"}.get(signature[-2], "A")
    tampered = {"signature": f"{payload}.{signature[:-2]}{flip}{signature[-1]}",
                "payload": f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"}
    results = []
    for name, forged in tampered.items():
        mark = audit_mark(sessions)
        forged_client = _with_cookie(app, forged)
        page = forged_client.get("/")
        api = forged_client.get(f"/api/v1/children/1000000001?purpose={PURPOSE}")
        results.append((name, _signed_out(page), api.status_code, refusal(events_since(sessions, mark))))
    tampered_events = [("anonymous", "request_refused", 400, "session_cookie_tampered", None),
                       ("anonymous", "request_refused", 401, "not_signed_in", None)] * 2
    assert results == [(name, True, 401, tampered_events) for name in tampered]
    assert client.get("/").status_code == 200  # the genuine cookie still works


def test_every_form_and_every_session_api_post_needs_the_csrf_token(world):
    world.index()
    practitioner, la1 = world.caller("practitioner"), world.caller("la1")
    client = practitioner.client
    open1 = world.ids["open1"]
    other = world.app.test_client()
    foreign = csrf_token(other, "/login")  # a valid token, but of another session
    forms = [("/login", {"username": "pat.practitioner", "password": PASSWORD}), ("/login/code", {"code": "123456"}),
             ("/login/enrol", {"code": "123456"}), ("/search", {"given_name": "Amara", "family_name": "Okafor"}),
             (f"/children/{open1}", {"purpose": PURPOSE}), ("/logout", {})]
    mismatches = []
    for path, data in forms:
        for name, token in (("missing", None), ("foreign", foreign), ("garbage", "x" * 40)):
            mark = world.mark()
            response = client.post(path, data={**data, **({"csrf_token": token} if token else {})})
            events = refusal(world.events_since(mark))
            expected = [("pat.practitioner", "request_refused", 400, "csrf_token_invalid", None)]
            if response.status_code != 400 or events != expected:
                mismatches.append((path, name, response.status_code, events))
    if client.get("/").status_code != 200:  # a sign-out without the token did not sign out
        mismatches.append(("/logout without a token signed the user out",))
    search = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}
    shield = {"shielded": True, "reason_category": "other"}
    for caller, path, body in ((practitioner, "/api/v1/search", search),
                               (la1, f"/api/v1/children/{open1}/shielding", shield)):
        for name, headers in (("missing", {}), ("foreign", {"X-CSRFToken": foreign}),
                              ("garbage", {"X-CSRFToken": "x" * 40})):
            mark = world.mark()
            response = caller.client.post(path, json=body, headers=headers)
            events = refusal(world.events_since(mark))
            expected = [(caller.username, "request_refused", 400, "csrf_token_invalid", None)]
            if (response.status_code, sorted(response.get_json() or {}), events) != (400, ["errors", "message"],
                                                                                    expected):
                mismatches.append((path, name, response.status_code, response.get_data(as_text=True)[:200], events))
    if la1.view_api(open1).get_json()["shielded"] is not False:
        mismatches.append(("shielding changed without a CSRF token",))
    # With the token, the same calls go through (so the refusals above are about the token alone).
    good = (practitioner.api_post("/api/v1/search", search).status_code,
            la1.api_post(f"/api/v1/children/{open1}/shielding", {"shielded": False,
                                                                  "reason_category": "other"}).status_code)
    if good != (200, 200):
        mismatches.append(("with the token", good))
    assert mismatches == [], report(mismatches)


def _headers_problems(name, response, secure: bool) -> list:
    problems = []
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    wanted = {"default-src": "default-src 'self'", "object-src": "object-src 'none'",
              "frame-ancestors": "frame-ancestors 'none'", "base-uri": "base-uri 'none'"}
    if {k: directives.get(k) for k in wanted} != wanted:
        problems.append((name, "Content-Security-Policy", csp))
    if "'unsafe-inline'" in csp or "*" in csp:
        problems.append((name, "Content-Security-Policy too loose", csp))
    got = (response.headers.get("X-Frame-Options"), response.headers.get("X-Content-Type-Options"))
    if got != ("DENY", "nosniff"):
        problems.append((name, "framing/sniffing headers", got))
    for cookie in response.headers.getlist("Set-Cookie"):
        attributes = {part.strip().split("=", 1)[0].lower(): part.strip() for part in cookie.split(";")[1:]}
        flags = ("httponly" in attributes, attributes.get("samesite"), "secure" in attributes)
        if flags != (True, "SameSite=Lax", secure):
            problems.append((name, "cookie flags", cookie))
    return problems


def test_every_kind_of_response_carries_the_security_headers_and_safe_cookies(world, settings, anonymous):
    practitioner = world.caller("practitioner")
    open1 = world.ids["open1"]
    responses = {
        "sign-in page": anonymous.get("/login"),
        "failed sign-in": anonymous.post("/login", data={"csrf_token": csrf_token(anonymous, "/login"),
                                                          "username": "nobody", "password": "nothing at all"}),
        "search form": practitioner.get("/"),
        "record page": practitioner.view_page(open1),
        "403 page": world.caller("auditor").get("/"),
        "api record": world.caller("api").view_api(open1),
        "api 404": world.caller("api").get("/api/v1/no-such-thing"),
        "api 401": anonymous.get(f"/api/v1/children/{open1}?purpose={PURPOSE}"),
        "status": anonymous.get("/status"),
    }
    problems = [p for name, response in responses.items() for p in _headers_problems(name, response, False)]
    assert any(r.headers.get("Set-Cookie") for r in responses.values())  # the cookie flags were looked at
    secure_app = make_app(settings.replace(secure_cookies=True))
    try:
        response = secure_app.test_client().get("/login", base_url="https://localhost")
        assert response.headers.get("Set-Cookie")
        problems += _headers_problems("secure sign-in page", response, True)
        if "max-age=" not in response.headers.get("Strict-Transport-Security", ""):
            problems.append(("secure sign-in page", "Strict-Transport-Security", response.headers))
    finally:
        secure_app.extensions["contactpoint"]["engine"].dispose()
    assert problems == [], report(problems)


ON_THIS_SITE = re.compile(r"/(?![/\\])[^\s\\]*")  # a path here: never //host, /\host, nor whitespace


def test_after_sign_in_the_user_only_ever_lands_on_this_site(app, sessions):
    account = add_user(sessions, "jo.redirect")
    client = app.test_client()
    sign_in(client, sessions, account)  # enrol once; from here on each sign-in is password + code
    cases = {"/audit?user=x": "/audit?user=x", "/children/1000000001": "/children/1000000001",
             "https://evil.example/": "/", "//evil.example/": "/", "/\\evil.example/": None,
             "\\\\evil.example/": "/", "/\t/evil.example/": "/", "javascript:alert(1)": "/",
             "http:/evil.example": "/", "": "/"}
    mismatches = []
    for target, expected in cases.items():
        client = app.test_client()
        response = _password(client, "jo.redirect", PASSWORD, next_path=target)
        if response.status_code != 302:
            mismatches.append((target, "password step", response.status_code))
            continue
        with sessions.begin() as db:  # one code per time step: let this test sign in many times
            accounts.find_user(db, "jo.redirect").totp_last_step = 0
        response = _code(client, "/login/code", next_code(sessions, account))
        location = response.headers.get("Location", "")
        on_site = bool(ON_THIS_SITE.fullmatch(location)) and (expected is None or location == expected)
        if response.status_code != 302 or not on_site:
            mismatches.append((target, expected or "a path on this site", response.status_code, location))
    assert mismatches == [], report(mismatches)
