"""The linkage review pages: the queue, an item side by side with its weights field by field, the decision form
(and its conflict), merge and unmerge from a record page, and the JSON API's answers."""
from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from access_control import accounts
from registry import writes
from registry.models import Child, ReviewCandidate, ReviewItem

from ..support.accounts import add_user, csrf_token, sign_in
from .helpers import years_ago

LA1, LA2 = "E09000001", "E09000002"
CONTRIBUTIONS = {"given_name": {"level": "exact", "weight": 3.5}, "family_name": {"level": "exact", "weight": 4.25},
                 "date_of_birth": {"level": "exact", "weight": 7.0}, "postcode": {"level": "different",
                                                                                 "weight": -1.5}}
PRIOR = -6.0


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Argon2id with the cheapest parameters: these tests sign in often and are not about hashing."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _signed_in(app, sessions, username, role, la_code=LA1):
    organisation = ("local_authority", la_code) if role == "la_management" else ("service", "ADMIN")
    client = app.test_client()
    sign_in(client, sessions, add_user(sessions, username, role=role, la_code=la_code, organisation=organisation))
    return client


def _child(session, given, family, day, postcode, la=LA1) -> Child:
    return writes.create_child(session, given_name=given, family_name=family, date_of_birth=years_ago(7, day=day),
                               gender="male", address_line_1="2 Mill Lane", postcode=postcode, la_code=la)


@pytest.fixture
def item(sessions):
    """An older child (known) and a newer one a source sent, which may be the same child: an open item."""
    with sessions.begin() as session:
        known = _child(session, "Jayden", "Clarke", 11, "LS6 2AB")
        new = _child(session, "Jaden", "Clarke", 11, "LS7 3QE")
        session.flush()
        review = ReviewItem(child_id=new.id, status="open", candidates=[ReviewCandidate(
            child_id=known.id, contributions=CONTRIBUTIONS,
            match_weight=PRIOR + sum(v["weight"] for v in CONTRIBUTIONS.values()))])
        session.add(review)
        session.flush()
        return {"id": review.id, "known": known.cp_id, "new": new.cp_id}


def _post(client, path, data, form_path):
    return client.post(path, data={"csrf_token": csrf_token(client, form_path), **data})


def _status(sessions, cp_id):
    with sessions() as session:
        return session.scalar(select(Child.status).where(Child.cp_id == cp_id))


def test_the_queue_lists_open_items_and_the_menu_leads_to_it_for_la_teams_only(app, sessions, item):
    team = _signed_in(app, sessions, "lee.la1", "la_management")
    practitioner = _signed_in(app, sessions, "pat.practitioner", "practitioner")
    assert 'href="/admin/linkage/review"' in team.get("/").get_data(as_text=True)
    assert 'href="/admin/linkage/review"' not in practitioner.get("/").get_data(as_text=True)
    queue = team.get("/admin/linkage/review")
    text = queue.get_data(as_text=True)
    assert queue.status_code == 200
    assert f'href="/admin/linkage/review/{item["id"]}"' in text and item["new"] in text and item["known"] in text
    assert "Clarke" not in text  # names are read (and audited) on the item, not listed
    assert team.get("/admin/linkage/review?page=0").status_code == 400
    # The team's authority and each child's are named, not given as ONS codes.
    assert "Linkage review for City of London" in text and "(City of London)" in text and LA1 not in text
    assert "la management, City of London)" in text


def test_the_item_page_shows_both_records_side_by_side_and_the_weights_field_by_field(app, sessions, item):
    team = _signed_in(app, sessions, "lee.la1", "la_management")
    page = team.get(f"/admin/linkage/review/{item['id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Jayden" in text and "Jaden" in text and "LS6 2AB" in text and "LS7 3QE" in text
    weights = text[text.index(f'id="weights-{item["known"]}"'):]
    weights = weights[:weights.index("</table>")]
    rows = re.findall(r'<th scope="row" class="govuk-table__header">([^<]+)</th>\s*<td class="govuk-table__cell">'
                      r'([^<]*)</td>', weights)
    assert rows == [("Given name", "exact"), ("Family name", "exact"), ("Date of birth", "exact"),
                    ("Postcode", "different"), ("Starting weight", "How likely any two records are one child"),
                    ("Total", "")]
    for shown in ("+3.50", "+4.25", "+7.00", "-1.50", "-6.00", "+7.25"):
        assert shown in weights, shown
    assert 'name="expected_version" value="1"' in text and 'name="csrf_token"' in text
    assert f'value="merge:{item["known"]}"' in text and 'value="different"' in text and 'value="skip"' in text


def test_a_decision_merges_and_returns_to_the_queue_saying_what_happened(app, sessions, item):
    team = _signed_in(app, sessions, "lee.la1", "la_management")
    path = f"/admin/linkage/review/{item['id']}"
    response = _post(team, path, {"decision": f"merge:{item['known']}", "expected_version": "1"}, path)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/linkage/review"
    queue = team.get("/admin/linkage/review").get_data(as_text=True)
    assert f"{item['new']} was merged into {item['known']}" in queue
    assert "There are no items to review" in queue
    assert (_status(sessions, item["new"]), _status(sessions, item["known"])) == ("merged", "active")


def test_a_decision_someone_else_made_first_is_refused_with_a_clear_message(app, sessions, item):
    team = _signed_in(app, sessions, "lee.la1", "la_management")
    admin = _signed_in(app, sessions, "nat.admin", "national_admin", None)
    path = f"/admin/linkage/review/{item['id']}"
    admin_token = csrf_token(admin, path)  # both have the item open at version 1
    assert _post(team, path, {"decision": "different", "expected_version": "1"}, path).status_code == 302
    late = admin.post(path, data={"csrf_token": admin_token, "decision": f"merge:{item['known']}",
                                  "expected_version": "1"})
    text = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Someone else decided this item since you opened it" in text
    assert "Decided: different" in text and 'id="save-decision"' not in text  # as it is now: no form
    assert _status(sessions, item["new"]) == "active"


def test_a_decision_without_a_choice_is_refused_naming_the_field(app, sessions, item):
    team = _signed_in(app, sessions, "lee.la1", "la_management")
    path = f"/admin/linkage/review/{item['id']}"
    response = _post(team, path, {"expected_version": "1"}, path)
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="error-summary"' in text and 'href="#decision"' in text and "choose whether these are the same" in text
    assert _post(team, path, {"decision": "merge:0000000000", "expected_version": "1"}, path).status_code == 400


def test_the_record_page_offers_merge_and_unmerge_to_the_owning_team_and_they_work(app, sessions, item):
    team = _signed_in(app, sessions, "lee.la1", "la_management")
    other_team = _signed_in(app, sessions, "lou.la2", "la_management", LA2)
    record = f"/children/{item['known']}"
    view = {"purpose": "service_coordination"}
    assert 'id="merge"' in _post(team, record, view, record).get_data(as_text=True)
    assert 'id="merge"' not in _post(other_team, record, view, record).get_data(as_text=True)

    merge = f"/admin/linkage/children/{item['known']}/merge"
    done = _post(team, merge, {"other_cp_id": item["new"]}, record)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Records merged" in text
    assert f"{item['new']} was merged into {item['known']}" in text
    refused = _post(team, merge, {"other_cp_id": item["new"]}, record)
    assert refused.status_code == 409 and "already merged" in refused.get_data(as_text=True)

    survivor = _post(team, record, view, record).get_data(as_text=True)
    assert f'id="unmerge-{item["new"]}"' in survivor
    unmerge = f"/admin/linkage/children/{item['new']}/unmerge"
    assert _post(other_team, unmerge, {}, record).status_code == 403
    undone = _post(team, unmerge, {}, record)
    assert undone.status_code == 200 and "Merge undone" in undone.get_data(as_text=True)
    assert (_status(sessions, item["new"]), _status(sessions, item["known"])) == ("active", "active")
    assert f'id="unmerge-{item["new"]}"' not in _post(team, record, view, record).get_data(as_text=True)


def test_the_api_answers_for_the_queue_an_item_a_decision_and_a_merge(app, sessions, item):
    team = _signed_in(app, sessions, "lee.la1", "la_management")
    headers = {"X-CSRFToken": csrf_token(team, "/")}
    queue = team.get("/api/v1/linkage/review", headers=headers).get_json()
    assert queue == {"items": [{"id": item["id"], "status": "open", "version": 1, "created_at": queue["items"][0][
        "created_at"], "cp_id": item["new"], "local_authority": LA1, "candidates": [
        {"cp_id": item["known"], "local_authority": LA1}]}], "page": 1, "more": False}
    assert team.get("/api/v1/linkage/review?page=x", headers=headers).status_code == 400
    assert team.get("/api/v1/linkage/review?sort=new", headers=headers).status_code == 400

    detail = team.get(f"/api/v1/linkage/review/{item['id']}", headers=headers).get_json()
    assert detail["record"]["cp_id"] == item["new"] and detail["record"]["address"]["postcode"] == "LS7 3QE"
    [candidate] = detail["candidates"]
    assert candidate["match_weight"] == 7.25 and candidate["shown_weight"] == 13.25
    assert [(f["field"], f["level"], f["weight"]) for f in candidate["fields"]] == [
        (name, value["level"], value["weight"]) for name, value in CONTRIBUTIONS.items()]

    url = f"/api/v1/linkage/review/{item['id']}/decision"
    for body, field in (({"decision": "maybe", "expected_version": 1}, "decision"),
                        ({"decision": "skip"}, "expected_version"),
                        ({"decision": "skip", "expected_version": 1, "note": "x"}, "note"),
                        ({"decision": "skip", "expected_version": 1, "candidate_cp_id": item["known"]},
                         "candidate_cp_id")):
        refused = team.post(url, json=body, headers=headers)
        assert (refused.status_code, list(refused.get_json()["errors"])) == (400, [field]), body
    skipped = team.post(url, json={"decision": "skip", "expected_version": 1}, headers=headers)
    assert skipped.status_code == 200 and skipped.get_json()["status"] == "open"  # skipping leaves it for others
    merged = team.post(url, json={"decision": "merge", "expected_version": 1, "candidate_cp_id": item["known"]},
                       headers=headers).get_json()
    assert merged == {"id": item["id"], "status": "merged", "version": 2, "decision": "merge", "cp_id": item["new"],
                      "other_cp_id": item["known"], "survivor_cp_id": item["known"]}
    assert team.post(url, json={"decision": "skip", "expected_version": 2}, headers=headers).status_code == 409
