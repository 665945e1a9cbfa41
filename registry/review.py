"""The linkage review queue: people decide whether a new child is a child already known.

A decision is "merge" (the same child: merged with the chosen candidate), "different" (remembered as
non-matches, never proposed again) or "skip" (nothing written; the item stays open). Every decision names the
version of the item its decider saw: a decision on an item that changed or was decided meanwhile is a
ReviewConflict, so two people deciding at once get one winner and one clear conflict. Decided items are the
labelled pairs the linkage model is evaluated and trained against.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from analyzers import clock

from . import merging, survivorship, writes
from .models import Child, ChildMerge, NonMatch, ReviewCandidate, ReviewItem, SourceRecord

DECISIONS = ("merge", "different", "skip")
# The fields a labelled pair compares (as the linkage model reads them).
PAIR_FIELDS = ("given_name", "middle_names", "family_name", "date_of_birth", "gender", "postcode", "address_line_1",
               "nhs_number", "upn")


class ReviewConflict(writes.RegistryError):
    """The item was decided or changed since the decider read it."""

    def __init__(self, message: str):
        super().__init__("version", message)


def open_items(session: Session, authority_ids: set[int] | None, limit: int = 50, offset: int = 0
               ) -> list[ReviewItem]:
    """Open items, oldest first; with ``authority_ids``, only those whose new child or any candidate child
    belongs to one of those authorities (an LA team's queue); None means all (national administrators)."""
    query = select(ReviewItem).where(ReviewItem.status == "open")
    if authority_ids is not None:
        query = query.where(touches_authorities(authority_ids))
    return list(session.scalars(query.order_by(ReviewItem.created_at, ReviewItem.id).limit(limit).offset(offset)))


def touches_authorities(authority_ids: Iterable[int]):
    """A condition on ReviewItem: its child or one of its candidates belongs to one of the authorities."""
    ids = list(authority_ids)
    own_child = exists().where(Child.id == ReviewItem.child_id, Child.local_authority_id.in_(ids))
    candidate = exists().where(ReviewCandidate.item_id == ReviewItem.id, Child.id == ReviewCandidate.child_id,
                               Child.local_authority_id.in_(ids))
    return or_(own_child, candidate)


def decide(session: Session, item_id: int, decision: str, actor: str, expected_version: int,
           candidate_child_id: int | None = None) -> ReviewItem:
    """Apply a reviewer's decision to an open item at ``expected_version``.

    "merge" merges the item's child with ``candidate_child_id`` (default: the best candidate); "different"
    remembers the item's child and that candidate (default: every candidate) as different children. Raises
    ReviewConflict when the item is no longer open at that version (the session must then be rolled back),
    RegistryError for a bad decision or candidate.
    """
    if decision not in DECISIONS:
        raise writes.RegistryError("decision", f"must be one of {', '.join(DECISIONS)}")
    item = _locked_item(session, item_id)
    if item.status != "open" or item.version != expected_version:
        raise ReviewConflict(f"someone else decided or changed this item: it is {item.status} at version "
                             f"{item.version}, not open at version {expected_version}")
    if decision == "skip":
        return item
    candidates = _chosen(item, candidate_child_id, every=decision == "different")
    child = session.get(Child, item.child_id)
    if decision == "merge":
        other = session.get(Child, candidates[0].child_id)
        merging.merge(session, child, other, actor, review_item=item)
        item.merged_with_id = other.id
    else:
        for candidate in candidates:
            _remember_different(session, child.id, candidate.child_id, actor)
    item.status = "merged" if decision == "merge" else "different"
    item.decided_by, item.decided_at = actor, clock.now()
    try:
        session.flush()
    except StaleDataError:  # another decision committed between our read and our write
        raise ReviewConflict("someone else decided this item at the same time") from None
    return item


def _locked_item(session: Session, item_id: int) -> ReviewItem:
    """The item as committed now, locked until this transaction ends (so concurrent deciders queue up)."""
    item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update()
                          .execution_options(populate_existing=True))
    if item is None:
        raise writes.RegistryError("item_id", f"there is no review item {item_id}")
    return item


def _chosen(item: ReviewItem, candidate_child_id: int | None, every: bool) -> list[ReviewCandidate]:
    if not item.candidates:
        raise writes.RegistryError("candidate_child_id", "this item has no candidates left to decide on")
    if candidate_child_id is None:
        return list(item.candidates) if every else [item.candidates[0]]  # candidates come best first
    chosen = [c for c in item.candidates if c.child_id == candidate_child_id]
    if not chosen:
        raise writes.RegistryError("candidate_child_id", "is not one of this item's candidates")
    return chosen


def _remember_different(session: Session, a: int, b: int, actor: str) -> None:
    low, high = min(a, b), max(a, b)
    if session.get(NonMatch, (low, high)) is None:
        session.add(NonMatch(low_child_id=low, high_child_id=high, decided_by=actor, decided_at=clock.now()))


def _merge_groups(session: Session, child_ids: Iterable[int]) -> dict[int, int]:
    """{id: the child it stands for} for the given children and every child merged into them (at any depth):
    a reviewer's "different" about a child merged away still holds for the child it became part of."""
    group = {child_id: child_id for child_id in child_ids}
    frontier = set(group)
    while frontier:
        rows = session.execute(select(Child.id, Child.merged_into_id).where(
            Child.merged_into_id.in_(frontier), Child.status == "merged")).all()
        frontier = {child_id for child_id, _ in rows if child_id not in group}
        for child_id, into in rows:
            group.setdefault(child_id, group[into])
    return group


def non_matches_among(session: Session, child_id: int, candidate_ids: Iterable[int]) -> set[int]:
    """The candidates a reviewer said are different children from ``child_id`` (merges taken into account)."""
    candidates = {c for c in candidate_ids if c != child_id}
    if not candidates:
        return set()
    mine = set(_merge_groups(session, [child_id]))
    theirs = _merge_groups(session, candidates)
    rows = session.execute(select(NonMatch.low_child_id, NonMatch.high_child_id).where(or_(
        and_(NonMatch.low_child_id.in_(mine), NonMatch.high_child_id.in_(list(theirs))),
        and_(NonMatch.high_child_id.in_(mine), NonMatch.low_child_id.in_(list(theirs)))))).all()
    return {theirs[high if low in mine else low] for low, high in rows}


def is_non_match(session: Session, child_a_id: int, child_b_id: int) -> bool:
    return child_b_id in non_matches_among(session, child_a_id, [child_b_id])


def labelled_pairs(session: Session) -> Iterator[dict]:
    """Reviewers' decisions as labelled pairs: the row the item was made for (left) against a candidate
    child as it is now (right), leaving out what the merge brought it (or the pair would match itself). A merge
    decided on the item is a match, unless it was undone since (then it is no label at all; nor is an item a
    merge of the children by hand closed); "different" is a non-match for each candidate it named."""
    merged_here = select(ChildMerge.review_item_id).where(ChildMerge.review_item_id.is_not(None),
                                                          ChildMerge.unmerged_at.is_(None))
    items = session.scalars(select(ReviewItem).where(
        (ReviewItem.status == "different") | ((ReviewItem.status == "merged") & ReviewItem.id.in_(merged_here)))
        .order_by(ReviewItem.id))
    for item in items:
        left = _left(session, item)
        if item.status == "merged":
            pairs = [(item.merged_with_id, True)] if item.merged_with_id else []
        else:
            different = non_matches_among(session, item.child_id, [c.child_id for c in item.candidates])
            pairs = [(c.child_id, False) for c in item.candidates if c.child_id in different]
        for child_id, match in pairs:
            yield {"left": left, "right": _right(session, item, child_id), "match": match, "item": item.id}


def _left(session: Session, item: ReviewItem) -> dict:
    record = session.get(SourceRecord, item.source_record_id) if item.source_record_id else None
    if record is None:  # an item made without a row (by hand): the child as it is
        return child_fields(session.get(Child, item.child_id))
    return {field: record.payload.get(field) for field in PAIR_FIELDS}


def _right(session: Session, item: ReviewItem, child_id: int) -> dict:
    """The candidate as its own source records describe it (without the records the item's child brought)."""
    child = session.get(Child, child_id)
    own = session.scalars(select(SourceRecord).where(
        SourceRecord.child_id == merging.resolve(session, child).id,
        SourceRecord.origin_child_id.is_distinct_from(item.child_id),
        SourceRecord.id.is_distinct_from(item.source_record_id))).all()
    fields = child_fields(child)
    derived = survivorship.derive(own, session.info.get("source_trust")) if own else {}
    return {**fields, **{field: derived[field] for field in PAIR_FIELDS if field in derived}}


def child_fields(child: Child) -> dict:
    fields = {field: getattr(child, field) for field in PAIR_FIELDS}
    fields["date_of_birth"] = child.date_of_birth.isoformat()
    return fields
