"""Record retention: children are archived at 18 and purged a fixed number of years later.

Run once a day (``contactpoint retention run``). Archiving hides a child from every search but
keeps the record; purging removes the child, everything hanging off it and its source records
from the database, and -- through the change log -- its document from the index.

Both steps select candidates with a plain date bound on the indexed ``date_of_birth`` column and
walk them in id order, ``BATCH_SIZE`` at a time, so a run over millions of children never holds
more than one batch of records in memory. The exact birthday rule (29 February) is re-checked in
Python for every candidate, so the SQL bound only has to be a superset.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Iterator

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    Carer, Child, ChildMerge, ChildName, Involvement, NonMatch, ReviewCandidate, ReviewItem, SourceRecord,
)
from .writes import log_change

ADULT_AGE = 18
BATCH_SIZE = 500

# Told (session, step, details) inside a step's transaction when the step did something, so the caller's
# record of it (the audit trail, which registry knows nothing of) commits or rolls back with the step.
StepRecorder = Callable[[Session, str, dict], object]


@dataclass
class RetentionResult:
    archived: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)


def _add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar date ``years`` later; 29 February becomes 1 March in a non-leap year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February -> a year without one
        return dt.date(day.year + years, 3, 1)


def _years_before(day: dt.date, years: int) -> dt.date:
    """A date-of-birth bound: everyone born on or before it may have reached ``years`` by ``day``.

    On 29 February the bound is 28 February (nobody is born on a 29 February that does not exist).
    """
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return dt.date(day.year - years, 2, 28)


def eighteenth_birthday(dob: dt.date) -> dt.date:
    """The day a child turns 18 (born 29 February: 1 March in a non-leap year)."""
    return _add_years(dob, ADULT_AGE)


def purge_date(dob: dt.date, retention_years: int) -> dt.date:
    """The day an archived record is due for deletion: ``retention_years`` after the 18th birthday."""
    return _add_years(eighteenth_birthday(dob), retention_years)


def _candidates(session: Session, status: str, bound: dt.date) -> Iterator[list[Child]]:
    """Children with ``status`` born on or before ``bound``, in id order, one locked batch at a time."""
    last_id = 0
    while True:
        batch = list(session.scalars(
            select(Child)
            .where(Child.status == status, Child.date_of_birth <= bound, Child.id > last_id)
            .order_by(Child.id).limit(BATCH_SIZE).with_for_update()))
        if not batch:
            return
        last_id = batch[-1].id
        yield batch


def archive_adults(session: Session, today: dt.date) -> list[str]:
    """Archive every active child whose 18th birthday is on or before ``today``; their cp_ids."""
    archived: list[str] = []
    for batch in _candidates(session, "active", _years_before(today, ADULT_AGE)):
        for child in batch:
            if eighteenth_birthday(child.date_of_birth) > today:
                continue
            child.status = "archived"
            log_change(session, child, "archived")
            archived.append(child.cp_id)
        session.flush()
    return archived


def purge_expired(session: Session, today: dt.date, retention_years: int) -> list[str]:
    """Delete every archived child whose 18th birthday + ``retention_years`` is on or before ``today``.

    The "purged" change is logged first (it keeps the cp_id, so the indexer can remove the
    document), then the child's source records, then the child with its names, carers and
    involvements. A child merged into a purged one is the same child: it goes with it (its source
    records and names already moved to the survivor; what it kept goes now). Active and deleted
    children are not touched.
    """
    if retention_years < 0:
        raise ValueError(f"retention_years must not be negative, got {retention_years}")
    purged: list[str] = []
    for batch in _candidates(session, "archived", _years_before(today, ADULT_AGE + retention_years)):
        due = [c for c in batch if purge_date(c.date_of_birth, retention_years) <= today]
        if not due:
            continue
        due += _merged_into(session, [c.id for c in due])
        ids = [c.id for c in due]
        for child in due:
            log_change(session, child, "purged")
            purged.append(child.cp_id)
        session.flush()
        _forget_linkage(session, ids)
        # Explicit statements rather than ORM cascades: five statements per batch, and the same
        # result on SQLite and PostgreSQL whatever the database-level ON DELETE rules do.
        for model in (ChildName, Carer, Involvement):
            session.execute(delete(model).where(model.child_id.in_(ids)),
                            execution_options={"synchronize_session": False})
        session.execute(delete(SourceRecord).where(SourceRecord.child_id.in_(ids)),
                        execution_options={"synchronize_session": False})
        session.execute(delete(Child).where(Child.id.in_(ids)), execution_options={"synchronize_session": False})
        for child in due:
            session.expunge(child)  # its collections were deleted above; the ORM must not touch them
    return purged


def _merged_into(session: Session, ids: list[int]) -> list[Child]:
    """Every child merged, directly or through a chain of merges, into one of ``ids``."""
    found: list[Child] = []
    frontier = ids
    while frontier:
        layer = list(session.scalars(select(Child).where(Child.merged_into_id.in_(frontier), Child.status == "merged")))
        found += layer
        frontier = [child.id for child in layer]
    return found


def _forget_linkage(session: Session, ids: list[int]) -> None:
    """Linkage rows about purged children (review items and candidates, non-matches, merges) go with them,
    and other rows stop pointing at them or their source records; an open item left without candidates goes."""
    quiet = {"synchronize_session": False}
    records = select(SourceRecord.id).where(SourceRecord.child_id.in_(ids))
    their_items = select(ReviewItem.id).where(ReviewItem.child_id.in_(ids))
    offering_them = list(session.scalars(select(ReviewCandidate.item_id).where(ReviewCandidate.child_id.in_(ids))))
    session.execute(delete(ReviewCandidate).where(ReviewCandidate.child_id.in_(ids)
                                                  | ReviewCandidate.item_id.in_(their_items)), execution_options=quiet)
    session.execute(delete(ChildMerge).where(ChildMerge.survivor_id.in_(ids) | ChildMerge.merged_id.in_(ids)),
                    execution_options=quiet)
    session.execute(delete(NonMatch).where(NonMatch.low_child_id.in_(ids) | NonMatch.high_child_id.in_(ids)),
                    execution_options=quiet)
    session.execute(update(ChildMerge).where(ChildMerge.review_item_id.in_(their_items)).values(review_item_id=None),
                    execution_options=quiet)
    session.execute(update(ReviewItem).where(ReviewItem.merged_with_id.in_(ids)).values(merged_with_id=None),
                    execution_options=quiet)
    session.execute(update(ReviewItem).where(ReviewItem.source_record_id.in_(records)).values(source_record_id=None),
                    execution_options=quiet)
    session.execute(update(SourceRecord).where(SourceRecord.origin_child_id.in_(ids)).values(origin_child_id=None),
                    execution_options=quiet)
    left_empty = ReviewItem.id.in_(offering_them) & (ReviewItem.status == "open") & ~exists().where(
        ReviewCandidate.item_id == ReviewItem.id)
    session.execute(delete(ReviewItem).where(ReviewItem.child_id.in_(ids) | left_empty), execution_options=quiet)


def _details(today: dt.date, retention_years: int, cp_ids: list[str]) -> dict:
    return {"today": today.isoformat(), "count": len(cp_ids), "cp_ids": cp_ids, "retention_years": retention_years}


def run_retention(sessions: sessionmaker, today: dt.date, retention_years: int, *, record: StepRecorder,
                  dry_run: bool = False) -> RetentionResult:
    """Archive, then purge, each in its own transaction, ``record``-ing each step that did something
    ("retention_archive", "retention_purge") in that transaction.

    With ``dry_run`` both steps run in one transaction that is rolled back: the result says what
    a real run would do (a child can be archived and purged in the same run), nothing is written
    or recorded.
    """
    if dry_run:
        with sessions() as session:
            session.begin()
            try:
                archived = archive_adults(session, today)
                purged = purge_expired(session, today, retention_years)
            finally:
                session.rollback()
        return RetentionResult(archived, purged)

    with sessions.begin() as session:
        archived = archive_adults(session, today)
        if archived:
            record(session, "retention_archive", _details(today, retention_years, archived))
    with sessions.begin() as session:
        purged = purge_expired(session, today, retention_years)
        if purged:
            record(session, "retention_purge", _details(today, retention_years, purged))
    return RetentionResult(archived, purged)
