"""Registering, ending and flagging involvement through the API and the pages; mediated search."""
import json

from sqlalchemy import select

from indexing import rebuild
from access_control.models import AuditEvent
from registry.models import Involvement

from ..support.accounts import ACTING_FOR, ACTING_FOR_LABEL, add_token, add_user, csrf_token, sign_in
from .helpers import ALIAS, CHECKPOINT, add_child, years_ago


def _api(app, sessions, scopes=("search", "view", "involvements")):
    client = app.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {add_token(sessions, 'case-system', scopes=scopes)}",
                               HTTP_X_ACTING_FOR=ACTING_FOR)
    return client


def test_a_case_system_registers_flags_and_ends_an_involvement_for_its_practitioner(app, sessions):
    cp_id = add_child(sessions)
    client = _api(app, sessions)
    created = client.post(f"/api/v1/children/{cp_id}/involvements",
                          json={"role": "Health visitor", "phone": "0113 496 0000", "lead_professional": True})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["practitioner_name"], body["role"], body["lead_professional"], body["end_date"]) == \
        (ACTING_FOR_LABEL, "Health visitor", True, None)
    flagged = client.post(f"/api/v1/children/{cp_id}/involvements/{body['id']}/info-to-share",
                          json={"info_to_share": True})
    assert flagged.status_code == 200 and flagged.get_json()["info_to_share"] is True
    ended = client.post(f"/api/v1/children/{cp_id}/involvements/{body['id']}/end", json={})
    assert ended.status_code == 200 and ended.get_json()["end_date"] is not None
    with sessions() as session:
        row = session.get(Involvement, body["id"])
        assert row.registered_by == f"case-system/{ACTING_FOR_LABEL}" and row.info_to_share
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "case-system")).all()
    assert actions == ["involvement_registered", "info_to_share_flagged", "involvement_ended"]


def test_involvement_input_is_checked_and_a_sensitive_service_needs_consent(app, sessions):
    cp_id = add_child(sessions)
    client = _api(app, sessions)
    cases = [({"role": "Nurse", "sensitive_category": "mental_health"}, "consent_recorded"),
             ({"role": "Nurse", "notes": "disclosed at visit"}, "notes"),
             ({}, "role"), ({"role": "Nurse", "email": "nope"}, "email"),
             ({"role": "Nurse", "start_date": "2999-01-01"}, "start_date"),
             ({"role": "Nurse", "sensitive_category": "astrology", "consent_recorded": True}, "sensitive_category")]
    for body, field in cases:
        response = client.post(f"/api/v1/children/{cp_id}/involvements", json=body)
        assert response.status_code == 400 and field in response.get_json()["errors"], (body, response.get_json())
    consented = client.post(f"/api/v1/children/{cp_id}/involvements",
                            json={"role": "Nurse", "sensitive_category": "mental_health", "consent_recorded": True})
    assert consented.status_code == 201
    with sessions() as session:
        row = session.scalar(select(Involvement))
        assert (row.sensitive_category, row.consent_recorded_by) == ("mental_health", ACTING_FOR_LABEL)
    search_only = _api(app, sessions, scopes=("search",))
    assert search_only.post(f"/api/v1/children/{cp_id}/involvements", json={"role": "Nurse"}).status_code == 403
    assert client.post("/api/v1/children/1234567890/involvements", json={"role": "Nurse"}).status_code == 400


def test_only_the_registering_organisation_ends_an_involvement(app, sessions, anonymous):
    cp_id = add_child(sessions)
    involvement = _api(app, sessions).post(f"/api/v1/children/{cp_id}/involvements", json={"role": "Nurse"}).get_json()
    sign_in(anonymous, sessions, add_user(sessions, "other.service", organisation=("service", "YOUTH-JUSTICE")))
    token = csrf_token(anonymous, "/")
    refused = anonymous.post(f"/api/v1/children/{cp_id}/involvements/{involvement['id']}/end", json={},
                             headers={"X-CSRFToken": token})
    assert refused.status_code == 404
    with sessions() as session:
        assert session.get(Involvement, involvement["id"]).end_date is None


def test_a_mediated_search_records_both_people(anonymous, sessions, es):
    add_child(sessions, given="Amara", family="Okafor", dob=years_ago(6))
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    sign_in(anonymous, sessions, add_user(sessions, "helpdesk.user", role="la_management"))
    page = anonymous.post("/search", data={"csrf_token": csrf_token(anonymous, "/"), "given_name": "Amara",
                                           "family_name": "Okafor", "on_behalf_of": "Dr Ade, Park Surgery"})
    assert page.status_code == 200 and "Okafor" in page.get_data(as_text=True)
    with sessions() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "search"))
    assert event.actor == "helpdesk.user" and json.loads(event.details)["on_behalf_of"] == "Dr Ade, Park Surgery"
