"""access_control's own tables: users, API tokens, the audit trail and usage counters.

They share registry's declarative ``Base`` (one metadata, one set of Alembic migrations, foreign
keys to ``organisations``), but only access_control reads or writes them: registry never refers
to these classes.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from analyzers import clock
from registry.models import NOTIFICATION_EVENT_KINDS, Base, BigId, EventReferences, Organisation, UTCDateTime

ROLES = ("practitioner", "la_management", "national_admin", "auditor", "relevance_admin", "api_client",
         "indexer")


def _utcnow() -> dt.datetime:
    return clock.now()


class AuditEvent(Base):
    """Append-only, hash-chained record of every access (see access_control.audit)."""
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "chain_seq", name="uq_audit_events_chain_seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)  # order across chains
    chain: Mapped[int] = mapped_column(Integer, default=1)
    chain_seq: Mapped[int] = mapped_column(BigId)  # place in its chain: what the MAC covers
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    organisation: Mapped[str | None] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly what the hash covers
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    subjects: Mapped[list[AuditSubject]] = relationship(cascade="all, delete-orphan", lazy="raise")


class AuditSubject(Base):
    """Whom an event concerns (children's ContactPoint IDs, authorities' LA codes), as its details name them:
    the index audit review filters on (access_control.audit.subjects). Derived from the MAC-covered details, so `audit verify` checks it."""
    __tablename__ = "audit_subjects"

    # "child", "shielded" (a shielded child's ID), or the key naming an authority: "actor_la", "child_la", ...
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, ForeignKey("audit_events.seq"), primary_key=True, index=True)


class AuditHead(Base):
    """One row per chain holding its tip; a writer locks one head, so appends queue only per chain."""
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    # The first event whose hash is a keyed MAC (earlier ones predate migration 0009), and the head's own
    # keyed MAC over (seq, hash, keyed_from), so the head cannot be set back to an earlier event.
    keyed_from: Mapped[int | None] = mapped_column(BigId)
    mac: Mapped[str | None] = mapped_column(String(64))


class User(Base):
    """Someone (or a case-management system) allowed in, with one role and the organisation they work for."""
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="ck_users_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # The local authority whose area the user works in; LA teams administer users of their own.
    local_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Encrypted (access_control.totp_secrets), issued when the user enrols their authenticator app.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)  # refuses a code used before
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    # Bumped on sign-out, disabling and password reset: every session cookie issued before dies.
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    created_by: Mapped[str] = mapped_column(String(100))

    organisation: Mapped[Organisation] = relationship(foreign_keys=[organisation_id])
    local_authority: Mapped[Organisation | None] = relationship(foreign_keys=[local_authority_id])


class ApiToken(Base):
    """A case-management system's credential: only a hash of the secret is kept."""
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(16), unique=True)  # public half, safe to log
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    created_by: Mapped[str] = mapped_column(String(100))

    user: Mapped[User] = relationship()


class RateLimitCounter(Base):
    """Fixed-window usage counters shared by every web worker (see access_control.limits_storage)."""
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch


MAIL_STATUSES = ("queued", "sent", "dropped")
NOTIFICATION_KINDS = NOTIFICATION_EVENT_KINDS


class Notification(EventReferences, Base):
    """One user told of one registry event (webapp.notifications): references only, rendered when shown or sent."""
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
                      Index("ix_notifications_user_read", "user_id", "read_at"))

    event_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class NotificationMail(Base):
    """The SMTP outbox: one email per notification, sent at most once (a lease per sender, sent_at once accepted)."""
    __tablename__ = "notification_mail"
    __table_args__ = (CheckConstraint(f"status IN {MAIL_STATUSES}", name="ck_notification_mail_status"),
                      Index("ix_notification_mail_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)

    notification: Mapped[Notification] = relationship()


class EmailOptOut(Base):
    """A kind of notification a user reads in the app only (no email)."""
    __tablename__ = "notification_email_opt_outs"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
