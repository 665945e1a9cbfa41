"""The first end-to-end path: registry write -> change log -> index -> search -> POST /api/v1/search."""
import json

from sqlalchemy import select

from access_control import audit
from access_control.models import AuditEvent
from indexing import sync_until_current
from registry import writes

from ..support.accounts import ACTING_FOR_LABEL, add_user, sign_in
from .helpers import ALIAS, CHECKPOINT, api_search, change_child, years_ago

DOB = years_ago(6, day=14)


def test_a_child_written_to_the_registry_is_found_by_name_and_date_of_birth(client, indexed):
    target, _ = indexed(dict(given="Siobhan", family="O'Brien", dob=DOB), dict(given="Kwame", family="Mensah"))
    status, body = api_search(client, given_name="Siobhan", family_name="OBrien", date_of_birth=DOB.isoformat())
    assert status == 200
    assert body["too_many"] is False
    assert [r["cp_id"] for r in body["results"]] == [target]
    result = body["results"][0]
    assert set(result) == {"cp_id", "given_name", "family_name", "date_of_birth", "gender", "score", "match_grade",
                           "matched_on", "shielded", "confidence"}
    assert (result["given_name"], result["family_name"], result["date_of_birth"]) == ("Siobhan", "O'Brien",
                                                                                      DOB.isoformat())
    assert result["match_grade"] == "certain" and result["confidence"] == 1.0
    assert result["matched_on"] == ["family name", "given name", "date of birth"]
    assert result["shielded"] is False


def test_a_misspelt_family_name_still_finds_the_child(client, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    status, body = api_search(client, given_name="Amara", family_name="Okafur", date_of_birth=DOB.isoformat())
    assert status == 200
    assert [r["cp_id"] for r in body["results"]] == [target]
    assert body["results"][0]["matched_on"] == ["family name sounds like", "given name", "date of birth"]
    assert body["results"][0]["match_grade"] == "probable"


def test_a_known_alias_finds_the_child(client, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB, aliases=[("Amy", "Bello")]))
    _, body = api_search(client, given_name="Amy", family_name="Bello", date_of_birth=DOB.isoformat())
    assert [r["cp_id"] for r in body["results"]] == [target]
    assert (body["results"][0]["given_name"], body["results"][0]["family_name"]) == ("Amara", "Okafor")


def test_a_change_reaches_search_after_sync(client, es, sessions, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    change_child(sessions, target, lambda s, c: writes.update_child(s, c, family_name="Adeyemi"))
    sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    es.indices.refresh(index=ALIAS)
    _, body = api_search(client, given_name="Amara", family_name="Adeyemi", date_of_birth=DOB.isoformat())
    assert [r["cp_id"] for r in body["results"]] == [target]


def test_shielding_and_archival_are_rechecked_against_the_database(client, sessions, indexed):
    shielded, archived = indexed(dict(given="Amara", family="Okafor", dob=DOB),
                                 dict(given="Amara", family="Okafor", dob=years_ago(5)))
    # The index has not caught up with either change: the database still decides.
    change_child(sessions, shielded, lambda s, c: writes.set_shielded(s, c, True))
    change_child(sessions, archived,
                 lambda s, c: setattr(c, "status", "archived") or writes.log_change(s, c, "archived"))
    _, body = api_search(client, given_name="Amara", family_name="Okafor", date_of_birth=DOB.isoformat())
    assert [(r["cp_id"], r["shielded"]) for r in body["results"]] == [(shielded, True)]


def test_a_postcode_never_counts_for_or_against_a_shielded_child(client, indexed):
    open_child, shielded = indexed(dict(given="Amara", family="Okafor", dob=DOB, postcode="LS6 2AB"),
                                   dict(given="Amara", family="Okafor", dob=DOB, postcode="M1 1AE", shielded=True))
    _, without = api_search(client, given_name="Amara", family_name="Okafor", date_of_birth=DOB.isoformat())
    for postcode in ("M1 1AE", "LS6 2AB"):
        _, with_postcode = api_search(client, given_name="Amara", family_name="Okafor", date_of_birth=DOB.isoformat(),
                                   postcode=postcode)
        scores = {r["cp_id"]: r for r in with_postcode["results"]}
        before = {r["cp_id"]: r for r in without["results"]}
        assert scores[shielded]["score"] == before[shielded]["score"]
        assert "postcode" not in scores[shielded]["matched_on"]
    _, matching = api_search(client, given_name="Amara", family_name="Okafor", date_of_birth=DOB.isoformat(),
                          postcode="LS6 2AB")
    assert "postcode" in {r["cp_id"]: r for r in matching["results"]}[open_child]["matched_on"]


def test_a_broad_search_answers_too_many_instead_of_a_list(client, indexed, app):
    cap = app.config["SETTINGS"].max_results
    indexed(*[dict(given="Amara", family="Smith", dob=DOB) for _ in range(cap + 1)])
    status, body = api_search(client, given_name="Amara", family_name="Smith", date_of_birth=DOB.isoformat())
    assert status == 200
    assert body == {"results": [], "too_many": True}


def test_every_search_is_audited_in_an_intact_chain(client, sessions, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    api_search(client, given_name="Amara", family_name="Okafor", date_of_birth=DOB.isoformat())
    api_search(client, given_name="Nobody", family_name="Known", date_of_birth=DOB.isoformat())
    with sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "search")
                                 .order_by(AuditEvent.seq)).all()
        assert [(e.actor, e.action) for e in events] == [("case-system", "search")] * 2
        assert '"returned": ["%s"]' % target in events[0].details
        assert f'"on_behalf_of": "{ACTING_FOR_LABEL}"' in events[0].details
        assert '"returned": []' in events[1].details
        assert audit.verify(session) == []


def test_bad_input_gets_a_400_naming_the_field_and_the_attempt_is_audited_without_its_content(
        client, sessions, indexed):
    indexed(dict(given="Amara", family="Okafor", dob=DOB))
    cases = [
        ({"given_name": "   ", "family_name": "Okafor"}, "given_name"),
        ({"given_name": "A" * 201, "family_name": "Okafor"}, "given_name"),
        ({"given_name": "Amara", "family_name": "Oka\x07for"}, "family_name"),
        ({"given_name": "Amara", "family_name": "Okafor 😀"}, "family_name"),
        ({"given_name": "<b>Amara</b>", "family_name": "Okafor"}, "given_name"),
        ({"given_name": "Amara", "family_name": "Okafor*"}, "family_name"),
        ({"given_name": "Amara", "family_name": "Okafor~ AND \"x\""}, "family_name"),
        ({"given_name": "Amara", "family_name": {"query": {"match_all": {}}}}, "family_name"),
        ({"family_name": "Okafor", "date_of_birth": "2023-02-30"}, "date_of_birth"),
        ({"family_name": "Okafor", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"family_name": "Okafor", "date_of_birth": years_ago(40).isoformat()}, "date_of_birth"),  # no slip from a child's
        ({"family_name": "Okafor", "given_name": "Amara", "postcode": "nowhere"}, "postcode"),
        ({"cp_id": "1234567890"}, "cp_id"),
        ({"family_name": "Okafor", "given_name": "Amara", "notes": "disclosed abuse at home"}, "notes"),
        ({"family_name": "Okafor"}, "_schema"),
    ]
    for criteria, field in cases:
        status, body = api_search(client, **criteria)
        assert status == 400, criteria
        assert field in body["errors"], (criteria, body)
    response = client.post("/api/v1/search", data="not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("the request body must be JSON")
    response = client.post("/api/v1/search", json=["Okafor"])
    assert response.status_code == 400
    response = client.post("/api/v1/search", data=b"{" + b" " * 70000 + b"}", content_type="application/json")
    assert response.status_code == 413
    with sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.actor == "case-system")).all()
    assert [e.action for e in events] == ["request_refused"] * (len(cases) + 3)
    assert [json.loads(e.details)["status"] for e in events[-3:]] == [400, 400, 413]
    smuggled = next(json.loads(e.details) for e in events if "notes" in json.loads(e.details).get("fields", []))
    assert smuggled["reason"] == "invalid_input"
    assert not any("disclosed" in e.details or "Okafor" in e.details for e in events)


def test_without_sign_in_the_api_refuses(anonymous):
    response = anonymous.post("/api/v1/search", json={"family_name": "Okafor", "given_name": "Amara"})
    assert response.status_code == 401
    assert response.get_json()["message"].startswith("sign-in required")


def test_the_search_page_finds_a_child(anonymous, sessions, indexed, app):
    client = anonymous
    sign_in(client, sessions, add_user(sessions, "pat.jones"))
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    app.config["WTF_CSRF_ENABLED"] = False
    page = client.post("/search", data={"given_name": "Amara", "family_name": "Okafor", "dob-day": str(DOB.day),
                                        "dob-month": str(DOB.month), "dob-year": str(DOB.year), "postcode": ""})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert target in html and "Okafor" in html and "Certain" in html
    bad = client.post("/search", data={"given_name": "Amara", "family_name": "", "dob-day": "30", "dob-month": "2",
                                       "dob-year": "2023"})
    assert bad.status_code == 400
    assert "There is a problem" in bad.get_data(as_text=True)


def test_the_search_page_refuses_a_post_without_a_csrf_token(anonymous, sessions, indexed):
    client = anonymous
    sign_in(client, sessions, add_user(sessions, "pat.jones"))
    indexed(dict(given="Amara", family="Okafor", dob=DOB))
    response = client.post("/search", data={"given_name": "Amara", "family_name": "Okafor"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_search_before_the_index_exists_is_a_503_not_a_crash(client):
    status, body = api_search(client, given_name="Amara", family_name="Okafor")
    assert status == 503
    assert body["message"] == "search is unavailable at the moment: try again shortly"


def test_metrics_and_status_report_lag_and_dead_letters_without_personal_data(client, sessions, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    change_child(sessions, target, lambda s, c: writes.update_child(s, c, given_name="Amy"))
    status = client.get("/status")
    assert status.status_code == 200
    body = status.get_json()
    assert body["lag_changes"] == 1 and body["dead_letters"] == 0 and "dead_letter_examples" not in body
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "contactpoint_index_up 1.0" in metrics
    assert "contactpoint_index_lag_changes 1.0" in metrics
    assert "contactpoint_index_documents 1.0" in metrics
    assert "Amara" not in metrics and target not in metrics
