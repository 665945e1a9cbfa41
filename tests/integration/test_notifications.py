"""Notifications end to end on SQLite and PostgreSQL: registry events -> notices -> email through a real SMTP server
(aiosmtpd on 127.0.0.1), with what each recipient may see decided when the email is sent."""
import dataclasses
import datetime as dt
import threading
import time

import pytest
import trustme
from sqlalchemy import select

from access_control.models import AuditEvent, EmailOptOut, Notification, NotificationMail, User
from analyzers import clock
from registry import writes
from registry.models import Involvement
from webapp.notifications import expand_events, parse_smtp_url, send_due

from ..support.accounts import add_user
from ..support.smtp import SmtpServer
from .helpers import add_child, change_child, count, involve

LA, OTHER_LA = "E09000001", "E09000002"


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def _smtp(server, timeout=5.0):
    return dataclasses.replace(parse_smtp_url(server.url), sender="ContactPoint <notify@contactpoint.test>",
                               timeout=timeout)


def _person(sessions, username, org="HV-NORTH", role="practitioner", la=LA, email=True):
    return add_user(sessions, username, role=role, la_code=la, organisation=("service", org),
                    email=f"{username}@example.org" if email else None)


def _notified(sessions):
    with sessions() as session:
        return sorted(session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)))


def _child_with_a_health_visitor(sessions, **child):
    cp_id = add_child(sessions, la_code=LA, postcode="LS6 2AB", **child)
    _person(sessions, "hv.one")
    _person(sessions, "hv.two")  # same service, not the one who registered: told only when nobody is named
    involve(sessions, cp_id, "HV-NORTH", registered_by="hv.one")
    return cp_id


def test_a_new_service_is_announced_to_the_other_services_practitioner_with_its_contact(sessions, smtp_server):
    cp_id = _child_with_a_health_visitor(sessions)
    _person(sessions, "yj.worker", org="YJ-LEEDS")
    involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker", role="Youth justice worker",
             practitioner_name="Sam Carter", email="sam.carter@yj.example.org")
    assert expand_events(sessions) == 1
    assert _notified(sessions) == ["hv.one"]  # not hv.two (hv.one is named), never yj.worker who registered it
    assert send_due(sessions, _smtp(smtp_server), "worker-1").sent == 1
    [message] = smtp_server.mailbox.messages
    body = message.get_content()
    assert message["To"] == "hv.one@example.org" and message["Message-ID"].startswith("<notification-")
    for shown in (cp_id, "Youth justice worker", "Sam Carter", "sam.carter@yj.example.org", "Yj-Leeds service"):
        assert shown in body
    assert "LS6" not in body and "Amara" not in message["Subject"]
    with sessions() as session:
        mail = session.scalar(select(NotificationMail))
        events = session.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.details)
                                 .where(AuditEvent.action == "notification_sent")).all()
    assert mail.status == "sent" and mail.sent_at is not None and mail.attempts == 0
    assert [(a, '"channel": "in_app"' in d, '"channel": "email"' in d, cp_id in d) for a, _, d in events] == \
        [("hv.one", True, False, True), ("hv.one", False, True, True)]
    assert send_due(sessions, _smtp(smtp_server), "worker-1").sent == 0  # sent once


def test_nobody_named_means_the_services_practitioners_and_ended_services_are_not_told(sessions, smtp_server):
    cp_id = add_child(sessions, la_code=LA)
    _person(sessions, "hv.one")
    _person(sessions, "hv.two")
    _person(sessions, "old.service", org="ENDED")
    involve(sessions, cp_id, "HV-NORTH", registered_by="gp-feed")  # a feed: nobody named
    involve(sessions, cp_id, "ENDED", registered_by="old.service", end_date=dt.date.today() - dt.timedelta(days=1))
    involve(sessions, cp_id, "SCHOOL-NURSE", registered_by="hv.two")  # hv.two registers this one
    expand_events(sessions)
    # The ended service's practitioner is never told; hv.two registered the newest service, so is not told of it.
    with sessions() as session:
        told = session.execute(select(User.username, Involvement.organisation_id, Notification.involvement_id)
                               .join(Notification, Notification.user_id == User.id)
                               .join(Involvement, Involvement.id == Notification.involvement_id)).all()
    assert sorted(username for username, *_ in told) == ["hv.one", "hv.one", "hv.two"]
    assert "old.service" not in _notified(sessions)


def test_a_move_tells_the_old_and_the_new_authority_teams_and_only_the_owner_sees_the_postcode_once_shielded(
        sessions, smtp_server):
    cp_id = add_child(sessions, la_code=LA, postcode="LS6 2AB")
    _person(sessions, "old.team", role="la_management", la=LA, org=LA)
    _person(sessions, "new.team", role="la_management", la=OTHER_LA, org=OTHER_LA)
    _person(sessions, "bystander", la=OTHER_LA)  # a practitioner of the new authority: not told of moves
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, la_code=OTHER_LA, postcode="SW1A 1AA"))
    expand_events(sessions)
    assert _notified(sessions) == ["new.team", "old.team"]
    change_child(sessions, cp_id, lambda s, c: writes.set_shielded(s, c, True, "risk_of_harm"))  # after queueing
    assert send_due(sessions, _smtp(smtp_server), "worker-1").sent == 2
    old, new = (smtp_server.mailbox.to(f"{u}@example.org")[0].get_content() for u in ("old.team", "new.team"))
    assert "City of London" in old and "Barking and Dagenham" in old and "SW1A" not in old  # redacted when sent
    assert "SW1A 1AA" in new  # the owning authority's team sees where the child lives


def test_a_sensitive_service_is_not_announced_to_those_who_may_not_see_it(sessions, smtp_server):
    cp_id = _child_with_a_health_visitor(sessions)
    involve(sessions, cp_id, "CAMHS", registered_by="camhs.worker", role="Counsellor",
             sensitive_category="mental_health", consent_recorded_by="Dr Who", consent_recorded_at=clock.now())
    assert expand_events(sessions) == 0
    assert count(sessions, Notification) == 0 and count(sessions, NotificationMail) == 0


def test_a_child_shielded_after_the_event_is_redacted_in_the_email(sessions, smtp_server):
    cp_id = _child_with_a_health_visitor(sessions)
    involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker", role="Youth justice worker",
             practitioner_name="Sam Carter", phone="0113 111 2222")
    expand_events(sessions)
    change_child(sessions, cp_id, lambda s, c: writes.set_shielded(s, c, True, "domestic_abuse"))
    assert send_due(sessions, _smtp(smtp_server), "worker-1").sent == 1
    body = smtp_server.mailbox.messages[0].get_content()
    assert cp_id in body and "withheld" in body
    for hidden in ("LS6", "2AB", "Sam Carter", "0113 111 2222", "Youth justice"):
        assert hidden not in body


def test_a_shielded_childs_new_service_is_not_announced_to_those_who_may_not_see_its_services(sessions):
    cp_id = _child_with_a_health_visitor(sessions, shielded=True)
    involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker")
    assert expand_events(sessions) == 0


def test_email_switched_off_for_a_kind_keeps_the_notice_in_the_app(sessions, smtp_server):
    cp_id = _child_with_a_health_visitor(sessions)
    with sessions.begin() as session:
        user = session.scalar(select(User).where(User.username == "hv.one"))
        session.add(EmailOptOut(user_id=user.id, kind="involvement_started"))
    involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker")
    assert expand_events(sessions) == 1
    assert count(sessions, NotificationMail) == 0
    assert send_due(sessions, _smtp(smtp_server), "worker-1").sent == 0 and smtp_server.mailbox.messages == []


def _queued_mail(sessions, how_many=1):
    cp_id = _child_with_a_health_visitor(sessions)
    for n in range(how_many):
        involve(sessions, cp_id, f"SERVICE-{n}", registered_by=f"someone.{n}")
    expand_events(sessions)
    assert count(sessions, NotificationMail) == how_many


def _mail(sessions):
    with sessions() as session:
        return session.scalars(select(NotificationMail).order_by(NotificationMail.id)).all()


def test_a_server_that_is_down_delays_the_email_which_is_sent_once_when_it_is_up(sessions):
    _queued_mail(sessions)
    server = SmtpServer()  # its port is closed until started
    result = send_due(sessions, _smtp(server), "worker-1")
    [mail] = _mail(sessions)
    assert (result.sent, result.failed, mail.status, mail.attempts, mail.sent_at) == (0, 1, "queued", 1, None)
    assert mail.next_attempt_at > clock.now() and "Connection refused" in mail.last_error
    server.start()
    try:
        assert send_due(sessions, _smtp(server), "worker-1").sent == 0  # not due yet: waits for its retry
        with clock.pinned(clock.now() + dt.timedelta(hours=2)):
            assert send_due(sessions, _smtp(server), "worker-1").sent == 1
            assert send_due(sessions, _smtp(server), "worker-1").sent == 0
        assert len(server.mailbox.messages) == 1 and _mail(sessions)[0].status == "sent"
    finally:
        server.stop()


@pytest.mark.parametrize("reply", ["550 5.7.1 mailbox refuses", "451 4.3.0 try again later"])
def test_a_refusing_server_neither_loses_the_email_nor_marks_it_sent(sessions, smtp_server, reply):
    _queued_mail(sessions)
    smtp_server.mailbox.reply = reply
    result = send_due(sessions, _smtp(smtp_server), "worker-1")
    [mail] = _mail(sessions)
    assert (result.sent, result.failed, mail.status, mail.sent_at, mail.attempts) == (0, 1, "queued", None, 1)
    assert reply.split()[0] in mail.last_error and mail.lease_owner is None


@pytest.fixture
def certificate_authority(tmp_path, monkeypatch):
    """A throwaway authority the sender trusts (through SSL_CERT_FILE, as an operator with a private CA would)."""
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return authority


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd: smtps is TLS throughout
def test_mail_goes_over_tls_with_the_login_the_url_gives(sessions, certificate_authority, tls):
    _queued_mail(sessions)
    server = SmtpServer(tls=tls, certificate=certificate_authority.issue_cert("127.0.0.1"),
                        login=("notifier", "s3cret/pass")).start()
    try:
        settings = dataclasses.replace(parse_smtp_url(server.url.replace("s3cret/pass", "s3cret%2Fpass")),
                                       timeout=5.0)
        assert (settings.scheme, settings.password) == ({"starttls": "smtp+starttls"}.get(tls, tls), "s3cret/pass")
        assert send_due(sessions, settings, "worker-1").sent == 1
        assert server.logins == ["notifier"] and len(server.mailbox.messages) == 1
        assert _mail(sessions)[0].status == "sent"
    finally:
        server.stop()


def test_a_server_whose_certificate_is_not_trusted_gets_nothing_and_the_email_waits(sessions, tmp_path):
    _queued_mail(sessions)
    stranger = trustme.CA()  # not in the sender's trust store
    server = SmtpServer(tls="starttls", certificate=stranger.issue_cert("127.0.0.1")).start()
    try:
        result = send_due(sessions, dataclasses.replace(parse_smtp_url(server.url), timeout=5.0), "worker-1")
        [mail] = _mail(sessions)
        assert (result.sent, result.failed, mail.status, mail.sent_at) == (0, 1, "queued", None)
        assert "CERTIFICATE_VERIFY_FAILED" in mail.last_error and server.mailbox.messages == []
    finally:
        server.stop()


def test_a_wrong_password_is_refused_and_the_email_waits(sessions, certificate_authority):
    _queued_mail(sessions)
    server = SmtpServer(tls="starttls", certificate=certificate_authority.issue_cert("127.0.0.1"),
                        login=("notifier", "right")).start()
    try:
        url = server.url.replace(":right@", ":wrong@")
        result = send_due(sessions, dataclasses.replace(parse_smtp_url(url), timeout=5.0), "worker-1")
        [mail] = _mail(sessions)
        assert (result.sent, mail.status, mail.sent_at, server.logins) == (0, "queued", None, [])
        assert "535" in mail.last_error
    finally:
        server.stop()


def test_a_slow_server_costs_one_timeout_and_the_email_stays_queued(sessions, smtp_server):
    _queued_mail(sessions, how_many=3)
    smtp_server.mailbox.stall = 5
    started = time.monotonic()
    result = send_due(sessions, _smtp(smtp_server, timeout=1), "worker-1")
    assert time.monotonic() - started < 4  # one 1 s timeout, not one per email nor the server's 5 s
    assert result.sent == 0 and [m.status for m in _mail(sessions)] == ["queued"] * 3
    assert [m.sent_at for m in _mail(sessions)] == [None] * 3


def test_two_senders_at_once_send_each_email_once(sessions, smtp_server):
    _queued_mail(sessions, how_many=6)
    results = []

    def sender(name):
        results.append(send_due(sessions, _smtp(smtp_server), name, limit=2))
        results.append(send_due(sessions, _smtp(smtp_server), name, limit=2))

    threads = [threading.Thread(target=sender, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [m["Message-ID"] for m in smtp_server.mailbox.messages]
    assert len(ids) == 6 and len(set(ids)) == 6 and sum(r.sent for r in results) == 6
    assert {m.status for m in _mail(sessions)} == {"sent"}


def test_the_send_command_writes_notices_and_sends_over_the_configured_server(run, sessions, smtp_server):
    cp_id = _child_with_a_health_visitor(sessions)
    involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker")
    unset = run("notifications", "send")
    assert unset.exit_code == 0 and "CONTACTPOINT_SMTP_URL is not set" in unset.output
    assert "1 notices written; 0 emails sent" in unset.output and count(sessions, NotificationMail) == 1
    result = run("notifications", "send", "--once", CONTACTPOINT_SMTP_URL=smtp_server.url,
                 CONTACTPOINT_MAIL_FROM="ContactPoint <notify@contactpoint.test>")
    assert result.exit_code == 0 and "0 notices written; 1 emails sent" in result.output, result.output
    assert smtp_server.mailbox.messages[0]["From"] == "ContactPoint <notify@contactpoint.test>"
    refused = run("notifications", "send", CONTACTPOINT_SMTP_URL="http://mail.example.org")
    assert refused.exit_code != 0 and "CONTACTPOINT_SMTP_URL" in refused.output


def test_a_case_system_registering_for_its_practitioner_tells_the_practitioner_it_acted_for_before(app, sessions):
    from ..support.accounts import ACTING_FOR, add_token

    cp_id = add_child(sessions, la_code=LA)
    client = app.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {add_token(sessions, 'case-system', scopes=('involvements',))}",
                               HTTP_X_ACTING_FOR=ACTING_FOR)
    assert client.post(f"/api/v1/children/{cp_id}/involvements", json={"role": "Family support"}).status_code == 201
    _person(sessions, "yj.worker", org="YJ-LEEDS")
    involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker")
    expand_events(sessions)
    assert _notified(sessions) == [ACTING_FOR]  # the person named in "case-system/Jo ... (jo.health-visitor)"
    with sessions.begin() as session:
        session.execute(Notification.__table__.delete())
    involve(sessions, cp_id, "CAMHS-SUPPORT", registered_by=f"case-system/Jo Health-Visitor ({ACTING_FOR})")
    expand_events(sessions)
    assert _notified(sessions) == ["yj.worker"]  # never the practitioner the new registration was made for


def test_a_following_sender_delivers_as_events_arrive_and_stops_on_sigterm(sessions, database_url, smtp_server,
                                                                           tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from ..support.accounts import TEST_SECRET_KEY

    cp_id = _child_with_a_health_visitor(sessions)
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": database_url, "CONTACTPOINT_SECRET_KEY": TEST_SECRET_KEY,
           "CONTACTPOINT_STATE_DIR": str(tmp_path / "state"), "CONTACTPOINT_SMTP_URL": smtp_server.url}
    follower = subprocess.Popen([sys.executable, "-m", "webapp.cli", "notifications", "send", "--follow",
                                 "--interval", "0.2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    try:
        involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker")  # while it runs
        deadline = time.monotonic() + 60
        while not smtp_server.mailbox.messages and time.monotonic() < deadline and follower.poll() is None:
            time.sleep(0.2)
        assert len(smtp_server.mailbox.messages) == 1
    finally:
        follower.send_signal(signal.SIGTERM)
        output, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0, output
    assert "1 notices written; 1 emails sent" in output


def test_a_notice_about_a_child_merged_since_shows_the_record_kept(sessions, smtp_server):
    from registry import merging
    from registry.models import Child

    kept = add_child(sessions, given="Amara", family="Okafor", la_code=LA)
    cp_id = _child_with_a_health_visitor(sessions, given="Amarah")
    involve(sessions, cp_id, "YJ-LEEDS", registered_by="yj.worker", practitioner_name="Sam Carter")
    expand_events(sessions)
    with sessions.begin() as session:
        a, b = (session.scalar(select(Child).where(Child.cp_id == c)) for c in (kept, cp_id))
        merging.merge(session, a, b, "cli:test")
    assert send_due(sessions, _smtp(smtp_server), "worker-1").sent == 1
    body = smtp_server.mailbox.messages[0].get_content()
    assert kept in body and "Sam Carter" in body
