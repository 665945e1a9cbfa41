"""Sending the mail outbox over SMTP: each email at most once per acceptance, none lost.

A sender claims due rows with a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers), so two
senders never hold the same row; ``sent_at`` is set only after the server accepted the message. A refusal, an
unreachable or a slow server (every socket operation is bounded by the timeout) leaves the row queued with a
growing delay; a connection failure ends the round at once, so a dead server costs one timeout, not one per
email. Each email's Message-ID is stable (made from its row), so a resend after a crash between the server's
acceptance and our commit is recognisably the same message. What an email says is decided when it is sent.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from access_control import audit
from access_control.accounts import usable, viewer_for
from access_control.models import EmailOptOut, Notification, NotificationMail, User
from analyzers import clock

from .content import as_text
from .outbox import audit_details, notice_for

log = logging.getLogger(__name__)
SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS = 30, 3600
DEFAULT_SENDER = "ContactPoint <notifications@contactpoint.invalid>"  # CONTACTPOINT_MAIL_FROM unset


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    scheme: str = "smtp"
    username: str | None = None
    password: str | None = None
    sender: str = DEFAULT_SENDER
    timeout: float = 10.0


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://[user:password@]host[:port]`` (also ``smtp+starttls://``, ``smtps://``); ValueError naming the fault."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise ValueError(f"the scheme must be one of {', '.join(s + '://' for s in SCHEMES)}, got {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("a host is required, e.g. smtp://mail.example.org:25")
    return SmtpSettings(host=parts.hostname, port=port or SCHEMES[parts.scheme], scheme=parts.scheme,
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None)


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    dropped: int = 0


def _due(now: dt.datetime):
    return (NotificationMail.status == "queued", NotificationMail.next_attempt_at <= now,
            or_(NotificationMail.lease_owner.is_(None), NotificationMail.lease_until < now))


def claim(sessions: sessionmaker, owner: str, limit: int, lease_seconds: float) -> list[int]:
    """Lease up to ``limit`` due emails to ``owner``; their ids, oldest first."""
    with sessions.begin() as session:
        now = clock.now()
        query = select(NotificationMail.id).where(*_due(now)).order_by(NotificationMail.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(NotificationMail).where(NotificationMail.id.in_(ids), *_due(now)).values(
                lease_owner=owner, lease_until=now + dt.timedelta(seconds=lease_seconds)))
        return ids


def _retry_delay(attempts: int) -> dt.timedelta:
    # Doubling from 30 s to an hour, with jitter so that many emails queued together do not retry together.
    seconds = min(LAST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.75, 1.0))


def _message_id(mail: NotificationMail, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "contactpoint.invalid"
    return f"<notification-{mail.id}.{mail.created_at.strftime('%Y%m%d%H%M%S')}@{domain}>"


class _Connection:
    """One SMTP connection per round, opened when the first email needs it."""

    def __init__(self, smtp: SmtpSettings):
        self.smtp, self.client = smtp, None

    def send(self, message: EmailMessage) -> None:
        if self.client is None:
            smtp = self.smtp
            if smtp.scheme == "smtps":
                client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
                if smtp.scheme == "smtp+starttls":
                    client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            self.client = client
        self.client.send_message(message)

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()


def send_due(sessions: sessionmaker, smtp: SmtpSettings, owner: str, limit: int = 50) -> SendResult:
    """Send the due emails this sender can claim (one round); what became of them."""
    result = SendResult()
    lease = smtp.timeout * 6 + 60  # longer than a round can take with one connection failure
    ids = claim(sessions, owner, limit, lease)
    connection = _Connection(smtp)
    try:
        for position, mail_id in enumerate(ids):
            try:
                outcome = _send_one(sessions, connection, smtp, owner, mail_id)
            except smtplib.SMTPResponseException as exc:  # refused (4xx/5xx): this email only
                _failed(sessions, owner, [mail_id], f"{exc.smtp_code} {exc.smtp_error!r}", count=True)
                result.failed += 1
                if isinstance(exc, smtplib.SMTPServerDisconnected):
                    break
                continue
            except (smtplib.SMTPException, OSError) as exc:  # unreachable, dropped or too slow: the round ends
                log.warning("notification mail: %s; %d emails wait for the next round", exc, len(ids) - position)
                _failed(sessions, owner, [mail_id], repr(exc), count=True)
                _failed(sessions, owner, ids[position + 1:], "not tried: the server failed", count=False)
                result.failed += 1
                break
            if outcome == "sent":
                result.sent += 1
            else:
                result.dropped += 1
    finally:
        connection.close()
    return result


def _send_one(sessions: sessionmaker, connection: _Connection, smtp: SmtpSettings, owner: str, mail_id: int) -> str:
    with sessions() as session:
        mail = session.get(NotificationMail, mail_id)
        notification = session.get(Notification, mail.notification_id)
        user = session.get(User, notification.user_id)
        opted_out = session.get(EmailOptOut, (user.id, notification.kind)) is not None
        notice = None if opted_out or not user.email or usable(user) else notice_for(session, notification, user)
        if notice is None or (notice["kind"] == "involvement_started" and notice["service"] is None
                              and not notice["redacted"]):
            session.rollback()
            _finish(sessions, owner, mail_id, "dropped")  # switched off, account gone, or nothing left to tell
            return "dropped"
        message = EmailMessage()
        message["From"], message["To"] = smtp.sender, user.email
        message["Subject"] = f"ContactPoint: {notice['title']}"  # no child's name where mail systems log subjects
        message["Message-ID"] = _message_id(mail, smtp.sender)
        message["Date"] = format_datetime(clock.now())
        message.set_content(as_text(notice))
        viewer, details = viewer_for(user), audit_details(notice, "email", notification)
    connection.send(message)
    _finish(sessions, owner, mail_id, "sent", lambda session: audit.record(session, viewer, "notification_sent", details))
    return "sent"


def _finish(sessions: sessionmaker, owner: str, mail_id: int, status: str, also=None) -> None:
    with sessions.begin() as session:
        now = clock.now()
        moved = session.execute(update(NotificationMail).where(
            NotificationMail.id == mail_id, NotificationMail.status == "queued").values(
            status=status, sent_at=now if status == "sent" else None, lease_owner=None, lease_until=None,
            last_error=None)).rowcount
        if not moved:
            log.warning("notification mail %s was %s but no longer queued", mail_id, status)
        if also is not None:
            also(session)


def _failed(sessions: sessionmaker, owner: str, ids: list[int], error: str, count: bool) -> None:
    if not ids:
        return
    with sessions.begin() as session:
        for mail in session.scalars(select(NotificationMail).where(NotificationMail.id.in_(ids),
                                                                   NotificationMail.lease_owner == owner)):
            mail.attempts += int(count)
            mail.next_attempt_at = clock.now() + _retry_delay(max(mail.attempts, 1))
            mail.lease_owner, mail.lease_until, mail.last_error = None, None, error[:1000]


def pending(session: Session) -> int:
    """Emails waiting to be sent (queued, due or not)."""
    return session.scalar(select(func.count()).select_from(NotificationMail).where(NotificationMail.status == "queued"))
