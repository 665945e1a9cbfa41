"""A user's notices as the pages show them, and their email choices."""
from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from access_control import Viewer, VisibilityPolicy, audit
from access_control.models import EmailOptOut, Notification
from analyzers import clock

from .content import KINDS, describe
from .outbox import references

SHOWN = 50  # newest notices on the page


def unread_count(session: Session, user_id: int) -> int:
    """One COUNT on (user_id, read_at): the header's number."""
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))


def newest(session: Session, user_id: int, viewer: Viewer) -> list[dict]:
    """The user's newest notices, each as they may see it now (``notice`` None: nothing left they may see);
    the children shown are audited as one event, like any read of the directory."""
    policy = VisibilityPolicy(viewer)
    rows = session.scalars(select(Notification).where(Notification.user_id == user_id)
                           .order_by(Notification.id.desc()).limit(SHOWN)).all()
    shown = [{"id": row.id, "created_at": row.created_at, "read": row.read_at is not None,
              "notice": describe(session, policy, **references(row))} for row in rows]
    children = [{"cp_id": s["notice"]["cp_id"], "shielded": s["notice"]["shielded"]} for s in shown if s["notice"]]
    if children:
        audit.record(session, viewer, "notifications_viewed", {"children": children})
    return shown


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> None:
    """Mark one of the user's notices read (None: all of them); another user's is left alone."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    session.execute(query.values(read_at=clock.now()))


def email_kinds(session: Session, user_id: int) -> set[str]:
    """The kinds the user gets email for (every kind unless switched off)."""
    off = set(session.scalars(select(EmailOptOut.kind).where(EmailOptOut.user_id == user_id)))
    return set(KINDS) - off


def set_email_kinds(session: Session, user_id: int, wanted: set[str]) -> None:
    session.execute(delete(EmailOptOut).where(EmailOptOut.user_id == user_id))
    session.add_all(EmailOptOut(user_id=user_id, kind=kind) for kind in sorted(set(KINDS) - wanted))
