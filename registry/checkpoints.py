"""Indexer checkpoints and change-log reads: how far each indexer has applied the outbox."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import ChangeLog, IndexCheckpoint


def get_checkpoint(session: Session, name: str) -> int:
    row = session.get(IndexCheckpoint, name)
    return row.seq if row else 0


def set_checkpoint(session: Session, name: str, seq: int) -> None:
    row = session.get(IndexCheckpoint, name)
    if row is None:
        session.add(IndexCheckpoint(name=name, seq=seq))
    else:
        row.seq = seq


def last_change_seq(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(ChangeLog.seq), 0)))


def changes_after(session: Session, seq: int, limit: int) -> list[ChangeLog]:
    return list(session.scalars(select(ChangeLog).where(ChangeLog.seq > seq).order_by(ChangeLog.seq).limit(limit)))


def latest_change_per_child(session: Session, up_to: int) -> list[tuple[int, int]]:
    """(child_id, newest seq) for every child: the external version of its document."""
    return list(session.execute(select(ChangeLog.child_id, func.max(ChangeLog.seq))
                                .where(ChangeLog.seq <= up_to).group_by(ChangeLog.child_id)
                                .order_by(ChangeLog.child_id)).tuples())
