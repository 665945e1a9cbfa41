"""Usage limits: exactly N, shared by pages, API and sessions of one user, held under concurrency, and
not dodged by an API client naming a new practitioner each time."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from access_control import audit

from ..support.accounts import PASSWORD, add_acting_practitioner, add_token, add_user, csrf_token, sign_in
from .conftest import ACTING_FOR, PURPOSE, Caller, World, audit_mark, events_since, make_app, refusal, report


def _limit_body(limit: str) -> dict:
    return {"message": f"usage limit reached ({limit}): try again later", "errors": {}}


def _second_session(world: World, label: str) -> Caller:
    client = world.app.test_client()
    sign_in(client, world.sessions, world.account(label))
    return Caller(client, csrf_token(client, "/login"), world.account(label).username)


def test_search_and_view_limits_are_exact_and_shared_by_pages_api_and_sessions(limited):
    world = limited(search_limit="3 per hour", view_limit="2 per hour")
    first, second = world.caller("practitioner"), _second_session(world, "practitioner")
    other = world.caller("camhs")
    criteria = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}
    open1 = world.ids["open1"]
    steps = [
        ("search page, first session", lambda: first.search_page(criteria), 200),
        ("search api, first session", lambda: first.api_post("/api/v1/search", criteria), 200),
        ("search page, second session", lambda: second.search_page(criteria), 200),
        ("search api, second session", lambda: second.api_post("/api/v1/search", criteria), 429),
        ("search page, first session", lambda: first.search_page(criteria), 429),
        ("search page, another user", lambda: other.search_page(criteria), 200),
        ("view api, first session", lambda: first.view_api(open1), 200),
        ("view page, second session", lambda: second.view_page(open1), 200),
        ("view page, first session", lambda: first.view_page(open1), 429),
        ("view api, second session", lambda: second.view_api(open1), 429),
        ("view api, another user", lambda: other.view_api(open1), 200),
        ("search form (not limited)", lambda: first.get("/"), 200),
    ]
    mismatches = []
    for name, send, expected in steps:
        mark = world.mark()
        response = send()
        events = world.events_since(mark)
        actions = [action for _, action, _ in events]
        if response.status_code != expected:
            mismatches.append((name, expected, response.status_code))
        elif expected == 429:
            want = [(first.username, "request_refused", 429, "rate_limited", None)]
            if refusal(events) != want:
                mismatches.append((name, want, refusal(events)))
            if "api" in name:
                limit = "3 per 1 hour" if "search" in name else "2 per 1 hour"
                if response.get_json() != _limit_body(limit):
                    mismatches.append((name, "429 body", response.get_json()))
            if not response.headers.get("Retry-After", "").isdigit():
                mismatches.append((name, "Retry-After", dict(response.headers)))
        elif actions not in ([], ["search"], ["record_view"]):
            mismatches.append((name, "events", actions))
    assert mismatches == [], report(mismatches)


def test_parallel_requests_never_get_past_the_limit(limited):
    world = limited(search_limit="5 per hour", view_limit="4 per hour")
    criteria = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}
    practitioner = world.caller("practitioner")
    sessions_cookie = practitioner.client.get_cookie("contactpoint_session").value
    open1 = world.ids["open1"]

    def api_search(_):
        client = world.app.test_client()
        client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {world.api_token}", HTTP_X_ACTING_FOR=ACTING_FOR)
        return client.post("/api/v1/search", json=criteria).status_code

    def page_view(_):  # the same signed-in session, from many browser tabs at once
        client = world.app.test_client()
        client.set_cookie("contactpoint_session", sessions_cookie)
        return Caller(client, practitioner.csrf).view_page(open1).status_code

    mark = world.mark()
    with ThreadPoolExecutor(max_workers=8) as pool:
        searches = list(pool.map(api_search, range(16)))
        views = list(pool.map(page_view, range(12)))
    events = world.events_since(mark)
    got = (sorted(searches), sorted(views), sum(action == "search" for _, action, _ in events),
           sum(action == "record_view" for _, action, _ in events),
           sum(d.get("reason") == "rate_limited" for _, _, d in events))
    assert got == ([200] * 5 + [429] * 11, [200] * 4 + [429] * 8, 5, 4, 11 + 8)
    with world.sessions() as db:  # concurrent appends kept the hash chain intact
        assert audit.verify(db) == []


def test_an_api_client_cannot_dodge_its_limit_by_naming_new_practitioners(limited, sessions):
    world = limited(search_limit="3 per hour", client_limit="5 per hour")
    other_token = add_token(sessions, "other-system")
    # X-Acting-For must name real practitioners of the system's authority: a system with many of them.
    for name in ("sam.smith", "sam.jones", *(f"practitioner.{i}" for i in (*range(7), 99))):
        add_acting_practitioner(sessions, "case-system", name)
    criteria = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}

    def call(token: str, acting_for: str, what: str = "search"):
        client = world.app.test_client()
        headers = {"Authorization": f"Bearer {token}", "X-Acting-For": acting_for}
        if what == "search":
            return client.post("/api/v1/search", json=criteria, headers=headers)
        return client.get(f"/api/v1/children/{world.ids['open1']}?purpose={PURPOSE}", headers=headers)

    mismatches = []
    # One practitioner: the per-practitioner search limit.
    got = [call(other_token, "sam.smith").status_code for _ in range(4)]
    if got != [200, 200, 200, 429]:
        mismatches.append(("same practitioner", got))
    # A new practitioner each time: the client limit stops it, for searches and record views alike.
    responses = [call(world.api_token, f"practitioner.{i}") for i in range(7)]
    responses.append(call(world.api_token, "practitioner.99", "view"))
    got = [r.status_code for r in responses]
    if got != [200] * 5 + [429] * 3:
        mismatches.append(("rotating practitioners", got))
    elif [r.get_json() for r in responses[5:]] != [_limit_body("5 per 1 hour")] * 3:
        mismatches.append(("429 bodies", [r.get_json() for r in responses[5:]]))
    # Other clients keep their own allowance.
    got = call(other_token, "sam.jones").status_code
    if got != 200:
        mismatches.append(("another client", got))
    assert mismatches == [], report(mismatches)


def test_password_guessing_from_one_address_is_limited_across_accounts(settings, es, sessions):
    app = make_app(settings.replace(login_limit="3 per minute"))
    try:
        add_user(sessions, "kim.spray")
        client = app.test_client()
        token = csrf_token(client, "/login")
        mark = audit_mark(sessions)
        statuses = [client.post("/login", data={"csrf_token": token, "username": username, "password": password})
                    .status_code for username, password in (("kim.spray", "guess one guess"),
                                                            ("someone.else", "guess two guess"),
                                                            ("kim.spray", "guess three guess"),
                                                            ("kim.spray", PASSWORD))]
        assert statuses == [401, 401, 401, 429]
        with sessions() as db:
            unknown = "unknown:" + audit.pseudonym(db, "unknown-username", "someone.else")  # never in clear
        assert refusal(events_since(sessions, mark)) == [
            ("kim.spray", "login_failed", None, "bad_password", None),
            (unknown, "login_failed", None, "unknown_user", None),
            ("kim.spray", "login_failed", None, "bad_password", None),
            ("anonymous", "request_refused", 429, "rate_limited", None)]
        assert client.get("/login").status_code == 200  # reading the page is not limited
    finally:
        app.extensions["contactpoint"]["engine"].dispose()

