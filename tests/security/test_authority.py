"""Authority: an LA team administers only its own organisations and its own kinds of user; X-Acting-For names a
real practitioner of the calling system; a signed-in browser cannot be made to open a record from another site."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from limits import parse_many
from sqlalchemy import select

from access_control import NotAllowed, accounts
from access_control.models import User
from registry import cpid
from registry.models import Organisation
from webapp.config import Settings

from ..support.accounts import OPERATOR, PASSWORD, add_token, add_user, csrf_token
from .conftest import ACTING_FOR, ACTING_FOR_LABEL, LA1, LA2, PURPOSE, refusal, report

NATIONAL_CHARITY = ("service", "NAT-CHARITY")


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Argon2id with the cheapest parameters: these tests add many users and are not about hashing."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _authority_of(sessions, kind: str, code: str) -> str | None:
    with sessions() as db:
        org = db.scalar(select(Organisation).where(Organisation.kind == kind, Organisation.code == code))
        return accounts.authority_code(org)


def _user(sessions, username: str) -> User:
    with sessions() as db:
        user = accounts.find_user(db, username)
        db.expunge(user)
        return user


def _new_user_form(username: str, organisation: tuple[str, str], la_code: str = LA1) -> dict:
    return {"username": username, "display_name": username.replace(".", " ").title(), "role": "practitioner",
            "organisation_kind": organisation[0], "organisation_code": organisation[1], "la_code": la_code,
            "password": PASSWORD}


# --- 5. an LA team administers only its own organisations and its own kinds of user ------------------------

def test_an_la_team_adds_users_only_in_organisations_of_its_own_authority(world, sessions):
    # A national administrator makes a national organisation by adding someone with no authority to it.
    add_user(sessions, "nat.charity.worker", la_code=None, organisation=NATIONAL_CHARITY)
    add_user(sessions, "la2.worker", la_code=LA2, organisation=("service", "LA2-EARLY-HELP"))
    la1 = world.caller("la1")
    mismatches = []
    for name, organisation in (("national charity", NATIONAL_CHARITY),
                               ("another authority's service", ("service", "LA2-EARLY-HELP")),
                               ("another authority itself", ("local_authority", LA2))):
        mark = world.mark()
        response = la1.form_post("/admin/users/new", _new_user_form(f"new.{organisation[1].lower()}", organisation))
        got = (response.status_code, refusal(world.events_since(mark)))
        want = (403, [("lee.la1", "request_refused", 403, "not_allowed", None)])
        if got != want:
            mismatches.append((name, want, got))
    # Its own new organisation is created as its own; so is a user in the authority itself.
    for username, organisation in (("new.own", ("service", "LA1-NEW-TEAM")), ("new.council", ("local_authority", LA1))):
        response = la1.form_post("/admin/users/new", _new_user_form(username, organisation))
        if response.status_code != 302:
            mismatches.append((username, 302, response.status_code))
    with sessions() as db:
        added = set(db.scalars(select(User.username).where(User.created_by == "lee.la1")))
    if added != {"new.own", "new.council"}:
        mismatches.append(("users the LA team added", added))
    if _authority_of(sessions, "service", "LA1-NEW-TEAM") != LA1 or _authority_of(sessions, *NATIONAL_CHARITY):
        mismatches.append(("authorities", _authority_of(sessions, "service", "LA1-NEW-TEAM"),
                           _authority_of(sessions, *NATIONAL_CHARITY)))
    assert mismatches == [], report(mismatches)


def test_an_la_team_never_administers_national_appointments_api_clients_or_other_organisations(world, sessions):
    """Every user below works in LA1's area; only the practitioner in LA1's own organisation is LA1's to administer."""
    others = {"nat.in.la1": ("national_admin", ("service", "NATIONAL")),
              "aud.in.la1": ("auditor", ("service", "AUDIT")),
              "rel.in.la1": ("relevance_admin", ("service", "RELEVANCE")),
              "sys.in.la1": ("api_client", ("local_authority", LA1)),
              "charity.in.la1": ("practitioner", NATIONAL_CHARITY)}
    add_user(sessions, "charity.founder", la_code=None, organisation=NATIONAL_CHARITY)  # a national organisation
    for username, (role, organisation) in others.items():
        add_user(sessions, username, role=role, la_code=LA1, organisation=organisation)
        with sessions.begin() as db:
            accounts.set_disabled(db, OPERATOR, username, True)
    own = add_user(sessions, "own.practitioner", la_code=LA1, organisation=("local_authority", LA1))
    la1 = world.caller("la1")
    actions = {"enable": {}, "unlock": {}, "reset-authenticator": {},
               "expiry": {"expires_on-day": "31", "expires_on-month": "12", "expires_on-year": "2099"}}
    mismatches = []
    for username in others:
        for action, data in actions.items():
            mark = world.mark()
            response = la1.form_post(f"/admin/users/{username}/{action}", data)
            got = (response.status_code, refusal(world.events_since(mark)))
            if got != (403, [("lee.la1", "request_refused", 403, "not_allowed", None)]):
                mismatches.append((username, action, got))
        user = _user(sessions, username)
        if not user.disabled or user.expires_on is not None:
            mismatches.append((username, "changed", user.disabled, user.expires_on))
    # The same functions from the console with --as, and the team's list shows only whom it administers.
    team = accounts.viewer_for(_user_with_organisations(sessions, "lee.la1"))
    for username in others:
        with sessions.begin() as db, pytest.raises(NotAllowed):
            accounts.unlock(db, team, username)
    listing = la1.get("/admin/users").get_data(as_text=True)
    if any(username in listing for username in others) or own.username not in listing:
        mismatches.append(("listing", [u for u in [*others, own.username] if u in listing]))
    if la1.form_post(f"/admin/users/{own.username}/disable", {}).status_code != 302:
        mismatches.append(("own practitioner", "not disabled"))
    assert mismatches == [], report(mismatches)


def _user_with_organisations(sessions, username: str) -> User:
    with sessions() as db:
        user = accounts.find_user(db, username)
        _ = user.organisation.code, user.local_authority.code if user.local_authority else None
        db.expunge_all()
        return user


def test_only_a_national_administrator_gives_an_organisation_to_an_authority(world, sessions):
    add_user(sessions, "charity.founder", la_code=None, organisation=NATIONAL_CHARITY)
    la1, national = world.caller("la1"), world.caller("national")
    # The LA team's organisations page edits its own authority only: a smuggled authority field is ignored.
    la1.form_post("/admin/organisations", {"kind": NATIONAL_CHARITY[0], "code": NATIONAL_CHARITY[1],
                                           "name": "Taken over", "local_authority": LA1})
    assert _authority_of(sessions, *NATIONAL_CHARITY) is None
    form = _new_user_form("charity.la1", NATIONAL_CHARITY)
    assert la1.form_post("/admin/users/new", form).status_code == 403
    # A national administrator gives it to LA1 (audited); now LA1's team may add its people there.
    mark = world.mark()
    saved = national.form_post("/admin/organisations", {"kind": NATIONAL_CHARITY[0], "code": NATIONAL_CHARITY[1],
                                                        "name": "A national charity", "local_authority": LA1})
    assert saved.status_code == 200 and "Contact details saved" in saved.get_data(as_text=True)
    assert [(actor, action, details["local_authority"]) for actor, action, details in world.events_since(mark)
            if action == "organisation_authority_set"] == [("nat.admin", "organisation_authority_set", LA1)]
    assert la1.form_post("/admin/users/new", form).status_code == 302
    unknown = national.form_post("/admin/organisations", {"kind": NATIONAL_CHARITY[0], "code": NATIONAL_CHARITY[1],
                                                          "name": "A national charity", "local_authority": "E0NOPE"})
    assert unknown.status_code == 400 and "there is no local authority with the code E0NOPE" in \
        unknown.get_data(as_text=True)
    assert _authority_of(sessions, *NATIONAL_CHARITY) == LA1


# --- 6. X-Acting-For names a real practitioner of the calling system -----------------------------------------

def test_x_acting_for_names_an_active_practitioner_of_the_systems_own_organisation(world, sessions):
    world.index()
    add_user(sessions, "hv.la1", la_code=LA1, organisation=("service", "LA1-HEALTH-VISITING"))  # LA1's service
    add_user(sessions, "hv.la2", la_code=LA2, organisation=("service", "LA2-HEALTH-VISITING"))
    add_user(sessions, "charity.founder", la_code=None, organisation=NATIONAL_CHARITY)  # a national organisation
    add_user(sessions, "charity.la1", la_code=LA1, organisation=NATIONAL_CHARITY)  # working in LA1's area
    add_user(sessions, "gone.la1", la_code=LA1, organisation=("local_authority", LA1))
    with sessions.begin() as db:
        accounts.set_disabled(db, OPERATOR, "gone.la1", True)
    world.account("la1"), world.account("national")
    # A service's own system acts for the service's staff only, not for the rest of the authority's.
    service_token = add_token(sessions, "hv-system", la_code=LA1, acting_for=None)
    with sessions.begin() as db:
        user = accounts.find_user(db, "hv-system")
        user.organisation = db.scalar(select(Organisation).where(Organisation.code == "LA1-HEALTH-VISITING"))
    system_of = {world.api_token: "case-system", service_token: "hv-system"}
    criteria = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}
    allowed = [(world.api_token, ACTING_FOR, ACTING_FOR_LABEL),
               (world.api_token, "HV.LA1 ", "Hv La1 (hv.la1)"),       # a practitioner of an LA1 organisation
               (service_token, "hv.la1", "Hv La1 (hv.la1)")]
    refused = [(world.api_token, "no.such.person"), (world.api_token, "Pat Jones, Health visitor"),
               (world.api_token, "hv.la2"), (world.api_token, "charity.la1"), (world.api_token, "gone.la1"),
               (world.api_token, "lee.la1"), (world.api_token, "nat.admin"), (world.api_token, "case-system"),
               (service_token, ACTING_FOR)]
    mismatches = []
    for token, acting_for, label in allowed:
        client = world.app.test_client()
        mark = world.mark()
        response = client.post("/api/v1/search", json=criteria,
                               headers={"Authorization": f"Bearer {token}", "X-Acting-For": acting_for})
        got = (response.status_code, [(action, d.get("on_behalf_of")) for _, action, d in world.events_since(mark)])
        if got != (200, [("search", label)]):
            mismatches.append((acting_for, got))
    for token, acting_for in refused:
        client = world.app.test_client()
        for method, path, body in (("POST", "/api/v1/search", criteria),
                                   ("GET", f"/api/v1/children/{world.ids['open1']}?purpose={PURPOSE}", None)):
            mark = world.mark()
            response = client.open(path, method=method, json=body,
                                   headers={"Authorization": f"Bearer {token}", "X-Acting-For": acting_for})
            events = world.events_since(mark)
            got = (response.status_code, (response.get_json() or {}).get("errors"), refusal(events),
                   [d.get("on_behalf_of") for _, _, d in events], any(acting_for in str(d) for _, _, d in events))
            # Refused before it acts for anyone: recorded against the system, never with the header's content.
            want = (403, {"X-Acting-For": ["is not a practitioner this system may act for"]},
                    [(system_of[token], "request_refused", 403, "acting_for_unknown", ["X-Acting-For"])], [None], False)
            if got != want:
                mismatches.append((acting_for, method, want, got))
    assert mismatches == [], report(mismatches)


def test_usage_limits_count_the_real_practitioner_whichever_way_they_search(limited, sessions):
    """The practitioner's own searches and every system's searches for them share one allowance."""
    world = limited(search_limit="3 per hour")
    practitioner = world.caller("practitioner")  # pat.practitioner, of an LA1 service: LA1's system may act for them
    other_token = add_token(sessions, "other-la1-system", acting_for=None)
    criteria = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}

    def by_system(token: str, acting_for: str) -> int:
        headers = {"Authorization": f"Bearer {token}", "X-Acting-For": acting_for}
        return world.app.test_client().post("/api/v1/search", json=criteria, headers=headers).status_code

    got = [practitioner.search_page(criteria).status_code, by_system(world.api_token, "pat.practitioner"),
           by_system(other_token, "PAT.PRACTITIONER"), by_system(world.api_token, "pat.practitioner"),
           practitioner.search_page(criteria).status_code, by_system(world.api_token, ACTING_FOR)]
    assert got == [200, 200, 200, 429, 429, 200]


def test_the_curl_contactpoint_dev_prints_acts_for_its_development_practitioner(app, sessions):
    from webapp.cli.dev import DEV_USERS, _dev_accounts

    token = _dev_accounts(sessions)
    headers = {"Authorization": f"Bearer {token}", "X-Acting-For": DEV_USERS[0][0]}
    response = app.test_client().get(f"/api/v1/children/{cpid.generate()}?purpose={PURPOSE}", headers=headers)
    assert response.status_code == 404  # let in, acting for dev.practitioner; there is no such child


def test_a_case_management_system_is_limited_by_the_day_as_well_as_by_the_hour():
    granularities = {item.GRANULARITY.name for item in parse_many(Settings.from_env({}).client_limit)}
    assert {"hour", "day"} <= granularities


# --- 7. the record view cannot be triggered cross-site ---------------------------------------------------------

def test_a_signed_in_browser_opens_a_record_through_the_api_only_with_its_csrf_token(world):
    world.index()
    practitioner = world.caller("practitioner")
    open1 = world.ids["open1"]
    path = f"/api/v1/children/{open1}?purpose={PURPOSE}"
    foreign = csrf_token(world.app.test_client(), "/login")  # a valid token of another (anonymous) session
    mismatches = []
    for name, method, headers in (("GET, no token", "GET", {}), ("HEAD, no token", "HEAD", {}),
                                  ("GET, another session's token", "GET", {"X-CSRFToken": foreign}),
                                  ("GET, a made-up token", "GET", {"X-CSRFToken": "x" * 40})):
        mark = world.mark()
        response = practitioner.client.open(path, method=method, headers=headers)
        got = (response.status_code, refusal(world.events_since(mark)))
        want = (400, [("pat.practitioner", "request_refused", 400, "csrf_token_invalid", None)])
        if got != want:
            mismatches.append((name, want, got))
    # With its own token it works, and so do the page flow (a POST with the form's token) and bearer tokens.
    mark = world.mark()
    outcomes = {"api with the token": practitioner.view_api(open1).status_code,
                "page": practitioner.view_page(open1).status_code,
                "bearer": world.caller("api").view_api(open1).status_code,
                "openapi document": practitioner.get("/api/v1/openapi.json").status_code}
    if outcomes != dict.fromkeys(outcomes, 200):
        mismatches.append(("allowed", outcomes))
    views = [(actor, d["channel"]) for actor, action, d in world.events_since(mark) if action == "record_view"]
    if views != [("pat.practitioner", "api"), ("pat.practitioner", "page"), ("case-system", "api")]:
        mismatches.append(("views", views))
    assert mismatches == [], report(mismatches)

