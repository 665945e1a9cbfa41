"""The read and write paths every front end shares: policy in, database re-check, audit, out.

Each function commits its audit event before returning anything, so an access that reached the
caller is always on record even if the response then fails.
"""
from __future__ import annotations

import dataclasses

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from access_control import PURPOSES, InvalidInput, NotAllowed, Viewer, VisibilityPolicy, audit
from indexing import CHECKPOINT
from registry import cpid
from registry.checkpoints import shielded_since_indexed
from registry.models import SHIELDING_REASONS, Child, Involvement
from registry.profiles import active_profile
from registry.writes import set_shielded
from search_service import Criteria, SearchOutcome, search

from .extensions import es_client, sessions


class RecordNotFound(LookupError):
    """No record this caller may open: the same answer whether it is missing or hidden."""


def search_children(viewer: Viewer, data: dict, channel: str) -> SearchOutcome:
    policy = VisibilityPolicy(viewer)
    criteria = Criteria(**{**data, "cp_id": cpid.normalise(data["cp_id"]) if data.get("cp_id") else None})
    settings = current_app.config["SETTINGS"]
    session_factory = sessions()
    with session_factory() as session:
        profile = active_profile(session)
        pending = shielded_since_indexed(session, CHECKPOINT)
    outcome = search(es_client(), settings.es_alias, criteria, profile, policy.query_filters(),
                     policy.location_scope(pending), settings.max_results)
    with session_factory.begin() as session:
        current = policy.recheck(session, [c.cp_id for c in outcome.results])
        results = [dataclasses.replace(c, shielded=current[c.cp_id][0]) for c in outcome.results
                   if c.cp_id in current]
        # Committed before anything is shown: an access that is not on record never happened.
        audit.record(session, viewer, "search", {
            "channel": channel, "criteria": {k: str(v) for k, v in data.items()},
            "returned": [c.cp_id for c in results], "too_many": outcome.too_many,
            "profile": f"{profile.name}:{profile.version}"})
    return SearchOutcome(results, outcome.too_many, outcome.took_ms)


def _valid_cp_id(text: str) -> str:
    value = cpid.normalise(text or "")
    if not cpid.is_valid(value):
        raise InvalidInput("cp_id", "is not a valid ContactPoint ID: 10 digits whose last is the check digit")
    return value


def _load(session, cp_id: str) -> Child | None:
    return session.scalar(select(Child).where(Child.cp_id == cp_id).options(
        selectinload(Child.names), selectinload(Child.carers),
        selectinload(Child.involvements).selectinload(Involvement.organisation)))


def view_child(viewer: Viewer, cp_id_text: str, purpose: str | None, channel: str) -> dict:
    """The record as the viewer may see it, after a stated purpose; every attempt is audited."""
    policy = VisibilityPolicy(viewer)
    if not policy.may("view_record"):
        raise NotAllowed(f"your role ({viewer.role}) may not view records")
    cp_id = _valid_cp_id(cp_id_text)
    if purpose not in PURPOSES:
        raise InvalidInput("purpose", "choose why you need this record: " + ", ".join(PURPOSES))
    with sessions().begin() as session:
        child = _load(session, cp_id)
        if child is None or not policy.may_open(child):
            audit.record(session, viewer, "record_view_refused", {"cp_id": cp_id, "purpose": purpose,
                                                                  "channel": channel, "reason": "not_found"})
            record = None
        else:
            record = policy.present(child)
            audit.record(session, viewer, "record_view", {
                "cp_id": cp_id, "purpose": purpose, "channel": channel, "access": policy.access_basis(child),
                "shielded": bool(child.shielded), "child_la": record["local_authority"]["code"]
                if record["local_authority"] else None, "redacted": record["redacted"]})
    if record is None:
        raise RecordNotFound(cp_id)
    return record


def change_shielding(viewer: Viewer, cp_id_text: str, shielded: bool, reason: str | None) -> dict:
    """Shield or lift shielding: the owning LA team or a national administrator, with a reason category."""
    policy = VisibilityPolicy(viewer)
    if not policy.may("set_shielding"):
        raise NotAllowed(f"your role ({viewer.role}) may not change shielding")
    cp_id = _valid_cp_id(cp_id_text)
    if reason not in SHIELDING_REASONS:
        raise InvalidInput("reason_category", "must be one of " + ", ".join(SHIELDING_REASONS))
    with sessions().begin() as session:
        child = _load(session, cp_id)
        if child is None or child.status != "active":
            raise RecordNotFound(cp_id)
        if policy.access_basis(child) not in ("national_admin", "owning_local_authority"):
            raise NotAllowed("only the child's own local authority team or a national administrator "
                             "may change its shielding")
        before = bool(child.shielded)
        set_shielded(session, child, shielded, reason if shielded else None)
        audit.record(session, viewer, "shielding_changed", {"cp_id": cp_id, "shielded": shielded, "was": before,
                                                            "reason_category": reason})
        return policy.present(child)
