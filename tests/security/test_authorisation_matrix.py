"""Every role against every page and API call: exactly the permissions table, and every refusal audited."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .conftest import PURPOSE, refusal

# label -> role as the audit trail names it
ROLE_OF = {"practitioner": "practitioner", "la1": "la_management", "la2": "la_management",
           "national": "national_admin", "auditor": "auditor", "relevance": "relevance_admin", "api": "api_client"}


def _requests(world):
    open1, shielded2 = world.ids["open1"], world.ids["shielded2"]
    search = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}
    unshield = {"shielded": False, "reason_category": "other"}  # open1 is not shielded: nothing changes
    reshield = {"shielded": True, "reason_category": "domestic_abuse"}  # shielded2 already is
    return {
        # name: (method, path, how)
        "search form": ("GET", "/", None),
        "search page": ("POST", "/search", {"form": search}),
        "purpose prompt": ("GET", f"/children/{open1}", None),
        "record page": ("POST", f"/children/{open1}", {"form": {"purpose": PURPOSE}}),
        "audit events": ("GET", "/audit", None),
        "unusual usage": ("GET", "/audit/unusual", None),
        "api search": ("POST", "/api/v1/search", {"json": search}),
        "api record": ("GET", f"/api/v1/children/{open1}?purpose={PURPOSE}", None),
        "api shielding own LA1 child": ("POST", f"/api/v1/children/{open1}/shielding", {"json": unshield}),
        "api shielding LA2 child": ("POST", f"/api/v1/children/{shielded2}/shielding", {"json": reshield}),
    }


# The permission each request needs (the refusal reason is role_may_not_<permission>).
NEEDS = {"search form": "search", "search page": "search", "purpose prompt": "view_record",
         "record page": "view_record", "audit events": "review_audit", "unusual usage": "review_audit",
         "api search": "search", "api record": "view_record", "api shielding own LA1 child": "set_shielding",
         "api shielding LA2 child": "set_shielding"}

ALLOWED = {
    "practitioner": {"search form", "search page", "purpose prompt", "record page", "api search", "api record"},
    "la1": {"search form", "search page", "purpose prompt", "record page", "audit events", "unusual usage",
            "api search", "api record", "api shielding own LA1 child"},
    "la2": {"search form", "search page", "purpose prompt", "record page", "audit events", "unusual usage",
            "api search", "api record", "api shielding LA2 child"},
    "national": set(NEEDS),
    "auditor": {"audit events", "unusual usage"},
    "relevance": set(),
    "api": {"api search", "api record"},
}
# Allowed by role but refused for this particular child: an LA team shields only its own children.
NOT_ALLOWED_FOR_CHILD = {("la1", "api shielding LA2 child"), ("la2", "api shielding own LA1 child")}

ACTION_OF = {"search page": "search", "record page": "record_view", "audit events": "audit_reviewed",
             "unusual usage": "unusual_usage_reviewed", "api search": "search", "api record": "record_view",
             "api shielding own LA1 child": "shielding_changed", "api shielding LA2 child": "shielding_changed"}


def _send(caller, method, path, how):
    if method == "GET":
        return caller.get(path)
    if "form" in (how or {}):
        return caller.form_post(path, how["form"])
    return caller.api_post(path, how["json"])


def test_each_role_reaches_exactly_what_its_permissions_allow_and_every_refusal_is_audited(world):
    requests = _requests(world)
    mismatches = []
    for label, allowed in ALLOWED.items():
        caller = world.caller(label)
        username = caller.username
        for name, (method, path, how) in requests.items():
            is_page = not path.startswith("/api/")
            before = world.mark()
            response = _send(caller, method, path, how)
            events = world.events_since(before)
            got = response.status_code
            if label == "api" and is_page:
                # A bearer token never opens a page: pages need a signed-in session.
                expected = 400 if method == "POST" else 302  # a POST without a session has no CSRF token
                reason = "csrf_token_invalid" if method == "POST" else "not_signed_in"
                expected_events = [("anonymous", "request_refused", 400 if method == "POST" else 401, reason, None)]
                if got != expected or refusal(events) != expected_events:
                    mismatches.append((label, name, expected, got, expected_events, refusal(events)))
                continue
            if name in allowed and (label, name) not in NOT_ALLOWED_FOR_CHILD:
                expected = 200
                if name in ACTION_OF:
                    expected_events = [(username, ACTION_OF[name])]
                else:
                    expected_events = []
                got_events = [(actor, action) for actor, action, _ in events]
                if got != expected or got_events != expected_events:
                    mismatches.append((label, name, expected, got, expected_events, got_events))
                continue
            reason = "not_allowed" if (label, name) in NOT_ALLOWED_FOR_CHILD else f"role_may_not_{NEEDS[name]}"
            expected_events = [(username, "request_refused", 403, reason, None)]
            body = response.get_json() if not is_page else None
            if got != 403 or refusal(events) != expected_events:
                mismatches.append((label, name, 403, got, expected_events, refusal(events)))
            elif not is_page and (set(body) != {"message", "errors"} or body["errors"] != {}):
                mismatches.append((label, name, "json error body", body))
            elif is_page and "You cannot do this" not in response.get_data(as_text=True):
                mismatches.append((label, name, "403 page", response.get_data(as_text=True)[:200]))
            elif events and events[0][2]["role"] != ROLE_OF[label]:
                mismatches.append((label, name, "audited role", events[0][2]["role"]))
    assert mismatches == []


def test_without_credentials_pages_redirect_to_sign_in_and_the_api_answers_401(world):
    anonymous = world.caller("anonymous")
    mismatches = []
    for name, (method, path, how) in _requests(world).items():
        before = world.mark()
        response = _send(anonymous, method, path, how)
        events = refusal(world.events_since(before))
        expected_events = [("anonymous", "request_refused", 401, "not_signed_in", None)]
        if path.startswith("/api/"):
            expected = (401, {"message": "sign-in required: no valid credentials were given", "errors": {}})
            got = (response.status_code, response.get_json())
        else:
            # Only a GET is worth coming back to after signing in.
            expected = (302, "/login", {"next": [path + "?"]} if method == "GET" else {})
            location = urlsplit(response.headers.get("Location", ""))
            got = (response.status_code, location.path, parse_qs(location.query))
        if got != expected or events != expected_events:
            mismatches.append((name, expected, got, expected_events, events))
    assert mismatches == []


def test_roles_without_a_searching_role_never_sign_in_to_the_api_or_get_a_token(world, sessions):
    from access_control import InvalidInput
    from access_control import tokens
    from ..support.accounts import OPERATOR, csrf_token

    client = world.app.test_client()
    before = world.mark()
    response = client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "username": "index.er",
                                           "password": "correct horse battery staple"})
    assert response.status_code == 401
    assert [(actor, action, details.get("reason")) for actor, action, details in world.events_since(before)] == [
        ("index.er", "login_failed", "unknown_user")]
    refused = []
    for label in ("practitioner", "la1", "national", "auditor", "relevance", "indexer"):
        with sessions() as db:
            try:
                tokens.create(db, OPERATOR, world.accounts[label].username, ["search", "view"], 30)
            except InvalidInput as exc:
                refused.append((label, exc.field))
    assert refused == [(label, "user") for label in ("practitioner", "la1", "national", "auditor", "relevance",
                                                       "indexer")]
