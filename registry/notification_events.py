"""The notification outbox: events written in the same transaction as the change they announce.

Only a child already on record is announced (a child a row has just made has no one else to tell), and
only references are kept: the notifier (webapp.notifications) works out recipients and what each may see
when it delivers. Nothing else writes this table; the notifier takes events out through ``take``.
"""
from __future__ import annotations

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from analyzers import clock

from .models import Child, Involvement, NotificationEvent


MADE = "children_made"  # Session.info: (transaction, ids of the children it made)


def made(session: Session, child: Child) -> None:
    """Remember that this transaction made the child: its first involvements and authority are nobody's news."""
    entry = session.info.get(MADE)
    if entry is None or entry[0] is not session.get_transaction():
        entry = session.info[MADE] = (session.get_transaction(), set())
    entry[1].add(child.id)


def _existing(session: Session, child: Child) -> bool:
    entry = session.info.get(MADE)
    fresh = entry[1] if entry is not None and entry[0] is session.get_transaction() else ()
    return child.id is not None and child not in session.new and child.id not in fresh


def involvement_started(session: Session, child: Child, involvement: Involvement) -> None:
    """Announce a new involvement with a child that was already on record (flushes for the involvement's id)."""
    if not _existing(session, child):
        return
    if involvement.id is None:
        session.flush()
    session.add(NotificationEvent(kind="involvement_started", child_id=child.id, involvement_id=involvement.id))


def authority_changed(session: Session, child: Child, old_la_id: int | None, new_la_id: int | None) -> None:
    """Announce a child on record moving from one responsible local authority to another."""
    if old_la_id != new_la_id and _existing(session, child):
        session.add(NotificationEvent(kind="authority_changed", child_id=child.id, old_la_id=old_la_id,
                                      new_la_id=new_la_id))


def event_rows(kind: str, rows: list[dict]) -> list[dict]:
    """Rows for registry.bulk to insert a batch's events in one statement."""
    now = clock.now()
    return [{"kind": kind, "child_id": row["child_id"], "involvement_id": row.get("involvement_id"),
             "old_la_id": row.get("old_la_id"), "new_la_id": row.get("new_la_id"), "created_at": now}
            for row in rows]


def take(session: Session, limit: int = 100) -> list[Row]:
    """The oldest events nobody else is taking, removed in the caller's transaction (so they are handled
    once: a worker that fails rolls back and leaves them for the next). PostgreSQL skips rows another
    worker holds; SQLite serialises writers anyway."""
    table = NotificationEvent.__table__
    query = select(table).order_by(table.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    events = session.execute(query).all()
    if events:
        session.execute(delete(table).where(table.c.id.in_([e.id for e in events])))
    return events
