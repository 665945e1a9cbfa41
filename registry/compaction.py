"""Change-log compaction: remove changes that no indexer and no reader needs any more.

A change goes only when all three hold:
- every checkpoint is past it (its seq is at or below the lowest checkpoint): no indexer has it
  still to apply, and ``shielded_since_indexed`` reads only changes after a checkpoint;
- the same child has a newer change: each child's newest change stays, because it is the
  external version a rebuild gives the child's document, and the cp_id with which a purged
  child's document is deleted. (A document is always built from the child's current state, so
  the newest change alone brings any index, even one that starts from nothing, up to date.)
- the child is not a dead letter: its retries, and ``shielded_since_indexed`` for it, read its changes.
It deletes in windows of ``batch_size`` sequence numbers, one short transaction each, so it never
holds a long lock and writers go on appending meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import aliased, sessionmaker

from .models import ChangeLog, IndexCheckpoint, IndexDeadLetter

BATCH_SIZE = 5000


class NoCheckpoint(RuntimeError):
    """No indexer has recorded how far it got, so every change may still be needed."""


@dataclass
class CompactionResult:
    removed: int
    horizon: int  # the lowest checkpoint: nothing after it was touched
    remaining: int


def horizon(session) -> int | None:
    """The lowest checkpoint (None when there is none): every indexer has applied the changes up to it."""
    return session.scalar(select(func.min(IndexCheckpoint.seq)))


def _removable(start: int, end: int):
    newer = aliased(ChangeLog)
    return (delete(ChangeLog)
            .where(ChangeLog.seq > start, ChangeLog.seq <= end,
                   exists().where(newer.child_id == ChangeLog.child_id, newer.seq > ChangeLog.seq),
                   ChangeLog.child_id.not_in(select(IndexDeadLetter.child_id)))
            .execution_options(synchronize_session=False))


def compact(sessions: sessionmaker, batch_size: int = BATCH_SIZE,
            on_batch: Callable[[int, int], None] = lambda removed, up_to: None) -> CompactionResult:
    """Remove what every checkpoint is past and no reader needs; ``on_batch(removed, up_to)`` after each window."""
    with sessions() as session:
        up_to = horizon(session)
        if up_to is None:
            raise NoCheckpoint("no indexer checkpoint exists, so every change may still be needed: nothing was "
                               "removed (run `contactpoint index rebuild` or `index sync` first)")
        start = (session.scalar(select(func.min(ChangeLog.seq))) or 1) - 1
    removed = 0
    while start < up_to:
        end = min(start + batch_size, up_to)
        with sessions.begin() as session:
            gone = session.execute(_removable(start, end)).rowcount
        removed += gone
        on_batch(gone, end)
        start = end
    with sessions() as session:
        remaining = session.scalar(select(func.count()).select_from(ChangeLog))
    return CompactionResult(removed, up_to, remaining)
