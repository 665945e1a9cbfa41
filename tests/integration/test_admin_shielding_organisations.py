"""Shielding and organisation contact pages: who may use them, and what they change."""
from sqlalchemy import select

from access_control.models import AuditEvent
from registry.models import Child, Organisation
from registry import writes

from ..support.accounts import add_user, csrf_token, sign_in
from .helpers import add_child


def test_an_la_team_shields_its_own_child_but_not_another_authoritys(anonymous, sessions):
    ours, theirs = add_child(sessions, la_code="E09000001"), add_child(sessions, la_code="E09000002")
    sign_in(anonymous, sessions, add_user(sessions, "lee.manager", role="la_management", la_code="E09000001"))
    token = csrf_token(anonymous, f"/admin/shielding/{ours}")
    missing = anonymous.post(f"/admin/shielding/{ours}", data={"csrf_token": token, "shielded": "yes"})
    assert missing.status_code == 400 and "choose a reason" in missing.get_data(as_text=True)
    done = anonymous.post(f"/admin/shielding/{ours}", data={"csrf_token": token, "shielded": "yes",
                                                           "reason_category": "domestic_abuse"})
    assert done.status_code == 200 and "Record shielded" in done.get_data(as_text=True)
    refused = anonymous.post(f"/admin/shielding/{theirs}", data={"csrf_token": token, "shielded": "yes",
                                                                "reason_category": "domestic_abuse"})
    assert refused.status_code == 403
    with sessions() as session:
        shielded = dict(session.execute(select(Child.cp_id, Child.shielding_reason)).tuples().all())
        assert shielded == {ours: "domestic_abuse", theirs: None}
        assert session.scalars(select(AuditEvent.action).where(AuditEvent.action == "shielding_changed")).all() \
            == ["shielding_changed"]


def test_an_la_team_edits_its_own_contact_details_only(anonymous, sessions):
    with sessions.begin() as session:
        writes.get_or_create_organisation(session, "local_authority", "E09000002", "Elsewhere Council")
    sign_in(anonymous, sessions, add_user(sessions, "lee.manager", role="la_management", la_code="E09000001"))
    page = anonymous.get("/admin/organisations?kind=local_authority&code=E09000002")
    assert page.status_code == 200 and "E09000001" in page.get_data(as_text=True)  # always their own
    token = csrf_token(anonymous, "/admin/organisations")
    bad = anonymous.post("/admin/organisations", data={"csrf_token": token, "name": "Our Council",
                                                       "phone": "call us", "email": "team@example.org"})
    assert bad.status_code == 400 and 'value="call us"' in bad.get_data(as_text=True)
    saved = anonymous.post("/admin/organisations", data={"csrf_token": token, "code": "E09000002",
                                                         "name": "Our Council", "phone": "0113 496 0001",
                                                         "email": "team@example.org"})
    assert saved.status_code == 200 and "Contact details saved." in saved.get_data(as_text=True)
    with sessions() as session:
        contacts = {o.code: (o.name, o.phone) for o in session.scalars(select(Organisation).where(
            Organisation.kind == "local_authority"))}
        assert contacts == {"E09000001": ("Our Council", "0113 496 0001"), "E09000002": ("Elsewhere Council", None)}
        assert session.scalar(select(AuditEvent.action).where(AuditEvent.action == "organisation_updated"))


def test_a_practitioner_cannot_open_the_admin_pages(anonymous, sessions):
    cp_id = add_child(sessions)
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    assert [anonymous.get(path).status_code for path in
            (f"/admin/shielding/{cp_id}", "/admin/organisations", "/admin/index")] == [403, 403, 403]
