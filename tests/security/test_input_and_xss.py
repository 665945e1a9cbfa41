"""Hostile input: odd record IDs, smuggled fields, oversized bodies and stored script."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

from markupsafe import escape
from sqlalchemy import func, select

from registry import cpid, writes
from registry.models import ChangeLog, Child

from ..integration.helpers import years_ago
from .conftest import NOT_AVAILABLE, PURPOSE, refusal, report

INVALID_REQUEST = "the request is not valid"


def _with_wrong_check_digit(cp_id: str) -> str:
    return cp_id[:9] + str((int(cp_id[9]) + 1) % 10)


def test_record_ids_are_checked_before_anything_is_looked_up(world):
    open1 = world.ids["open1"]
    api, practitioner, la1 = world.caller("api"), world.caller("practitioner"), world.caller("la1")
    fullwidth = open1.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    bad_ids = [_with_wrong_check_digit(open1), "1' OR '1'='1", "1 OR 1=1", "1;DROP TABLE children", "12345",
               open1 + "0", "abcdefghij", fullwidth, "%00" + open1, "${jndi:ldap:x}", "<script>", "*", "..",
               "000000000x", " " * 3]
    mismatches = []
    for bad in bad_ids:
        path_id = quote(bad, safe="")
        for who, caller, method, path, body in (
                ("api", api, "GET", f"/api/v1/children/{path_id}?purpose={PURPOSE}", None),
                ("practitioner", practitioner, "GET", f"/api/v1/children/{path_id}?purpose={PURPOSE}", None),
                ("la1", la1, "POST", f"/api/v1/children/{path_id}/shielding",
                 {"shielded": True, "reason_category": "other"})):
            mark = world.mark()
            response = (caller.api_get(path) if method == "GET" else caller.api_post(path, body))
            body_json = response.get_json(silent=True)
            got = (response.status_code, body_json and body_json.get("message"),
                   body_json and list(body_json["errors"]), refusal(world.events_since(mark)))
            want = (400, INVALID_REQUEST, ["cp_id"], [(caller.username, "request_refused", 400, "invalid_input",
                                                       ["cp_id"])])
            if got != want:
                mismatches.append((repr(bad), who, method, want, got))
        mark = world.mark()
        page = practitioner.view_page(path_id)
        got = (page.status_code, refusal(world.events_since(mark)))
        want = (400, [("pat.practitioner", "request_refused", 400, "invalid_input", ["cp_id"])])
        if got != want:
            mismatches.append((repr(bad), "page", want, got))

    # The printed forms of an ID are the same ID, and open the same record, never another one.
    for printed in (cpid.display(open1), f"{open1[:3]}-{open1[3:6]}-{open1[6:]}"):
        response = api.get(f"/api/v1/children/{quote(printed)}?purpose={PURPOSE}")
        if (response.status_code, (response.get_json() or {}).get("cp_id")) != (200, open1):
            mismatches.append((printed, response.status_code, response.get_data(as_text=True)[:200]))

    # Valid IDs nobody may open: each answer is the same "not available" body.
    hidden = [world.ids["archived1"], world.ids["archived2"], world.unknown_id,
              next(i for i in iter(cpid.generate, None) if i not in world.ids.values() and i != world.unknown_id)]
    for cp_id in hidden:
        response = api.view_api(cp_id)
        if (response.status_code, response.get_json()) != (404, NOT_AVAILABLE):
            mismatches.append((cp_id, response.status_code, response.get_json()))
    assert mismatches == [], report(mismatches)


def _counts(sessions) -> tuple:
    with sessions() as db:
        return (db.scalar(select(func.count()).select_from(ChangeLog)),
                sorted(db.execute(select(Child.cp_id, Child.shielded, Child.shielding_reason, Child.status)).all()))


def test_unknown_fields_are_refused_by_name_and_nothing_but_the_refusal_is_written(world, sessions):
    world.index()
    api, la1, practitioner = world.caller("api"), world.caller("la1"), world.caller("practitioner")
    open1, shielded1 = world.ids["open1"], world.ids["shielded1"]
    search = {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": world.specs["open1"].dob.isoformat()}
    secret = "disclosed abuse at home"
    smuggled = {"notes": secret, "shielded": False, "status": "archived", "local_authority_code": "E09000002",
                "size": 1000, "from": 0, "query": {"match_all": {}}, "filter": [], "__proto__": {"admin": True},
                "_source": ["postcode"], "include_shielded": True, "Given_Name": "Amara"}
    shielding = {"shielded": True, "reason_category": "other"}
    requests = []
    for field, value in smuggled.items():
        requests.append(("api search", api, "/api/v1/search", {**search, field: value}, field))
        requests.append(("session search", practitioner, "/api/v1/search", {**search, field: value}, field))
    for field, value in {"cp_id": shielded1, "notes": secret, "la_code": "E09000002", "status": "archived",
                         "shielding_reason": "other"}.items():
        requests.append(("shielding", la1, f"/api/v1/children/{open1}/shielding", {**shielding, field: value}, field))
    requests += [
        ("shielding without a reason", la1, f"/api/v1/children/{open1}/shielding", {"shielded": True},
         "reason_category"),
        ("shielding with an unknown reason", la1, f"/api/v1/children/{open1}/shielding",
         {"shielded": True, "reason_category": secret}, "reason_category"),
        ("shielding without the flag", la1, f"/api/v1/children/{open1}/shielding", {"reason_category": "other"},
         "shielded"),
    ]
    before = _counts(sessions)
    mark = world.mark()
    mismatches = []
    for name, caller, path, body, field in requests:
        seq = world.mark()
        response = caller.api_post(path, body)
        got_body = response.get_json()
        got = (response.status_code, got_body["message"], sorted(got_body["errors"]),
               refusal(world.events_since(seq)))
        want = (400, INVALID_REQUEST, [field], [(caller.username, "request_refused", 400, "invalid_input", [field])])
        if got != want:
            mismatches.append((name, field, want, got))
    for query, field in ((f"purpose={PURPOSE}&include=address", "include"), (f"purpose={PURPOSE}&shielded=false",
                                                                            "shielded"),
                         ("purpose=curiosity", "purpose"), ("", "purpose")):
        seq = world.mark()
        response = api.get(f"/api/v1/children/{shielded1}?{query}")
        got = (response.status_code, response.get_json(), refusal(world.events_since(seq)))
        want_reason = ("case-system", "request_refused", 400, "invalid_purpose", [field])
        if (got[0], sorted(got[1]["errors"]), got[2]) != (400, [field], [want_reason]):
            mismatches.append((query, got))
        elif any(s in response.get_data(as_text=True) for s in world.specs["shielded1"].location_strings):
            mismatches.append((query, "leaked", response.get_data(as_text=True)))
    # Nothing else happened: no child changed, no search or view was recorded, no value was kept.
    if _counts(sessions) != before:
        mismatches.append(("registry changed", before, _counts(sessions)))
    events = world.events_since(mark)
    if {action for _, action, _ in events} != {"request_refused"}:
        mismatches.append(("other events", sorted({action for _, action, _ in events})))
    written = json.dumps([details for _, _, details in events])
    if secret in written or "match_all" in written or "E09000002" in written:
        mismatches.append(("a refused value was written to the audit trail",))
    assert mismatches == [], report(mismatches)


def test_oversized_bodies_are_refused_with_413_and_audited(world):
    practitioner, api, la1 = world.caller("practitioner"), world.caller("api"), world.caller("la1")
    open1 = world.ids["open1"]
    padding = "A" * (64 * 1024)
    requests = [
        ("api search", api, lambda c: c.client.post("/api/v1/search", json={"family_name": padding})),
        ("session api search", practitioner,
         lambda c: c.client.post("/api/v1/search", json={"family_name": padding}, headers={"X-CSRFToken": c.csrf})),
        ("shielding", la1, lambda c: c.client.post(f"/api/v1/children/{open1}/shielding",
                                                  json={"shielded": True, "reason_category": padding},
                                                  headers={"X-CSRFToken": c.csrf})),
        ("search page", practitioner, lambda c: c.form_post("/search", {"family_name": padding})),
        ("record page", practitioner, lambda c: c.form_post(f"/children/{open1}", {"purpose": padding})),
        ("sign-in page", world.caller("anonymous"),
         lambda c: c.form_post("/login", {"username": "someone", "password": padding})),
    ]
    mismatches = []
    for name, caller, send in requests:
        mark = world.mark()
        try:
            response = send(caller)
        except Exception as exc:  # TESTING propagates what production would answer with a 500
            mismatches.append((name, "crashed", repr(exc)))
            continue
        actor = caller.username
        events = refusal(world.events_since(mark))
        got = (response.status_code, events)
        want = (413, [(actor, "request_refused", 413, "body_too_large", None)])
        if got != want:
            mismatches.append((name, want, got))
        if name.startswith(("api", "session", "shielding")):
            body = response.get_json(silent=True)
            if body is None or set(body) != {"message", "errors"}:
                mismatches.append((name, "json error body", response.get_data(as_text=True)[:200]))
    assert mismatches == [], report(mismatches)


PAYLOADS = {
    "given": "<script>alert(1)</script>",
    "middle": '"><img src=x onerror=alert(2)>',
    "address": "</dd><script>alert(3)</script>",
    "carer": "<svg onload=alert(4)>",
    "practitioner": '<a href="javascript:alert(5)">x</a>',
    "school": "<iframe src=javascript:alert(6)>",
}
RAW = ("<script>alert", "<img src=x", "<svg onload", '<a href="javascript:', "<iframe src=javascript")


def _raw_payloads(text: str) -> list[str]:
    return [marker for marker in RAW if marker in text]


def test_stored_and_reflected_script_is_always_escaped(world, sessions):
    with sessions.begin() as session:
        child = writes.create_child(session, given_name=PAYLOADS["given"], middle_names=PAYLOADS["middle"],
                                    family_name="Okafor", date_of_birth=years_ago(5, day=11), gender="male",
                                    address_line_1=PAYLOADS["address"], postcode="LS6 1AA", la_code="E09000001")
        writes.add_carer(session, child, given_name=PAYLOADS["carer"], family_name="Smith",
                         relationship_to_child="father", phone="07700 900999")
        writes.add_involvement(session, child, writes.get_or_create_organisation(session, "service", "XSS-1",
                                                                                 "Play Service"),
                               role="Play worker", start_date=dt.date.today() - dt.timedelta(days=30),
                               practitioner_name=PAYLOADS["practitioner"], phone="0113 496 0000")
        writes.set_setting(session, child, "school", writes.get_or_create_organisation(session, "school", "XSS-S",
                                                                                       PAYLOADS["school"]))
        cp_id = child.cp_id
    world.index()
    practitioner, national, api = world.caller("practitioner"), world.caller("national"), world.caller("api")
    hostile_requester = "<script>alert(7)</script> Evil Org"
    api.client.post("/api/v1/search", json={"family_name": "Okafor", "given_name": "Amara"},
                    headers={"X-Acting-For": hostile_requester})  # names nobody: refused, never recorded
    # A mediated search records its free-text requester, which the audit trail then shows.
    practitioner.search_page({"family_name": "Okafor", "given_name": "Amara", "on_behalf_of": hostile_requester})
    pages = {
        "search results": practitioner.search_page({"family_name": "Okafor",
                                                    "date_of_birth": years_ago(5, day=11).isoformat()}),
        "search form echo": practitioner.search_page({"family_name": "Okafor", "given_name": "Amara",
                                                      "postcode": '"><script>alert(8)</script>'}),
        "record": practitioner.view_page(cp_id),
        "purpose prompt": practitioner.get(f"/children/{cp_id}?on_behalf_of=%3Cscript%3Ealert(9)%3C/script%3E"),
        "audit trail": national.get("/audit"),
    }
    mismatches = []
    for name, response in pages.items():
        text = response.get_data(as_text=True)
        if _raw_payloads(text):
            mismatches.append((name, "unescaped", _raw_payloads(text)))
    # The hostile text is shown (escaped), not silently dropped: the check above looked at the right pages.
    shown = {
        "search results": [PAYLOADS["given"]],
        "record": [PAYLOADS["given"], PAYLOADS["middle"], PAYLOADS["address"], PAYLOADS["carer"],
                   PAYLOADS["practitioner"], PAYLOADS["school"]],
        "audit trail": ["<script>alert(7)</script>"],
    }
    for name, payloads in shown.items():
        text = pages[name].get_data(as_text=True)
        missing = [p for p in payloads if str(escape(p)) not in text]
        if pages[name].status_code != 200 or missing:
            mismatches.append((name, pages[name].status_code, "not shown escaped", missing))
    if pages["search form echo"].status_code != 400:
        mismatches.append(("search form echo", pages["search form echo"].status_code))
    # JSON is JSON: served as such and never sniffed as HTML.
    record = api.view_api(cp_id)
    if (record.headers["Content-Type"], record.headers.get("X-Content-Type-Options"),
            record.get_json()["given_name"]) != ("application/json", "nosniff", PAYLOADS["given"]):
        mismatches.append(("api", dict(record.headers)))
    assert mismatches == [], report(mismatches)
