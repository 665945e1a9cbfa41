"""Record linkage for people: the review queue, review decisions, merge and unmerge by hand.

Shared by the administration pages and the JSON API. Each function checks the caller's role and authority
through the visibility policy, shows every child only as the policy presents it, and writes its audit event
in the same transaction as what it read or changed (so nothing is shown or changed off the record).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from access_control import InvalidInput, NotAllowed, Viewer, VisibilityPolicy, audit
from registry import cpid, merging, review
from registry.models import Child, ChildMerge, Organisation, ReviewItem
from registry.writes import RegistryError

from .extensions import sessions
from .services import RecordNotFound

PAGE_SIZE = 25
DECISIONS = ("merge", "different", "skip")
CONFLICT = "someone else decided this item since you opened it: look at it again"


class LinkageConflict(RuntimeError):
    """The item or child is no longer in the state the caller acted on (a 409): decided since, already merged."""


class ReviewItemNotFound(LookupError):
    """No review item with that id (a 404)."""


def _policy(viewer: Viewer, permission: str, doing: str) -> VisibilityPolicy:
    policy = VisibilityPolicy(viewer)
    if not policy.may(permission):
        raise NotAllowed(f"your role ({viewer.role}) may not {doing}")
    return policy


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _la(child: Child) -> str | None:
    return child.local_authority.code if child.local_authority else None


def _valid_cp_id(text: str, field: str) -> str:
    value = cpid.normalise(text or "")
    if not cpid.is_valid(value):
        raise InvalidInput(field, "is not a valid ContactPoint ID: 10 digits whose last is the check digit")
    return value


def _children(session, ids) -> dict[int, Child]:
    rows = session.scalars(select(Child).where(Child.id.in_(set(ids))).options(
        selectinload(Child.names), selectinload(Child.local_authority)))
    return {child.id: child for child in rows}


def _child_ids(item: ReviewItem) -> list[int]:
    return [item.child_id, *(c.child_id for c in item.candidates)]


# --- the queue and one item ------------------------------------------------------------------------

def review_queue(viewer: Viewer, page: int, channel: str) -> tuple[list[dict], bool]:
    """One page of open items the viewer decides (an LA team: those touching its authority) and whether there
    is another page. ContactPoint IDs and authorities only: names are read (and audited) on the item."""
    policy = _policy(viewer, "review_linkage", "review record linkage")
    scope = policy.linkage_scope()
    with sessions().begin() as session:
        authority_ids = None if scope is None else set(session.scalars(select(Organisation.id).where(
            Organisation.kind == "local_authority", Organisation.code == scope)))
        items = [] if authority_ids == set() else review.open_items(session, authority_ids, PAGE_SIZE + 1,
                                                                    (page - 1) * PAGE_SIZE)
        children = _children(session, [i for item in items for i in _child_ids(item)])
        rows = [_summary(item, children) for item in items[:PAGE_SIZE]]
        audit.record(session, viewer, "linkage_queue_viewed", {"channel": channel, "page": page,
                                                               "items": [row["id"] for row in rows]})
    return rows, len(items) > PAGE_SIZE


def _summary(item: ReviewItem, children: dict[int, Child]) -> dict:
    child = children[item.child_id]
    return {"id": item.id, "status": item.status, "version": item.version, "created_at": _iso(item.created_at),
            "cp_id": child.cp_id, "local_authority": _la(child),
            "candidates": [{"cp_id": children[c.child_id].cp_id, "local_authority": _la(children[c.child_id])}
                           for c in item.candidates]}


def _item(session, policy: VisibilityPolicy, item_id: int) -> tuple[ReviewItem, dict[int, Child]]:
    """The item and its children, if the viewer decides it (NotAllowed otherwise: other authorities' only)."""
    item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id)
                          .options(selectinload(ReviewItem.candidates)))
    if item is None:
        raise ReviewItemNotFound(item_id)
    children = _children(session, _child_ids(item))
    if not policy.decides_linkage_of(_la(child) for child in children.values()):
        raise NotAllowed("this review item is about other local authorities' children only")
    return item, children


def review_item(viewer: Viewer, item_id: int, channel: str) -> dict:
    """The item's new child and each candidate side by side, with each field's level and weight.

    It shows names and dates of birth, so reading it is audited as a view of every child on it.
    """
    policy = _policy(viewer, "review_linkage", "review record linkage")
    with sessions().begin() as session:
        item, children = _item(session, policy, item_id)
        detail = _detail(session, policy, item, children)
        for child in (children[i] for i in dict.fromkeys(_child_ids(item))):
            audit.record(session, viewer, "record_view", {
                "cp_id": child.cp_id, "purpose": "linkage_review", "channel": channel, "review_item": item.id,
                "access": policy.access_basis(child), "shielded": bool(child.shielded), "child_la": _la(child),
                "redacted": not policy.sees_location(child)})
    return detail


def _detail(session, policy: VisibilityPolicy, item: ReviewItem, children: dict[int, Child]) -> dict:
    record = policy.present_for_review(children[item.child_id])
    candidates = []
    for candidate in item.candidates:
        other = policy.present_for_review(children[candidate.child_id])
        whole = not record["redacted"] and not other["redacted"]
        candidates.append({"record": other, **policy.review_weights(candidate.contributions, candidate.match_weight,
                                                                    whole)})
    merged_with = session.get(Child, item.merged_with_id) if item.merged_with_id else None
    return {"id": item.id, "status": item.status, "version": item.version, "created_at": _iso(item.created_at),
            "decided_by": item.decided_by, "decided_at": _iso(item.decided_at),
            "merged_with_cp_id": merged_with.cp_id if merged_with else None, "record": record,
            "candidates": candidates}


# --- decisions ---------------------------------------------------------------------------------------

def _chosen(item: ReviewItem, children: dict[int, Child], decision: str, candidate_cp_id: str | None
            ) -> Child | None:
    """The candidate a decision names; a "same child" decision on an item with one candidate needs no name."""
    if decision == "skip" and candidate_cp_id:
        raise InvalidInput("candidate_cp_id", "is only for a same-child or different-children decision")
    if candidate_cp_id:
        chosen = next((children[c.child_id] for c in item.candidates
                       if children[c.child_id].cp_id == cpid.normalise(candidate_cp_id)), None)
        if chosen is None:
            raise InvalidInput("candidate_cp_id", "is not one of this item's candidates")
        return chosen
    if decision == "merge":
        if len(item.candidates) != 1:
            raise InvalidInput("candidate_cp_id", "choose which candidate is the same child")
        return children[item.candidates[0].child_id]
    return None


def decide(viewer: Viewer, item_id: int, decision: str, expected_version: int, candidate_cp_id: str | None,
           channel: str) -> dict:
    """Decide an open item: "merge" (the same child), "different" (remembered) or "skip".

    ``expected_version`` is the version the decider saw: when someone decided (or the item changed) since,
    nothing happens and LinkageConflict says so -- of two people deciding at once, one wins.
    """
    policy = _policy(viewer, "review_linkage", "decide record linkage")
    if decision not in DECISIONS:
        raise InvalidInput("decision", "must be one of " + ", ".join(DECISIONS))
    with sessions().begin() as session:
        item, children = _item(session, policy, item_id)
        if item.status != "open" or item.version != expected_version:
            raise LinkageConflict(CONFLICT)
        chosen = _chosen(item, children, decision, candidate_cp_id)
        new_child, candidates = children[item.child_id], [children[c.child_id].cp_id for c in item.candidates]
        try:
            review.decide(session, item.id, decision, viewer.username, expected_version,
                          candidate_child_id=chosen.id if chosen else None)
            session.flush()
        except review.ReviewConflict:
            raise LinkageConflict(CONFLICT) from None
        except StaleDataError:  # another transaction bumped the version between our read and our write
            raise LinkageConflict(CONFLICT) from None
        except RegistryError as exc:
            raise InvalidInput(exc.field, exc.message) from None
        survivor = merging.resolve(session, new_child) if decision == "merge" else None
        outcome = {"id": item.id, "status": item.status, "version": item.version, "decision": decision,
                   "cp_id": new_child.cp_id, "other_cp_id": chosen.cp_id if chosen else None,
                   "survivor_cp_id": survivor.cp_id if survivor else None}
        # One event per pair decided on (the candidate named, else every candidate), so each names both
        # children and their authorities, and both authorities' teams find it in their audit view.
        for other in [chosen] if chosen else [children[c.child_id] for c in item.candidates]:
            audit.record(session, viewer, "linkage_review_decided", {
                "channel": channel, "review_item": item.id, "decision": decision, "cp_id": new_child.cp_id,
                "other_cp_id": other.cp_id, "candidates": candidates, "survivor_cp_id": outcome["survivor_cp_id"],
                "child_la": _la(new_child), "other_child_la": _la(other)})
        return outcome


# --- merge and unmerge by hand -------------------------------------------------------------------------

def _existing_child(session, cp_id: str) -> Child:
    child = session.scalar(select(Child).where(Child.cp_id == cp_id))
    if child is None or child.status == "deleted":
        raise RecordNotFound(cp_id)
    return child


def _refuse_merged(session, *children: Child) -> None:
    for child in children:
        if child.status == "merged":
            raise LinkageConflict(f"{child.cp_id} was already merged into {merging.resolve(session, child).cp_id}")
        if child.status != "active":
            raise LinkageConflict(f"{child.cp_id} is {child.status}: only active records are merged")


def _merge_body(session, record: ChildMerge) -> dict:
    survivor, merged = session.get(Child, record.survivor_id), session.get(Child, record.merged_id)
    return {"survivor_cp_id": survivor.cp_id, "merged_cp_id": merged.cp_id, "merged_at": _iso(record.merged_at),
            "unmerged_at": _iso(record.unmerged_at)}


def merge_children(viewer: Viewer, cp_id_text: str, other_cp_id_text: str, channel: str) -> dict:
    """Merge two children found to be one (the older ContactPoint ID survives): a national administrator, or an
    LA team when either child is its own."""
    policy = _policy(viewer, "merge_children", "merge children")
    cp_id, other_cp_id = _valid_cp_id(cp_id_text, "cp_id"), _valid_cp_id(other_cp_id_text, "other_cp_id")
    if cp_id == other_cp_id:
        raise InvalidInput("other_cp_id", "is this child's own ContactPoint ID: a child cannot be merged with itself")
    with sessions().begin() as session:
        a, b = _existing_child(session, cp_id), _existing_child(session, other_cp_id)
        if not policy.decides_linkage_of([_la(a), _la(b)]):
            raise NotAllowed("neither child belongs to your local authority: ask theirs, or a national administrator")
        _refuse_merged(session, a, b)
        try:
            record = merging.merge(session, a, b, viewer.username)
        except RegistryError as exc:
            raise InvalidInput(exc.field, exc.message) from None
        body = _merge_body(session, record)
        audit.record(session, viewer, "children_merged", {
            "channel": channel, "cp_id": cp_id, "other_cp_id": other_cp_id, **_both(body),
            "child_la": _la(a), "other_child_la": _la(b)})
        return body


def unmerge_child(viewer: Viewer, cp_id_text: str, channel: str) -> dict:
    """Undo a merge: ``cp_id`` is the merged (newer) child's ID; both get back what was their own."""
    policy = _policy(viewer, "merge_children", "unmerge children")
    cp_id = _valid_cp_id(cp_id_text, "cp_id")
    with sessions().begin() as session:
        merged = _existing_child(session, cp_id)
        survivor = merging.resolve(session, merged)
        if not policy.decides_linkage_of([_la(merged), _la(survivor)]):
            raise NotAllowed("neither child belongs to your local authority: ask theirs, or a national administrator")
        if merged.status != "merged":
            raise LinkageConflict(f"{cp_id} is not a merged record: there is nothing to unmerge")
        try:
            record = merging.unmerge(session, merged, viewer.username)
        except RegistryError as exc:
            raise LinkageConflict(exc.message) from None
        body = _merge_body(session, record)
        audit.record(session, viewer, "children_unmerged", {
            "channel": channel, "cp_id": cp_id, **_both(body), "child_la": _la(merged),
            "other_child_la": _la(survivor)})
        return body


def _both(body: dict) -> dict:
    return {"survivor_cp_id": body["survivor_cp_id"], "merged_cp_id": body["merged_cp_id"]}


def merged_records(viewer: Viewer, cp_id: str) -> list[str]:
    """ContactPoint IDs merged into this child and not unmerged since: what its record page offers to unmerge
    (to those who may merge children; the unmerge itself checks their authority)."""
    if not VisibilityPolicy(viewer).may("merge_children"):
        return []
    survivor = select(Child.id).where(Child.cp_id == cpid.normalise(cp_id or "")).scalar_subquery()
    with sessions()() as session:
        return list(session.scalars(select(Child.cp_id).join(ChildMerge, ChildMerge.merged_id == Child.id).where(
            ChildMerge.survivor_id == survivor, ChildMerge.unmerged_at.is_(None), Child.status == "merged")
            .order_by(ChildMerge.id)))
