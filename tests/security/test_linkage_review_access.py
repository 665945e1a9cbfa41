"""Record linkage review and merging, by role and authority: who sees which items, what a reviewer sees of a
shielded candidate, every decision, merge and unmerge audited, one winner of two decisions, refusals as 4xx,
and a merged ContactPoint ID leading to the surviving child under the same visibility rules.

Review items are made directly through the registry (two children and a ReviewItem with its candidates), so
these tests do not depend on the linker.
"""
from __future__ import annotations

import threading

from sqlalchemy import select

from registry import writes
from registry.models import Child, NonMatch, ReviewCandidate, ReviewItem

from ..integration.helpers import years_ago
from .conftest import LA1, LA2, PURPOSE, refusal, report

ROLES_WITHOUT_REVIEW = ("practitioner", "auditor", "relevance", "api")
# Weights as the linkage model stores them: each compared field's level and weight (log2 m/u).
CONTRIBUTIONS = {"given_name": {"level": "exact", "weight": 3.5}, "family_name": {"level": "exact", "weight": 4.25},
                 "date_of_birth": {"level": "one_slip", "weight": 2.0}, "postcode": {"level": "exact", "weight": 6.5},
                 "address_line_1": {"level": "different", "weight": -1.5}, "nhs_number": {"level": "missing",
                                                                                          "weight": 0.0}}
PRIOR = -8.0


def _new_child(world, given="Amara", family="Okafor", la=LA1, postcode="M1 1AE", day=14) -> int:
    with world.sessions.begin() as session:
        child = writes.create_child(session, given_name=given, family_name=family, date_of_birth=years_ago(6, day=day),
                                    gender="female", address_line_1="1 New Row", postcode=postcode, la_code=la)
        session.flush()
        return child.id


def _item(world, child_id: int, *candidate_labels: str) -> int:
    """An open review item for ``child_id`` with the world's children ``candidate_labels`` as candidates."""
    with world.sessions.begin() as session:
        ids = {cp_id: child_id for cp_id, child_id in session.execute(select(Child.cp_id, Child.id))}
        item = ReviewItem(child_id=child_id, status="open", candidates=[
            ReviewCandidate(child_id=ids[world.ids[label]], contributions=CONTRIBUTIONS,
                            match_weight=PRIOR + sum(v["weight"] for v in CONTRIBUTIONS.values()))
            for label in candidate_labels])
        session.add(item)
        session.flush()
        return item.id


def _cp_id(world, child_id: int) -> str:
    with world.sessions() as session:
        return session.get(Child, child_id).cp_id


def _new_child_of(world, item_id: int) -> str:
    """The ContactPoint ID of the child an item was made for."""
    with world.sessions() as session:
        return session.get(Child, session.get(ReviewItem, item_id).child_id).cp_id


def _status(world, cp_id: str) -> tuple[str, str | None]:
    with world.sessions() as session:
        child = session.scalar(select(Child).where(Child.cp_id == cp_id))
        into = session.get(Child, child.merged_into_id).cp_id if child.merged_into_id else None
        return child.status, into


def _items(world):
    """Item "la1": a new LA1 child that may be LA2's shielded child or LA1's open1; item "la2": a new LA2 child
    that may be LA2's open2."""
    la1_new = _new_child(world)
    la2_new = _new_child(world, "Kwame", "Mensah", LA2, "L1 8JQ", day=5)
    return {"la1": _item(world, la1_new, "shielded2", "open1"), "la2": _item(world, la2_new, "open2")}


def _decide(caller, item_id, decision, version=1, candidate=None):
    body = {"decision": decision, "expected_version": version}
    if candidate:
        body["candidate_cp_id"] = candidate
    return caller.api_post(f"/api/v1/linkage/review/{item_id}/decision", body)


def test_only_la_teams_and_national_administrators_reach_review_and_merging_and_refusals_are_audited(world):
    items = _items(world)
    open1, pending = world.ids["open1"], world.ids["pending"]
    requests = {
        "queue page": ("GET", "/admin/linkage/review", None),
        "item page": ("GET", f"/admin/linkage/review/{items['la1']}", None),
        "decision page": ("POST", f"/admin/linkage/review/{items['la1']}", {"decision": "skip",
                                                                          "expected_version": "1"}),
        "merge page": ("POST", f"/admin/linkage/children/{open1}/merge", {"other_cp_id": pending}),
        "unmerge page": ("POST", f"/admin/linkage/children/{open1}/unmerge", {}),
        "api queue": ("GET", "/api/v1/linkage/review", None),
        "api item": ("GET", f"/api/v1/linkage/review/{items['la1']}", None),
        "api decision": ("POST", f"/api/v1/linkage/review/{items['la1']}/decision",
                         {"decision": "skip", "expected_version": 1}),
        "api merge": ("POST", f"/api/v1/children/{open1}/merge", {"other_cp_id": pending}),
        "api unmerge": ("POST", f"/api/v1/children/{open1}/unmerge", None),
    }
    needs = {name: "merge_children" if "merge" in name else "review_linkage" for name in requests}
    mismatches = []
    for label in ROLES_WITHOUT_REVIEW:
        caller = world.caller(label)
        for name, (method, path, body) in requests.items():
            if label == "api" and not path.startswith("/api/"):
                continue  # a token never opens a page (tests/security/test_authorisation_matrix.py)
            before = world.mark()
            if method == "GET":
                response = caller.api_get(path) if path.startswith("/api/") else caller.get(path)
            elif path.startswith("/api/"):
                response = caller.api_post(path, body)
            else:
                response = caller.form_post(path, body)
            expected = [(caller.username, "request_refused", 403, f"role_may_not_{needs[name]}", None)]
            if response.status_code != 403 or refusal(world.events_since(before)) != expected:
                mismatches.append((label, name, response.status_code, refusal(world.events_since(before))))
    for label in ("la1", "la2", "national"):
        for path in ("/admin/linkage/review", "/api/v1/linkage/review"):
            caller = world.caller(label)
            response = caller.api_get(path) if path.startswith("/api/") else caller.get(path)
            if response.status_code != 200:
                mismatches.append((label, path, response.status_code))
    assert mismatches == [], report(mismatches)
    with world.sessions() as session:  # nothing was decided or merged by the refused calls
        assert session.get(ReviewItem, items["la1"]).status == "open"
        assert session.scalar(select(Child.status).where(Child.cp_id == open1)) == "active"


def test_an_la_team_sees_and_decides_only_items_touching_its_authority(world):
    items = _items(world)
    queues = {label: [e["id"] for e in world.caller(label).api_get("/api/v1/linkage/review").get_json()["items"]]
              for label in ("la1", "la2", "national")}
    assert queues == {"la1": [items["la1"]], "la2": [items["la1"], items["la2"]],
                      "national": [items["la1"], items["la2"]]}
    la1 = world.caller("la1")
    page = la1.get("/admin/linkage/review").get_data(as_text=True)
    assert f"item-{items['la1']}" in page and f"item-{items['la2']}" not in page

    before = world.mark()
    assert la1.api_get(f"/api/v1/linkage/review/{items['la2']}").status_code == 403
    assert la1.get(f"/admin/linkage/review/{items['la2']}").status_code == 403
    assert _decide(la1, items["la2"], "different").status_code == 403
    events = world.events_since(before)
    assert [action for _, action, _ in events] == ["request_refused"] * 3  # no child was read, nothing decided
    with world.sessions() as session:
        assert session.get(ReviewItem, items["la2"]).status == "open"
    assert world.caller("la2").api_get(f"/api/v1/linkage/review/{items['la2']}").status_code == 200
    assert world.caller("la1").api_get("/api/v1/linkage/review/999999").status_code == 404


def test_another_authoritys_shielded_candidate_is_shown_redacted_with_its_location_evidence_withheld(world):
    items = _items(world)
    shielded2, open1 = world.specs["shielded2"], world.ids["open1"]
    la1 = world.caller("la1")
    body = la1.api_get(f"/api/v1/linkage/review/{items['la1']}").get_json()
    page = la1.get(f"/admin/linkage/review/{items['la1']}").get_data(as_text=True)
    by_id = {c["record"]["cp_id"]: c for c in body["candidates"]}
    hidden, shown = by_id[world.ids["shielded2"]], by_id[open1]

    assert hidden["record"]["redacted"] is True and hidden["record"]["shielded"] is True
    assert hidden["record"]["address"] is None and hidden["record"]["other_names"] == []
    assert (hidden["record"]["given_name"], hidden["record"]["family_name"]) == (shielded2.given, shielded2.family)
    fields = {f["field"]: f for f in hidden["fields"]}
    assert fields["postcode"] == {"field": "postcode", "level": None, "weight": None, "withheld": True}
    assert fields["address_line_1"]["withheld"] is True
    assert fields["family_name"] == {"field": "family_name", "level": "exact", "weight": 4.25, "withheld": False}
    assert hidden["match_weight"] is None  # the total would give the withheld weights away
    assert hidden["shown_weight"] == 3.5 + 4.25 + 2.0 + 0.0
    leaks = [s for s in shielded2.location_strings if s in page or s in str(body)]
    assert leaks == []

    assert shown["record"]["redacted"] is False and shown["record"]["address"]["postcode"] == "LS6 2AB"
    assert {f["field"]: f["level"] for f in shown["fields"]}["postcode"] == "exact"
    assert shown["match_weight"] == PRIOR + 14.75

    # Its own authority's team and national administrators see the whole pair.
    for label in ("la2", "national"):
        whole = world.caller(label).api_get(f"/api/v1/linkage/review/{items['la1']}").get_json()
        candidate = next(c for c in whole["candidates"] if c["record"]["cp_id"] == world.ids["shielded2"])
        assert candidate["record"]["redacted"] is False, label
        assert candidate["record"]["address"]["postcode"] == shielded2.postcode, label
        assert candidate["match_weight"] == PRIOR + 14.75, label


def test_reading_an_item_is_audited_as_a_view_of_every_child_on_it(world):
    items, la1 = _items(world), world.caller("la1")
    before = world.mark()
    assert la1.get(f"/admin/linkage/review/{items['la1']}").status_code == 200
    events = world.events_since(before)
    new_cp_id = _new_child_of(world, items["la1"])
    views = [(actor, action, d["cp_id"], d["purpose"], d["review_item"], d["child_la"], d["redacted"])
             for actor, action, d in events]
    assert views == [
        ("lee.la1", "record_view", new_cp_id, "linkage_review", items["la1"], LA1, False),
        ("lee.la1", "record_view", world.ids["shielded2"], "linkage_review", items["la1"], LA2, True),
        ("lee.la1", "record_view", world.ids["open1"], "linkage_review", items["la1"], LA1, False)]


def test_every_decision_is_audited_with_the_item_both_ids_and_the_decision(world):
    items = _items(world)
    la1, national = world.caller("la1"), world.caller("national")
    la1_new, la2_new = _new_child_of(world, items["la1"]), _new_child_of(world, items["la2"])
    before = world.mark()
    different = _decide(la1, items["la1"], "different", candidate=world.ids["open1"])
    assert different.status_code == 200, different.get_json()
    assert different.get_json()["status"] == "different"
    merged = _decide(national, items["la2"], "merge")  # one candidate: no need to name it
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["survivor_cp_id"] == world.ids["open2"]  # the older ContactPoint ID is kept

    decided = [(actor, d["review_item"], d["decision"], d["cp_id"], d["other_cp_id"], d["survivor_cp_id"],
                d["child_la"], d["other_child_la"])
               for actor, action, d in world.events_since(before) if action == "linkage_review_decided"]
    assert decided == [
        ("lee.la1", items["la1"], "different", la1_new, world.ids["open1"], None, LA1, LA1),
        ("nat.admin", items["la2"], "merge", la2_new, world.ids["open2"], world.ids["open2"], LA2, LA2)]
    with world.sessions() as session:
        assert session.scalar(select(NonMatch).where(NonMatch.decided_by == "lee.la1")) is not None
    assert _status(world, la2_new) == ("merged", world.ids["open2"])

    # A decision between two authorities' children is in both teams' audit views.
    third = _item(world, _new_child(world, day=9), "shielded2")
    assert _decide(national, third, "different").status_code == 200
    for label in ("la1", "la2"):
        page = world.caller(label).get(f"/audit?user=nat.admin&child={world.ids['shielded2']}")
        assert "linkage review decided" in page.get_data(as_text=True), label


def test_two_decisions_on_one_item_get_one_winner_and_one_clear_conflict(world):
    items = _items(world)
    la2, national = world.caller("la2"), world.caller("national")
    # Both read the item at version 1; the second decision arrives after the first.
    for caller in (la2, national):
        assert caller.api_get(f"/api/v1/linkage/review/{items['la1']}").get_json()["version"] == 1
    first = _decide(la2, items["la1"], "different")
    second = _decide(national, items["la1"], "merge", candidate=world.ids["open1"])
    assert (first.status_code, second.status_code) == (200, 409)
    assert "someone else decided this item" in second.get_json()["message"]
    page = national.form_post(f"/admin/linkage/review/{items['la1']}",
                              {"decision": f"merge:{world.ids['open1']}", "expected_version": "1"})
    assert page.status_code == 409 and "Someone else decided this item" in page.get_data(as_text=True)

    # Truly at once: two people post at the same moment; exactly one wins.
    answers = []
    barrier = threading.Barrier(2)

    def post(caller, decision):
        barrier.wait()
        answers.append(_decide(caller, items["la2"], decision).status_code)
    threads = [threading.Thread(target=post, args=(la2, "different")),
               threading.Thread(target=post, args=(national, "merge"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 409]
    with world.sessions() as session:
        statuses = [session.get(ReviewItem, items[key]).status for key in ("la1", "la2")]
    assert statuses[0] == "different" and statuses[1] in ("different", "merged")
    # One decision per item is on record (one event per candidate pair): the losers changed nothing.
    decided = sorted((d["review_item"], d["decision"], d["other_cp_id"]) for _, action, d in world.events_since(0)
                     if action == "linkage_review_decided")
    winner = "different" if statuses[1] == "different" else "merge"
    assert decided == sorted([(items["la1"], "different", world.ids["shielded2"]),
                              (items["la1"], "different", world.ids["open1"]),
                              (items["la2"], winner, world.ids["open2"])])


def test_merging_is_refused_outside_both_authorities_with_itself_and_when_merged_already(world):
    la1 = world.caller("la1")
    open1, open2, shielded2 = world.ids["open1"], world.ids["open2"], world.ids["shielded2"]
    before = world.mark()
    outside = la1.api_post(f"/api/v1/children/{open2}/merge", {"other_cp_id": shielded2})
    assert outside.status_code == 403
    assert refusal(world.events_since(before)) == [("lee.la1", "request_refused", 403, "not_allowed", None)]
    assert la1.form_post(f"/admin/linkage/children/{open2}/merge", {"other_cp_id": shielded2}).status_code == 403
    assert _status(world, open2) == ("active", None) and _status(world, shielded2) == ("active", None)

    itself = la1.api_post(f"/api/v1/children/{open1}/merge", {"other_cp_id": open1})
    assert itself.status_code == 400 and list(itself.get_json()["errors"]) == ["other_cp_id"]
    wrong_check_digit = open1[:-1] + str((int(open1[-1]) + 1) % 10)
    assert la1.api_post(f"/api/v1/children/{open1}/merge", {"other_cp_id": wrong_check_digit}).status_code == 400
    assert la1.api_post(f"/api/v1/children/{open1}/merge", {"other_cp_id": world.unknown_id}).status_code == 404
    assert la1.api_post(f"/api/v1/children/{open1}/merge", {"other": open1}).status_code == 400  # unknown field

    newer = _cp_id(world, _new_child(world))
    merged = la1.api_post(f"/api/v1/children/{newer}/merge", {"other_cp_id": open1})
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json() | {"merged_at": None} == {"survivor_cp_id": open1, "merged_cp_id": newer,
                                                       "merged_at": None, "unmerged_at": None}
    again = la1.api_post(f"/api/v1/children/{newer}/merge", {"other_cp_id": world.ids["pending"]})
    assert again.status_code == 409 and f"{newer} was already merged into {open1}" in again.get_json()["message"]
    page = la1.form_post(f"/admin/linkage/children/{world.ids['pending']}/merge", {"other_cp_id": newer})
    assert page.status_code == 409 and "already merged" in page.get_data(as_text=True)


def test_unmerging_is_refused_for_a_child_never_merged_and_outside_both_authorities(world):
    la1, la2 = world.caller("la1"), world.caller("la2")
    open1 = world.ids["open1"]
    never = la1.api_post(f"/api/v1/children/{open1}/unmerge", None)
    assert never.status_code == 409 and "not a merged record" in never.get_json()["message"]
    newer = _cp_id(world, _new_child(world))
    assert la1.api_post(f"/api/v1/children/{newer}/merge", {"other_cp_id": open1}).status_code == 200
    assert la2.api_post(f"/api/v1/children/{newer}/unmerge", None).status_code == 403
    assert _status(world, newer) == ("merged", open1)

    before = world.mark()
    undone = la1.api_post(f"/api/v1/children/{newer}/unmerge", None)
    assert undone.status_code == 200, undone.get_json()
    assert (undone.get_json()["survivor_cp_id"], undone.get_json()["merged_cp_id"]) == (open1, newer)
    assert undone.get_json()["unmerged_at"] is not None
    assert _status(world, newer) == ("active", None)
    events = [(actor, action, d["cp_id"], d["survivor_cp_id"], d["merged_cp_id"])
              for actor, action, d in world.events_since(before)]
    assert events == [("lee.la1", "children_unmerged", newer, open1, newer)]
    assert la1.api_post(f"/api/v1/children/{newer}/unmerge", None).status_code == 409  # undone already


def test_a_merge_is_audited_with_both_ids(world):
    la2 = world.caller("la2")
    newer = _cp_id(world, _new_child(world, "Kwame", "Mensah", LA2, "L1 8JQ", day=5))
    before = world.mark()
    assert la2.api_post(f"/api/v1/children/{world.ids['open2']}/merge", {"other_cp_id": newer}).status_code == 200
    events = [(actor, action, d["cp_id"], d["other_cp_id"], d["survivor_cp_id"], d["merged_cp_id"], d["child_la"])
              for actor, action, d in world.events_since(before)]
    assert events == [("lou.la2", "children_merged", world.ids["open2"], newer, world.ids["open2"], newer, LA2)]


def test_a_merged_id_leads_to_the_survivor_under_the_same_visibility_rules(world):
    world.index()
    shielded2 = world.specs["shielded2"]
    newer = _cp_id(world, _new_child(world, "Amara", "Okafor", LA2, "B1 1AA", day=14))
    assert world.caller("la2").api_post(f"/api/v1/children/{world.ids['shielded2']}/merge",
                                        {"other_cp_id": newer}).status_code == 200
    world.sync()
    survivor = world.ids["shielded2"]

    practitioner = world.caller("practitioner")
    before = world.mark()
    response = practitioner.view_api(newer)
    record = response.get_json()
    assert response.status_code == 200
    assert (record["cp_id"], record["merged_from"], record["redacted"]) == (survivor, newer, True)
    assert response.headers["Content-Location"] == f"/api/v1/children/{survivor}?purpose={PURPOSE}"
    assert [s for s in shielded2.location_strings if s in response.get_data(as_text=True)] == []
    view = [d for _, action, d in world.events_since(before) if action == "record_view"]
    assert [(d["cp_id"], d["merged_from"], d["redacted"]) for d in view] == [(survivor, newer, True)]

    prompt = practitioner.get(f"/children/{newer}")
    assert prompt.status_code == 302 and prompt.headers["Location"].endswith(f"/children/{survivor}")
    landed = practitioner.get(prompt.headers["Location"]).get_data(as_text=True)
    assert f"{newer} was merged into {survivor}" in landed
    page = practitioner.view_page(newer).get_data(as_text=True)
    assert f"{newer} was merged into {survivor}" in page and 'id="address"' not in page
    assert world.caller("la2").view_api(newer).get_json()["redacted"] is False  # its own team sees it whole

    found = practitioner.api_post("/api/v1/search", {"cp_id": newer}).get_json()
    assert [r["cp_id"] for r in found["results"]] == [survivor]
    assert found["results"][0]["shielded"] is True
