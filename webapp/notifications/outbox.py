"""From the registry's events to notices: one per recipient (in-app) and, unless they switched email off for that
kind or have no address, one queued email. Taking the events and writing the notices is one transaction, so an
event is turned into notices once, whichever worker takes it, and a failure leaves it for the next try."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access_control import VisibilityPolicy, audit
from access_control.accounts import viewer_for
from access_control.models import EmailOptOut, Notification, NotificationMail
from registry import notification_events

from . import recipients
from .content import describe


def references(row) -> dict:
    return {"kind": row.kind, "child_id": row.child_id, "involvement_id": row.involvement_id,
            "old_la_id": row.old_la_id, "new_la_id": row.new_la_id}


def notice_for(session: Session, notification: Notification, user) -> dict | None:
    """What ``notification`` shows ``user`` now (content.describe through their visibility policy)."""
    return describe(session, VisibilityPolicy(viewer_for(user)), **references(notification))


def audit_details(notice: dict, channel: str, notification: Notification) -> dict:
    # Who was told what about which child: the child and its authority as audit review filters them.
    la = notice["local_authority"]["code"] if notice.get("local_authority") else None
    return {"cp_id": notice["cp_id"], "shielded": notice["shielded"], "child_la": la, "kind": notice["kind"],
            "channel": channel, "notification": notification.id, "redacted": notice["redacted"],
            "involvement": notification.involvement_id}


def expand_events(sessions: sessionmaker, batch: int = 100) -> int:
    """Turn waiting events into notices, ``batch`` events a transaction, until none wait; returns notices written."""
    written = 0
    while True:
        with sessions.begin() as session:
            events = notification_events.take(session, batch)
            for event in events:
                written += _expand(session, event)
        if len(events) < batch:
            return written


def _expand(session: Session, event) -> int:
    written = 0
    users = recipients.for_event(session, event)
    opted_out = set(session.execute(select(EmailOptOut.user_id).where(
        EmailOptOut.user_id.in_([u.id for u in users]), EmailOptOut.kind == event.kind)).scalars())
    for user in users:
        viewer = viewer_for(user)
        notice = describe(session, VisibilityPolicy(viewer), **references(event))
        if notice is None or (event.kind == "involvement_started" and notice["service"] is None):
            continue  # nothing this person may be told about this service (sensitive, or a shielded child's)
        notification = Notification(event_id=event.id, user_id=user.id, **references(event))
        session.add(notification)
        session.flush()
        if user.email and user.id not in opted_out:
            session.add(NotificationMail(notification_id=notification.id))
        audit.record(session, viewer, "notification_sent", audit_details(notice, "in_app", notification))
        written += 1
    return written
