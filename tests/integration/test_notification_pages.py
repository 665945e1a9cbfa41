"""The notifications page, the header's unread count and the email choices, signed in through the real pages."""
import re

from sqlalchemy import select

from access_control.models import AuditEvent, EmailOptOut, Notification
from registry import writes
from webapp.notifications import expand_events

from ..support.accounts import add_user, csrf_token, sign_in
from .helpers import add_child, change_child, count, involve

UNREAD = re.compile(r'id="unread-count">(\d+)')


def _told(sessions, anonymous, **child):
    """hv.one works with a child; Youth Justice starts too; hv.one is signed in with one notice."""
    cp_id = add_child(sessions, la_code="E09000001", postcode="LS6 2AB", **child)
    account = add_user(sessions, "hv.one", organisation=("service", "HV-NORTH"), email="hv.one@example.org")
    involve(sessions, cp_id, "HV-NORTH", "hv.one")
    involve(sessions, cp_id, "YJ-LEEDS", "yj.worker", role="Youth justice worker", practitioner_name="Sam Carter",
             phone="0113 111 2222")
    assert expand_events(sessions) == 1
    sign_in(anonymous, sessions, account)
    return cp_id


def test_the_header_counts_unread_notices_and_the_page_shows_the_new_service(app, sessions, anonymous):
    cp_id = _told(sessions, anonymous)
    assert UNREAD.search(anonymous.get("/").get_data(as_text=True)).group(1) == "1"
    page = anonymous.get("/notifications").get_data(as_text=True)
    for shown in (cp_id, "Sam Carter", "0113 111 2222", "Youth justice worker", "Yj-Leeds service"):
        assert shown in page
    assert "LS6" not in page
    # The child's name leads to the record (through the purpose prompt), as a link, not as escaped markup.
    assert f'<a class="govuk-link" href="/children/{cp_id}">Amara Okafor</a>' in page and "&lt;a" not in page
    with sessions() as session:
        viewed = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "notifications_viewed",
                                                                  AuditEvent.actor == "hv.one")).all()
        [notice] = session.scalars(select(Notification.id)).all()
    assert len(viewed) == 1 and cp_id in viewed[0]
    response = anonymous.post(f"/notifications/{notice}/read", data={"csrf_token": csrf_token(anonymous, "/")})
    assert response.status_code == 302
    assert UNREAD.search(anonymous.get("/").get_data(as_text=True)) is None


def test_a_child_shielded_since_shows_no_service_details_nor_location(app, sessions, anonymous):
    cp_id = _told(sessions, anonymous)
    change_child(sessions, cp_id, lambda s, c: writes.set_shielded(s, c, True, "risk_of_harm"))
    page = anonymous.get("/notifications").get_data(as_text=True)
    assert cp_id in page and "shielded" in page
    for hidden in ("Sam Carter", "0113 111 2222", "Youth justice", "LS6"):
        assert hidden not in page


def test_one_user_cannot_mark_anothers_notice_read(app, sessions, anonymous):
    _told(sessions, anonymous)
    with sessions() as session:
        notice = session.scalar(select(Notification.id))
    other = app.test_client()
    sign_in(other, sessions, add_user(sessions, "someone.else", organisation=("service", "OTHER")))
    other.post(f"/notifications/{notice}/read", data={"csrf_token": csrf_token(other, "/")})
    assert UNREAD.search(anonymous.get("/").get_data(as_text=True)).group(1) == "1"
    assert "no notifications" in other.get("/notifications").get_data(as_text=True)


def test_email_is_switched_off_per_kind_with_a_csrf_protected_form(app, sessions, anonymous):
    _told(sessions, anonymous)
    page = anonymous.get("/account/notifications").get_data(as_text=True)
    assert page.count('checked') == 2  # every kind is on until switched off
    refused = anonymous.post("/account/notifications", data={"email": ["authority_changed"]})
    assert refused.status_code == 400 and count(sessions, EmailOptOut) == 0
    saved = anonymous.post("/account/notifications", data={"csrf_token": csrf_token(anonymous, "/account/notifications"),
                                                          "email": ["authority_changed"]})
    assert saved.status_code == 302
    with sessions() as session:
        assert session.scalars(select(EmailOptOut.kind)).all() == ["involvement_started"]
    assert anonymous.get("/account/notifications").get_data(as_text=True).count('checked') == 1


def test_notifications_need_a_signed_in_person(app, anonymous, client):
    for caller in (anonymous, client):  # an API token is no person: pages ignore it
        response = caller.get("/notifications")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
