"""API tokens: every way a bearer credential can be wrong gets its own refusal, and each is audited."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update

from access_control import InvalidInput, NotAllowed, Viewer, accounts, tokens
from access_control.models import ApiToken, AuditEvent

from ..support.accounts import OPERATOR, PASSWORD, add_token, csrf_token
from .conftest import ACTING_FOR, ACTING_FOR_LABEL, PURPOSE, refusal, report

MESSAGES = {
    "not_signed_in": "sign-in required: no valid credentials were given",
    "scheme": "use 'Authorization: Bearer <token>'",
    "token_malformed": "the bearer token is malformed",
    "token_unknown": "the bearer token is not valid",
    "token_revoked": "the bearer token has been revoked",
    "token_expired": "the bearer token has expired",
    "token_account_inactive": "the account this token belongs to is not active",
}
ACTING_FOR_MESSAGE = ("every API request must name the practitioner it acts for, by their username, in the "
                      "X-Acting-For header")
ACTING_FOR_UNKNOWN_MESSAGE = ("X-Acting-For does not name an active practitioner this system may act for (of its "
                              "own organisation, or of its own authority's)")


def _token_id(text: str) -> str:
    return text.split("_")[1]


def test_every_bad_credential_is_refused_with_its_own_reason_and_audited(world, sessions):
    world.index()
    good = world.api_token
    expired = add_token(sessions, "case-system", days=1)
    with sessions.begin() as db:
        db.execute(update(ApiToken).where(ApiToken.token_id == _token_id(expired))
                   .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    revoked = add_token(sessions, "case-system")
    with sessions.begin() as db:
        tokens.revoke(db, OPERATOR, _token_id(revoked))
    retired = add_token(sessions, "retired-system")
    with sessions.begin() as db:
        accounts.set_disabled(db, OPERATOR, "retired-system", True)
    search_only = add_token(sessions, "case-system", scopes=("search",))
    view_only = add_token(sessions, "case-system", scopes=("view",))
    prefix, token_id, secret = good.split("_", 2)
    wrong_secret = f"{prefix}_{token_id}_{secrets.token_urlsafe(32)}"
    unknown_id = f"{prefix}_{secrets.token_hex(6)}_{secret}"

    cp_id = world.ids["open1"]
    search = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}
    anonymous = ("anonymous", "request_refused", 401)
    # name: (Authorization header or None, (actor, action, status), reason)
    credentials = {
        "no credentials": (None, anonymous, "not_signed_in"),
        "basic scheme": ("Basic Y2FzZS1zeXN0ZW06cGFzc3dvcmQ=", anonymous, "scheme"),
        "bearer without a token": ("Bearer", anonymous, "scheme"),
        "not a token": ("Bearer not-a-token", anonymous, "token_malformed"),
        "token with a tail": (f"Bearer {good}x", anonymous, "token_malformed"),
        "token cut short": (f"Bearer {good[:-1]}", anonymous, "token_malformed"),
        "sql in the token": ("Bearer cp_' OR '1'='1", anonymous, "token_malformed"),
        "wrong secret": (f"Bearer {wrong_secret}", anonymous, "token_unknown"),
        "unknown token id": (f"Bearer {unknown_id}", anonymous, "token_unknown"),
        "revoked": (f"Bearer {revoked}", anonymous, "token_revoked"),
        "expired": (f"Bearer {expired}", anonymous, "token_expired"),
        "account disabled": (f"Bearer {retired}", anonymous, "token_account_inactive"),
    }
    mismatches = []
    for name, (authorization, (actor, action, status), reason) in credentials.items():
        for method, path, body in (("POST", "/api/v1/search", search),
                                   ("GET", f"/api/v1/children/{cp_id}?purpose={PURPOSE}", None)):
            client = world.app.test_client()
            headers = {"X-Acting-For": ACTING_FOR, **({"Authorization": authorization} if authorization else {})}
            mark = world.mark()
            response = client.open(path, method=method, json=body, headers=headers)
            audit_reason = "token_malformed" if reason == "scheme" else reason
            want = (status, {"message": MESSAGES[reason], "errors": {}},
                    [(actor, action, status, audit_reason, None)])
            got = (response.status_code, response.get_json(), refusal(world.events_since(mark)))
            if got != want:
                mismatches.append((name, method, want, got))

    # A valid token that lacks the scope, or a request that does not say whom it acts for.
    acting_for_refused = (400, {"message": ACTING_FOR_MESSAGE, "errors": {"X-Acting-For": ["is required"]}},
                          [("case-system", "request_refused", 400, "acting_for_missing", ["X-Acting-For"])])
    # X-Acting-For is a username now: anything else names nobody the system may act for.
    acting_for_unknown = (403, {"message": ACTING_FOR_UNKNOWN_MESSAGE,
                                "errors": {"X-Acting-For": ["is not a practitioner this system may act for"]}},
                          [("case-system", "request_refused", 403, "acting_for_unknown", ["X-Acting-For"])])
    cases = [
        ("search-only token views a record", search_only, ACTING_FOR, "GET", None,
         (403, {"message": "this token's scopes (search) do not include 'view'", "errors": {}},
          [("case-system", "request_refused", 403, "token_scope", None)])),
        ("view-only token searches", view_only, ACTING_FOR, "POST", search,
         (403, {"message": "this token's scopes (view) do not include 'search'", "errors": {}},
          [("case-system", "request_refused", 403, "token_scope", None)])),
        ("search-only token searches", search_only, ACTING_FOR, "POST", search, (200, None, ["search"])),
        ("view-only token views a record", view_only, ACTING_FOR, "GET", None, (200, None, ["record_view"])),
        ("no X-Acting-For", good, None, "POST", search, acting_for_refused),
        ("blank X-Acting-For", good, "   ", "GET", None, acting_for_refused),
        ("one-letter X-Acting-For", good, "P", "POST", search, acting_for_unknown),
        ("X-Acting-For with a control character", good, "Pat\x07Jones", "GET", None, acting_for_unknown),
        ("X-Acting-For too long", good, "P" * 201, "POST", search, acting_for_unknown),
        ("search and view token registers an involvement", good, ACTING_FOR, "INVOLVE", {"role": "School nurse"},
         (403, {"message": "this token's scopes (search view) do not include 'involvements'", "errors": {}},
          [("case-system", "request_refused", 403, "token_scope", None)])),
    ]
    paths = {"POST": "/api/v1/search", "GET": f"/api/v1/children/{cp_id}?purpose={PURPOSE}",
             "INVOLVE": f"/api/v1/children/{cp_id}/involvements"}
    for name, token, acting_for, method, body, want in cases:
        client = world.app.test_client()
        headers = {"Authorization": f"Bearer {token}", **({"X-Acting-For": acting_for} if acting_for else {})}
        path = paths[method]
        method = "POST" if method == "INVOLVE" else method
        mark = world.mark()
        response = client.open(path, method=method, json=body, headers=headers)
        events = world.events_since(mark)
        if want[0] == 200:
            got = (response.status_code, None, [action for _, action, _ in events])
            if events and events[0][2]["on_behalf_of"] != ACTING_FOR_LABEL:
                mismatches.append((name, "on_behalf_of", events[0][2]["on_behalf_of"]))
        else:
            got = (response.status_code, response.get_json(), refusal(events))
        if got != want:
            mismatches.append((name, want, got))

    # Secrets are never stored or written to the trail: only their hash and their public id.
    with sessions() as db:
        stored = [row.secret_hash for row in db.scalars(select(ApiToken))]
        trail = " ".join(e.details for e in db.scalars(select(AuditEvent)))
    for text in (good, expired, revoked, retired, search_only, view_only):
        secret_part = text.split("_", 2)[2]
        if secret_part in trail or secret_part in stored:
            mismatches.append(("secret stored or audited", _token_id(text)))
    assert mismatches == [], report(mismatches)


def test_only_national_administrators_issue_tokens_and_only_to_api_clients(world, sessions):
    users = {label: world.account(label).username for label in ("practitioner", "national", "indexer")}
    # The indexer role has no way in at all: no password to sign in with, and no token.
    client = world.app.test_client()
    mark = world.mark()
    response = client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "username": users["indexer"],
                                           "password": PASSWORD})
    assert response.status_code == 401
    assert [(actor, action, d.get("reason")) for actor, action, d in world.events_since(mark)] == [
        ("index.er", "login_failed", "unknown_user")]
    refused = []
    with sessions() as db:
        for label, username in users.items():  # tokens are for api_client users only
            try:
                tokens.create(db, OPERATOR, username, ["search", "view"], 30)
                refused.append((label, "issued"))
            except InvalidInput as exc:
                refused.append((label, exc.field))
        la_team = Viewer(username="lee.la1", display_name="Lee", role="la_management", organisation="E09000001",
                         la_code="E09000001")
        for actor, scopes, days, expected in (
                (la_team, ["search"], 30, NotAllowed), (OPERATOR, ["search", "admin"], 30, InvalidInput),
                (OPERATOR, [], 30, InvalidInput), (OPERATOR, ["search"], 0, InvalidInput),
                (OPERATOR, ["search"], 366, InvalidInput)):
            try:
                tokens.create(db, actor, "case-system", scopes, days)
                refused.append((actor.role, scopes, days, "issued"))
            except (InvalidInput, NotAllowed) as exc:
                if not isinstance(exc, expected):
                    refused.append((actor.role, scopes, days, type(exc).__name__))
        db.rollback()
    assert refused == [("practitioner", "user"), ("national", "user"), ("indexer", "user")]
