"""Indexer checkpoints and change-log reads: how far each indexer has applied the outbox."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, or_, select, union, update
from sqlalchemy.orm import Session

from analyzers import clock

from .models import ChangeLog, Child, IndexCheckpoint, IndexDeadLetter


def get_checkpoint(session: Session, name: str) -> int:
    row = session.get(IndexCheckpoint, name)
    return row.seq if row else 0


def set_checkpoint(session: Session, name: str, seq: int, owner: str | None = None,
                   lease_seconds: float | None = None) -> None:
    """Move the checkpoint; with ``owner``, only while that worker holds the lease, which is renewed
    for ``lease_seconds`` (required: no default, so every renewal lasts what the worker was told).

    Without ``owner``, only while nobody holds it: a follower or a rebuild that leads must not have
    the checkpoint moved under it (a rebuild would then swap in an index lacking those changes).
    """
    if owner is not None:
        if lease_seconds is None:
            raise TypeError("set_checkpoint with an owner renews its lease: pass lease_seconds")
        renewed = clock.now() + dt.timedelta(seconds=lease_seconds)
        moved = session.execute(update(IndexCheckpoint)
                                .where(IndexCheckpoint.name == name, IndexCheckpoint.lease_owner == owner)
                                .values(seq=seq, lease_until=renewed).execution_options(synchronize_session=False))
        if moved.rowcount != 1:
            raise LeaseLost(f"the lease on {name!r} passed to another worker: this one stands down")
        return
    moved = session.execute(update(IndexCheckpoint)
                            .where(IndexCheckpoint.name == name, _unleased(clock.now()))
                            .values(seq=seq).execution_options(synchronize_session=False))
    if moved.rowcount == 1:
        return
    if session.get(IndexCheckpoint, name) is not None:
        raise LeaseLost(f"{lease_holder(session, name)!r} holds the lease on {name!r}: the checkpoint was not moved")
    session.add(IndexCheckpoint(name=name, seq=seq))


class LeaseLost(RuntimeError):
    """Another worker took over the checkpoint (this one stalled past its lease)."""


# A rebuild's lease owner starts with this: a rebuild takes the lease from a follower, never from another rebuild.
REBUILD = "rebuild:"


def _unleased(now: dt.datetime):
    return or_(IndexCheckpoint.lease_owner.is_(None), IndexCheckpoint.lease_until < now)


def lease_holder(session: Session, name: str) -> str | None:
    """Who holds the lease now (None: nobody, or it lapsed)."""
    return session.scalar(select(IndexCheckpoint.lease_owner)
                          .where(IndexCheckpoint.name == name, ~_unleased(clock.now())))


def acquire_lease(session: Session, name: str, owner: str, seconds: float) -> bool:
    """Take or renew the lease in one atomic UPDATE; True when ``owner`` holds it now."""
    return _take_lease(session, name, owner, seconds, lambda now: _unleased(now))


def seize_lease(session: Session, name: str, owner: str, seconds: float) -> bool:
    """Take the lease for a rebuild, from a live follower too; False while another rebuild holds it.

    The follower it is taken from can no longer move the checkpoint (``set_checkpoint`` checks the
    owner), so a batch it is still writing is never recorded as applied; it stands by until released.
    """
    return _take_lease(session, name, owner, seconds,
                       lambda now: or_(_unleased(now), ~IndexCheckpoint.lease_owner.startswith(REBUILD, autoescape=True)))


def _take_lease(session: Session, name: str, owner: str, seconds: float, takeable) -> bool:
    """One atomic UPDATE: ``owner`` renews its lease, or takes it where ``takeable(now)`` holds."""
    now = clock.now()
    if session.get(IndexCheckpoint, name) is None:
        session.add(IndexCheckpoint(name=name, seq=0))
        session.flush()
    taken = session.execute(
        update(IndexCheckpoint)
        .where(IndexCheckpoint.name == name, or_(IndexCheckpoint.lease_owner == owner, takeable(now)))
        .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=seconds))
        .execution_options(synchronize_session=False))
    return taken.rowcount == 1


def release_lease(session: Session, name: str, owner: str) -> None:
    session.execute(update(IndexCheckpoint).where(IndexCheckpoint.name == name, IndexCheckpoint.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))


def last_change_seq(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(ChangeLog.seq), 0)))


def changes_after(session: Session, seq: int, limit: int) -> list[ChangeLog]:
    return list(session.scalars(select(ChangeLog).where(ChangeLog.seq > seq).order_by(ChangeLog.seq).limit(limit)))


def latest_change_per_child(session: Session, up_to: int, after: int = 0, limit: int | None = None
                            ) -> list[tuple[int, int]]:
    """(child_id, newest seq up to ``up_to``) for children with ids above ``after``, in id order, at
    most ``limit`` of them: one keyset page of the external versions of their documents.

    Walks the (child_id, seq) index in order and stops after ``limit`` children, so a page costs
    the same wherever it starts.
    """
    query = (select(ChangeLog.child_id, func.max(ChangeLog.seq))
             .where(ChangeLog.seq <= up_to, ChangeLog.child_id > after)
             .group_by(ChangeLog.child_id).order_by(ChangeLog.child_id))
    return list(session.execute(query if limit is None else query.limit(limit)).tuples())


def oldest_change_after(session: Session, seq: int) -> dt.datetime | None:
    """When the oldest change not yet applied was made (for lag in seconds)."""
    return session.scalar(select(ChangeLog.created_at).where(ChangeLog.seq > seq).order_by(ChangeLog.seq).limit(1))


def latest_seq_of(session: Session, child_ids: list[int]) -> dict[int, int]:
    if not child_ids:
        return {}
    return dict(session.execute(select(ChangeLog.child_id, func.max(ChangeLog.seq))
                                .where(ChangeLog.child_id.in_(child_ids)).group_by(ChangeLog.child_id)).tuples().all())


def cp_ids_of(session: Session, child_ids: list[int]) -> dict[int, str]:
    """The ContactPoint IDs the change log recorded, for children that no longer exist."""
    if not child_ids:
        return {}
    rows = session.execute(select(ChangeLog.child_id, func.max(ChangeLog.cp_id))  # one row per child
                           .where(ChangeLog.child_id.in_(child_ids), ChangeLog.cp_id.is_not(None))
                           .group_by(ChangeLog.child_id))
    return {child_id: cp_id for child_id, cp_id in rows}


def record_dead_letter(session: Session, child_id: int, cp_id: str | None, error: str) -> None:
    now = clock.now()
    row = session.get(IndexDeadLetter, child_id)
    if row is None:
        session.add(IndexDeadLetter(child_id=child_id, cp_id=cp_id, error=error[:4000], attempts=1,
                                    first_failed_at=now, last_failed_at=now))
    else:
        row.error, row.attempts, row.last_failed_at = error[:4000], row.attempts + 1, now


def clear_dead_letters(session: Session, child_ids: list[int]) -> None:
    if child_ids:
        session.execute(delete(IndexDeadLetter).where(IndexDeadLetter.child_id.in_(child_ids)))


def dead_letters(session: Session, limit: int = 100) -> list[IndexDeadLetter]:
    return list(session.scalars(select(IndexDeadLetter).order_by(IndexDeadLetter.last_failed_at).limit(limit)))


def dead_letter_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(IndexDeadLetter))


def shielded_since_indexed(session: Session, checkpoint_name: str) -> list[str]:
    """Children shielded in the database whose index documents may not say so yet.

    A shielding the indexer has not applied (after its checkpoint, or stuck as a dead letter).
    Searches treat these as shielded at once, so a lagging index cannot leak a location match. The
    indexer keeps its side: it moves the checkpoint past a shielding, or clears a shielded child's
    dead letter, only once the document saying so is searchable in the live index.
    """
    # The checkpoint as a subquery, not a query of its own: every search asks this (one round trip, not two).
    seq = func.coalesce(select(IndexCheckpoint.seq).where(IndexCheckpoint.name == checkpoint_name)
                        .scalar_subquery(), 0)
    shieldings = select(ChangeLog.child_id).where(ChangeLog.change == "shielded")
    # Two branches rather than one OR, so the first is a range scan of the (change, seq) index: the
    # shieldings after the checkpoint, however many there were before it.
    pending = union(shieldings.where(ChangeLog.seq > seq),
                    shieldings.where(ChangeLog.child_id.in_(select(IndexDeadLetter.child_id))))
    return list(session.scalars(select(Child.cp_id).where(Child.shielded.is_(True), Child.id.in_(pending))))
