"""The read and write paths every front end shares: policy in, database re-check, audit, out.

Each function commits its audit event before returning anything, so an access that reached the
caller is always on record even if the response then fails.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from access_control import PURPOSES, InvalidInput, NotAllowed, Viewer, VisibilityPolicy, audit
from analyzers import clock
from indexing import CHECKPOINT
from registry import cpid, merging
from registry.checkpoints import shielded_since_indexed
from registry.models import SHIELDING_REASONS, Child, Involvement, Organisation
from registry.writes import (
    RegistryError, add_involvement, end_involvement as registry_end_involvement, set_info_to_share, set_shielded,
)
from search_service import Criteria, Found, SearchOutcome, find, shortlist

from .extensions import es_client, readers, sessions
from .relevance_service import active_profile


# Queries a search may run before the index agrees with the database on every child it returned.
SCOPE_ROUNDS = 3


class RecordNotFound(LookupError):
    """No record this caller may open: the same answer whether it is missing or hidden."""


def _found_as_the_database_says(policy: VisibilityPolicy, criteria: Criteria, profile, pending: list[str]
                                ) -> tuple[Found | None, dict]:
    """The index's answer once every returned child sat on the side of the scope the database puts it.

    The index can lag the database (a shielding or a move to another authority not yet indexed): when
    the re-check finds a child the query counted location or other names for that the viewer may not
    see whole (or the reverse), the query runs again with the database's verdict on those children,
    so grade, reasons, ranking, the minimum score and the too-many rule are all as if the index had
    been current. (None, {}) when the database keeps changing under the search.
    """
    settings, session_factory = current_app.config["SETTINGS"], readers()
    decided: dict[str, bool] = {}
    for _ in range(SCOPE_ROUNDS):
        found = find(es_client(), settings.es_alias, criteria, profile, policy.query_filters(),
                     policy.location_scope(pending, decided), settings.max_results)
        with session_factory() as session:
            current = policy.recheck(session, [c.cp_id for c in found.candidates])
        wrong = policy.misplaced(current, found.in_scope)
        if not wrong:
            return found, current
        decided.update(wrong)
    return None, {}


def _surviving(session, cp_id: str) -> Child | None:
    """The child with this ContactPoint ID or, when it was merged, the child it was merged into."""
    child = session.scalar(select(Child).where(Child.cp_id == cp_id))
    return merging.resolve(session, child) if child is not None and child.status == "merged" else child


def search_children(viewer: Viewer, data: dict, channel: str) -> SearchOutcome:
    policy = VisibilityPolicy(viewer)
    settings = current_app.config["SETTINGS"]
    with readers()() as session:
        # A merged child's ContactPoint ID still finds the child: the one it was merged into.
        cp_id = cpid.normalise(data["cp_id"]) if data.get("cp_id") else None
        survivor = _surviving(session, cp_id) if cp_id else None
        criteria = Criteria(**{**data, "cp_id": survivor.cp_id if survivor else cp_id})
        profile = active_profile(session)
        pending = shielded_since_indexed(session, CHECKPOINT)
    found, current = _found_as_the_database_says(policy, criteria, profile, pending)
    # A database that never held still long enough to be asked: show nothing rather than guess.
    outcome = shortlist(found, settings.max_results, profile) if found is not None else \
        SearchOutcome([], too_many=True)
    results = [dataclasses.replace(c, shielded=current[c.cp_id][0]) for c in outcome.results if c.cp_id in current]
    with sessions().begin() as session:
        # Committed before anything is shown: an access that is not on record never happened. Shielded
        # children found are listed with their authority, so its team sees who found them.
        audit.record(session, viewer, "search", {
            "channel": channel, "criteria": {k: str(v) for k, v in data.items()},
            "returned": [c.cp_id for c in results], "too_many": outcome.too_many,
            "shielded_returned": [{"cp_id": c.cp_id, "child_la": current[c.cp_id][1]} for c in results
                                  if current[c.cp_id][0]],
            "profile": f"{profile.name}:{profile.version}"})
    return SearchOutcome(results, outcome.too_many, outcome.took_ms)


def _policy(viewer: Viewer, permission: str, doing: str) -> VisibilityPolicy:
    policy = VisibilityPolicy(viewer)
    if not policy.may(permission):
        raise NotAllowed(f"your role ({viewer.role}) may not {doing}")
    return policy


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
    """The record as the viewer may see it, after a stated purpose; every attempt is audited.

    A merged child's ID leads to the child it was merged into: that record, with ``merged_from`` naming the ID
    asked for (the same rules apply to it as to any record).
    """
    policy = _policy(viewer, "view_record", "view records")
    cp_id = _valid_cp_id(cp_id_text)
    if purpose not in PURPOSES:
        raise InvalidInput("purpose", "choose why you need this record: " + ", ".join(PURPOSES))
    with sessions().begin() as session:
        child, merged_from = _load(session, cp_id), None
        if child is not None and child.status == "merged":
            merged_from, cp_id = cp_id, merging.resolve(session, child).cp_id
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
                if record["local_authority"] else None, "redacted": record["redacted"],
                **({"merged_from": merged_from} if merged_from else {})})
            if merged_from:
                record["merged_from"] = merged_from
    if record is None:
        raise RecordNotFound(cp_id)
    return record


def survivor_of(viewer: Viewer, cp_id_text: str, channel: str) -> str | None:
    """The ContactPoint ID a merged child's ID now leads to, when the viewer may open that record (audited: it
    says two IDs are one child); None for any other ID."""
    policy = _policy(viewer, "view_record", "view records")
    cp_id = cpid.normalise(cp_id_text or "")
    if not cpid.is_valid(cp_id):
        return None
    with sessions().begin() as session:
        child = session.scalar(select(Child).where(Child.cp_id == cp_id))
        if child is None or child.status != "merged":
            return None
        survivor = merging.resolve(session, child)
        if not policy.may_open(survivor):
            return None
        audit.record(session, viewer, "merged_id_followed", {"cp_id": cp_id, "survivor_cp_id": survivor.cp_id,
                                                             "channel": channel})
        return survivor.cp_id


def change_shielding(viewer: Viewer, cp_id_text: str, shielded: bool, reason: str | None) -> dict:
    """Shield or lift shielding: the owning LA team or a national administrator, with a reason category."""
    policy = _policy(viewer, "set_shielding", "change shielding")
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


def _open_for_involvements(session, policy: VisibilityPolicy, cp_id: str) -> Child:
    child = _load(session, cp_id)
    if child is None or child.status != "active" or not policy.may_open(child):
        raise RecordNotFound(cp_id)
    return child


def register_involvement(viewer: Viewer, cp_id_text: str, data: dict) -> dict:
    """Record that the viewer's service works with the child (named practitioner, contact, flags)."""
    policy = _policy(viewer, "register_involvement", "register involvement")
    cp_id = _valid_cp_id(cp_id_text)
    fields = {k: v for k, v in data.items() if k != "consent_recorded"}
    if data.get("sensitive_category"):
        fields.update(consent_recorded_by=viewer.on_behalf_of or viewer.display_name,
                      consent_recorded_at=clock.now())
    with sessions().begin() as session:
        child = _open_for_involvements(session, policy, cp_id)
        organisation = session.scalar(select(Organisation).where(
            Organisation.code == viewer.organisation, Organisation.kind == viewer.organisation_kind))
        if organisation is None:
            raise InvalidInput("organisation", f"your organisation ({viewer.organisation}) is not on record")
        try:
            involvement = add_involvement(session, child, organisation, registered_by=viewer.registrant,
                                          practitioner_name=viewer.on_behalf_of or viewer.display_name, **fields)
        except RegistryError as exc:
            raise InvalidInput(exc.field, exc.message) from None
        session.flush()
        audit.record(session, viewer, "involvement_registered", {
            "cp_id": cp_id, "involvement": involvement.id, "role": involvement.role,
            "child_la": child.local_authority.code if child.local_authority else None,
            "sensitive": involvement.sensitive_category is not None})
        return policy.involvement(involvement)


def _managed_involvement(session, policy: VisibilityPolicy, cp_id: str, involvement_id: int) -> Involvement:
    child = _open_for_involvements(session, policy, cp_id)
    involvement = next((i for i in child.involvements if i.id == involvement_id), None)
    if involvement is None or not policy.may_manage(child, involvement):
        raise RecordNotFound(f"{cp_id}/{involvement_id}")
    return involvement


def end_involvement(viewer: Viewer, cp_id_text: str, involvement_id: int, end_date: dt.date) -> dict:
    policy = _policy(viewer, "register_involvement", "end an involvement")
    cp_id = _valid_cp_id(cp_id_text)
    with sessions().begin() as session:
        involvement = _managed_involvement(session, policy, cp_id, involvement_id)
        try:
            registry_end_involvement(session, involvement, end_date)
        except RegistryError as exc:
            raise InvalidInput(exc.field, exc.message) from None
        audit.record(session, viewer, "involvement_ended", {"cp_id": cp_id, "involvement": involvement_id,
                                                            "end_date": end_date})
        return policy.involvement(involvement)


def flag_info_to_share(viewer: Viewer, cp_id_text: str, involvement_id: int, flag: bool) -> dict:
    policy = _policy(viewer, "register_involvement", "flag information to share")
    cp_id = _valid_cp_id(cp_id_text)
    with sessions().begin() as session:
        involvement = _managed_involvement(session, policy, cp_id, involvement_id)
        set_info_to_share(session, involvement, flag)
        audit.record(session, viewer, "info_to_share_flagged", {"cp_id": cp_id, "involvement": involvement_id,
                                                                "info_to_share": flag})
        return policy.involvement(involvement)
