"""Merge two children found to be one, and undo it.

A merge keeps the older ContactPoint ID: the other child becomes ``merged`` into it (its row stays, with its
own fields and primary name, and leads to the survivor), and everything that hung off it moves to the survivor.
The ChildMerge row records what moved and both children's shielding before and after, so unmerge gives each
child back what was its own. Audit is the caller's (the web layer's) job: the ChildMerge says who, what and when.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzers import clock

from . import survivorship, writes
from .models import (
    Carer, Child, ChildAddress, ChildMerge, ChildName, Involvement, ReviewCandidate, ReviewItem, SourceRecord,
)

# Names that move with the merged child; its primary name stays its own (the survivor gets a "previous" copy).
MOVING_NAME_KINDS = ("alias", "previous", "source")


def resolve(session: Session, child: Child) -> Child:
    """The child a (possibly merged, possibly more than once) child leads to."""
    seen = {child.id}
    while child.status == "merged" and child.merged_into_id is not None:
        child = session.get(Child, child.merged_into_id)
        if child.id in seen:  # a cycle would be a defect; stop rather than loop forever
            break
        seen.add(child.id)
    return child


def merge(session: Session, a: Child, b: Child, actor: str, review_item: ReviewItem | None = None) -> ChildMerge:
    """Merge ``a`` and ``b`` (in either order): the older survives, the newer is merged into it."""
    _refuse_merge(session, a, b)
    survivor, merged = sorted(_lock(session, a, b), key=lambda c: (c.created_at, c.id))
    _refuse_merge(session, a, b)  # again, now that nobody else can change them
    how = "reviewed" if review_item is not None else "manual"
    moved: dict = {
        "status": {"survivor": survivor.status, "merged": merged.status},
        "shielding_before": _shielding(survivor, merged),
        "source_records": _move_source_records(session, merged, survivor, how, review_item),
        "names": _move(session, ChildName, merged, survivor, ChildName.kind.in_(MOVING_NAME_KINDS)),
        "added_names": _add_previous_name(session, merged, survivor),
        "carers": _move(session, Carer, merged, survivor),
        "involvements": _move(session, Involvement, merged, survivor),
        "addresses": _move(session, ChildAddress, merged, survivor),
        "review": _repoint_reviews(session, merged, survivor, actor, review_item),
    }
    _shield_both_if_either(session, survivor, merged)
    moved["shielding_after"] = _shielding(survivor, merged)
    merged.status, merged.merged_into_id = "merged", survivor.id
    record = ChildMerge(survivor_id=survivor.id, merged_id=merged.id, moved=moved,
                        review_item_id=review_item.id if review_item else None, merged_by=actor, merged_at=clock.now())
    session.add(record)
    session.flush()
    session.expire(survivor, ["names", "carers", "involvements"])
    session.expire(merged, ["names", "carers", "involvements"])
    survivorship.rederive(session, survivor)
    writes.log_change(session, survivor, "merged")
    writes.log_change(session, merged, "merged_away")
    return record


def unmerge(session: Session, merged: Child, actor: str) -> ChildMerge:
    """Give a merged child back what the merge moved, and both children the shielding they had before it."""
    survivor = session.get(Child, _merge_to_undo(session, merged).survivor_id)
    _lock(session, merged, survivor)
    record = _merge_to_undo(session, merged)  # again, now that nobody else can change them
    if survivor.status == "merged":
        raise writes.RegistryError("cp_id", f"{survivor.cp_id}, which {merged.cp_id} was merged into, has since been "
                                            f"merged into {resolve(session, survivor).cp_id}: unmerge that first")
    moved = record.moved
    returned = _return_source_records(session, moved["source_records"], survivor, merged)
    for model, key in ((ChildName, "names"), (Carer, "carers"), (Involvement, "involvements"),
                       (ChildAddress, "addresses")):
        _move_back(session, model, moved[key], returned, survivor, merged)
    for name in session.scalars(select(ChildName).where(ChildName.id.in_(moved["added_names"]),
                                                        ChildName.child_id == survivor.id)):
        session.delete(name)
    _restore_reviews(session, moved["review"], survivor, merged)
    merged.status, merged.merged_into_id = moved["status"]["merged"], None
    _restore_shielding(session, survivor, "survivor", moved)
    _restore_shielding(session, merged, "merged", moved)
    record.unmerged_by, record.unmerged_at = actor, clock.now()
    session.flush()
    for child in (survivor, merged):
        session.expire(child, ["names", "carers", "involvements"])
        survivorship.rederive(session, child)
        writes.log_change(session, child, "unmerged")
    return record


def _refuse_merge(session: Session, a: Child, b: Child) -> None:
    if a.id == b.id:
        raise writes.RegistryError("other_cp_id", "cannot merge a child into itself")
    for child, field in ((a, "cp_id"), (b, "other_cp_id")):
        if child.status == "merged":
            target = resolve(session, child)
            into = target.cp_id if target is not child else "another child"
            raise writes.RegistryError(field, f"{child.cp_id} was merged into {into}: merge with that child instead")
        if child.status == "deleted":
            raise writes.RegistryError(field, f"{child.cp_id} was deleted")


def _lock(session: Session, *children: Child) -> list[Child]:
    """Both rows, locked (PostgreSQL; SQLite's writer lock is held already) and read afresh, in id order."""
    ids = sorted(c.id for c in children)
    locked = session.scalars(select(Child).where(Child.id.in_(ids)).order_by(Child.id).with_for_update()
                             .execution_options(populate_existing=True)).all()
    return list(locked)


def _shielding(survivor: Child, merged: Child) -> dict:
    return {"survivor": [survivor.shielded, survivor.shielding_reason],
            "merged": [merged.shielded, merged.shielding_reason]}


def _move_source_records(session: Session, merged: Child, survivor: Child, how: str,
                         review_item: ReviewItem | None) -> list[dict]:
    """Move the records, remembering each one's link so unmerge can put it back as it was."""
    taken = []
    candidate = _chosen_candidate(review_item, survivor, merged)
    for record in session.scalars(select(SourceRecord).where(SourceRecord.child_id == merged.id)
                                  .order_by(SourceRecord.id)):
        taken.append({"id": record.id, "link_decision": record.link_decision, "match_weight": record.match_weight,
                      "link_contributions": record.link_contributions})
        record.origin_child_id = record.origin_child_id or merged.id
        record.child_id, record.link_decision = survivor.id, how
        if candidate is not None and record.id == review_item.source_record_id:
            # The reviewer's decision rests on this weight: keep it so the link can be explained.
            record.match_weight, record.link_contributions = candidate.match_weight, candidate.contributions
    return taken


def _chosen_candidate(review_item: ReviewItem | None, survivor: Child, merged: Child) -> ReviewCandidate | None:
    if review_item is None:
        return None
    return next((c for c in review_item.candidates if c.child_id in (survivor.id, merged.id)), None)


def _move(session: Session, model, merged: Child, survivor: Child, *where) -> list[int]:
    rows = session.scalars(select(model).where(model.child_id == merged.id, *where).order_by(model.id)).all()
    for row in rows:
        row.child_id = survivor.id
    return [row.id for row in rows]


def _add_previous_name(session: Session, merged: Child, survivor: Child) -> list[int]:
    """The merged child's name stays searchable on the survivor, unless the survivor already has it."""
    name = (merged.given_name, merged.middle_names, merged.family_name)
    known = session.execute(select(ChildName.given_name, ChildName.middle_names, ChildName.family_name)
                            .where(ChildName.child_id == survivor.id, ChildName.kind != "source")).all()
    if name in {tuple(row) for row in known}:
        return []
    previous = ChildName(child_id=survivor.id, kind="previous", given_name=name[0], middle_names=name[1],
                         family_name=name[2])
    session.add(previous)
    session.flush()
    return [previous.id]


def _repoint_reviews(session: Session, merged: Child, survivor: Child, actor: str,
                     review_item: ReviewItem | None) -> dict:
    """Open items about the merged child now ask about the survivor.

    A candidate that is now the item's own child, or a second copy of the survivor, is dropped; an item left
    without candidates had its question answered by the merge and is closed as merged. The item being
    decided is its decider's business."""
    query = select(ReviewItem).where(ReviewItem.status == "open", ReviewItem.child_id.in_([merged.id, survivor.id])
                                     | ReviewItem.id.in_(select(ReviewCandidate.item_id)
                                                         .where(ReviewCandidate.child_id == merged.id)))
    if review_item is not None:
        query = query.where(ReviewItem.id != review_item.id)
    done: dict = {"items": [], "candidates": [], "dropped": [], "closed": []}
    for item in session.scalars(query.order_by(ReviewItem.id)).all():
        if item.child_id == merged.id:
            item.child_id = survivor.id
            done["items"].append(item.id)
        others = {c.child_id for c in item.candidates if c.child_id != merged.id} | {item.child_id}
        for candidate in list(item.candidates):
            if candidate.child_id == item.child_id or (candidate.child_id == merged.id and survivor.id in others):
                done["dropped"].append({"item_id": item.id, "child_id": candidate.child_id,
                                        "match_weight": candidate.match_weight,
                                        "contributions": candidate.contributions})
                item.candidates.remove(candidate)
            elif candidate.child_id == merged.id:
                candidate.child_id = survivor.id
                done["candidates"].append(candidate.id)
        if not item.candidates:
            item.status, item.merged_with_id = "merged", survivor.id
            item.decided_by, item.decided_at = actor, clock.now()
            done["closed"].append(item.id)
    return done


def _shield_both_if_either(session: Session, survivor: Child, merged: Child) -> None:
    """One child: hidden if either record was, for the reason the survivor's record gives, else the other's."""
    if not (survivor.shielded or merged.shielded):
        return
    reason = survivor.shielding_reason if survivor.shielded else merged.shielding_reason
    for child in (survivor, merged):
        if not child.shielded:
            writes.set_shielded(session, child, True, reason)


def _merge_to_undo(session: Session, merged: Child) -> ChildMerge:
    records = session.scalars(select(ChildMerge).where(ChildMerge.merged_id == merged.id)
                              .order_by(ChildMerge.id.desc())).all()
    if not records:
        raise writes.RegistryError("cp_id", f"{merged.cp_id} was never merged")
    if merged.status != "merged" or records[0].unmerged_at is not None:
        raise writes.RegistryError("cp_id", f"{merged.cp_id} is not merged: its last merge was undone already")
    return records[0]


def _return_source_records(session: Session, taken: list[dict], survivor: Child, merged: Child) -> set[int]:
    """The records the merge moved that are still on the survivor go back, with the link they had."""
    returned = set()
    by_id = {entry["id"]: entry for entry in taken}
    for record in session.scalars(select(SourceRecord).where(SourceRecord.id.in_(list(by_id)),
                                                             SourceRecord.child_id == survivor.id)):
        before = by_id[record.id]
        record.child_id = merged.id
        record.link_decision, record.match_weight = before["link_decision"], before["match_weight"]
        record.link_contributions = before["link_contributions"]
        returned.add(record.id)
    return returned


def _move_back(session: Session, model, moved_ids: list[int], returned_records: set[int], survivor: Child,
               merged: Child) -> None:
    """What moved and is still on the survivor, and whatever the returned records brought since, goes back.

    Rows registered on the survivor after the merge (no moved id, no returned record) stay."""
    belongs = model.id.in_(moved_ids)
    if returned_records:
        belongs = belongs | model.source_record_id.in_(returned_records)
    for row in session.scalars(select(model).where(model.child_id == survivor.id, belongs)):
        if model is ChildName and row.kind not in MOVING_NAME_KINDS:
            continue
        row.child_id = merged.id


def _restore_reviews(session: Session, done: dict, survivor: Child, merged: Child) -> None:
    """Items the merge re-pointed or closed ask about the merged child again, unless decided since."""
    for item_id in done["closed"]:
        item = session.get(ReviewItem, item_id)
        if item is not None and item.status == "merged" and item.merged_with_id == survivor.id:
            item.status, item.merged_with_id, item.decided_by, item.decided_at = "open", None, None, None
    for item_id in done["items"]:
        item = session.get(ReviewItem, item_id)
        if item is not None and item.status == "open" and item.child_id == survivor.id:
            item.child_id = merged.id
    for candidate_id in done["candidates"]:
        candidate = session.get(ReviewCandidate, candidate_id)
        if candidate is not None and candidate.item.status == "open" and candidate.child_id == survivor.id:
            candidate.child_id = merged.id
    for dropped in done["dropped"]:
        item = session.get(ReviewItem, dropped["item_id"])
        if item is not None and item.status == "open" and all(c.child_id != dropped["child_id"]
                                                              for c in item.candidates):
            item.candidates.append(ReviewCandidate(child_id=dropped["child_id"], match_weight=dropped["match_weight"],
                                                   contributions=dropped["contributions"]))


def _restore_shielding(session: Session, child: Child, role: str, moved: dict) -> None:
    """Back to the shielding before the merge, unless someone changed it after the merge."""
    after, before = moved["shielding_after"][role], moved["shielding_before"][role]
    if [child.shielded, child.shielding_reason] != after:
        return
    writes.set_shielded(session, child, before[0], before[1])
