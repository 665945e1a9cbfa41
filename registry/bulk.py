"""New children from feed rows, many at a time: the fast path of a load.

Rows that make a new child (linkage said "create" or "review") are written with one multi-row
INSERT per table for the whole batch instead of an ORM unit of work per row: the child, its
primary and source names, its source record, address, carer and involvement, its review item,
and one change-log row per child (the indexer rebuilds the whole document from the database,
so one row per child is all it needs). Everything the ORM path writes, this writes, in the same
transaction; the caller's savepoint makes a batch all or nothing.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from analyzers import clock

from . import cpid, survivorship, writes
from .models import (
    Carer, ChangeLog, Child, ChildAddress, ChildName, Involvement, ReviewCandidate, ReviewItem, SourceRecord,
)

INVOLVEMENT_FIELDS = {"practitioner_name": "practitioner_name", "role": "practitioner_role",
                      "phone": "practitioner_phone", "email": "practitioner_email", "start_date": "involvement_start",
                      "end_date": "involvement_end", "sensitive_category": "sensitive_category",
                      "consent_recorded_by": "consent_recorded_by", "consent_recorded_at": "consent_recorded_at"}
ADDRESS_FIELDS = ("address_line_1", "address_line_2", "town", "postcode")
INVOLVEMENT_FLAGS = ("lead_professional", "caf_held", "info_to_share", "assessment_undertaken")


@dataclass
class NewChild:
    """A row that makes a child: its validated fields, and the review candidates when linkage doubted."""
    source: str
    data: dict
    record: dict              # the source record's columns (content hash, payload, link fields)
    review: list = field(default_factory=list)  # ScoredCandidate-like: child_id, weight, contributions
    model: str | None = None


class Organisations:
    """Organisation ids by (kind, code) for one load, created when new (through the registry's one writer)."""

    def __init__(self, session: Session):
        self.session, self.ids = session, {}

    def id_of(self, kind: str, code: str | None, name: str | None = None) -> int | None:
        if not code:
            return None
        key = (kind, code)
        if key not in self.ids:
            org = writes.get_or_create_organisation(self.session, kind, code, name)
            self.session.flush()
            self.ids[key] = org.id
        return self.ids[key]


def involvement_of(data: dict) -> dict | None:
    """The involvement a row registers (as the registry's columns), or None; RegistryError if the registry refuses it."""
    if not data.get("service_code"):
        return None
    fields = {**{column: data.get(key) for column, key in INVOLVEMENT_FIELDS.items()},
              **{flag: data.get(flag, False) for flag in INVOLVEMENT_FLAGS}}
    writes.check_involvement(fields)
    return fields


def _unused_cp_ids(session: Session, count: int, rng: random.Random | None) -> list[str]:
    chosen: set[str] = set()
    while len(chosen) < count:
        batch = {cpid.generate(rng) for _ in range(count - len(chosen))} - chosen
        taken = set(session.scalars(select(Child.cp_id).where(Child.cp_id.in_(batch))))
        chosen |= batch - taken
    return list(chosen)


def create_children(session: Session, rows: list[NewChild], organisations: Organisations,
                    rng: random.Random | None = None) -> list[tuple[int, str]]:
    """Insert a child for each row; returns (child id, cp_id) in row order."""
    if not rows:
        return []
    now = clock.now()
    cp_ids = _unused_cp_ids(session, len(rows), rng)
    children = []
    for row, cp_id in zip(rows, cp_ids):
        data = row.data
        values = {k: data.get(k) for k in writes.CHILD_FIELDS}
        values["gender"] = values["gender"] or "unknown"
        children.append({**values, "cp_id": cp_id, "shielded": False, "status": "active", "synthetic": False,
                         "local_authority_id": organisations.id_of("local_authority", data.get("la_code")),
                         "school_id": organisations.id_of("school", data.get("school_code"), data.get("school_name")),
                         "gp_practice_id": organisations.id_of("gp_practice", data.get("gp_practice_code"),
                                                               data.get("gp_practice_name")),
                         "created_at": now, "updated_at": now})
    child_ids = list(session.scalars(insert(Child).returning(Child.id, sort_by_parameter_order=True), children))
    records = [{**row.record, "child_id": child_id, "origin_child_id": child_id, "received_at": now,
                "updated_at": now} for row, child_id in zip(rows, child_ids)]
    record_ids = list(session.scalars(insert(SourceRecord).returning(SourceRecord.id, sort_by_parameter_order=True),
                                      records))
    details = Details()
    for row, child_id, record_id in zip(rows, child_ids, record_ids):
        data = row.data
        details.names.append({"given_name": data["given_name"], "middle_names": data.get("middle_names"),
                              "family_name": data["family_name"], "child_id": child_id, "kind": "primary",
                              "source_record_id": None})
        details.add(row.data, child_id, record_id, organisations, now)
    details.insert(session)
    _review_items(session, rows, child_ids, record_ids)
    writes._serialise_outbox_writers(session)
    session.execute(insert(ChangeLog), [{"child_id": child_id, "cp_id": cp_id, "change": "created"}
                                        for child_id, cp_id in zip(child_ids, cp_ids)])
    return list(zip(child_ids, cp_ids))


@dataclass
class Details:
    """What rows bring besides the child's own fields: names, addresses, carers, involvements; inserted together."""
    names: list = field(default_factory=list)
    addresses: list = field(default_factory=list)
    carers: list = field(default_factory=list)
    involvements: list = field(default_factory=list)

    def add(self, data: dict, child_id: int, record_id: int, organisations: Organisations, now) -> None:
        self.names.append({"given_name": data["given_name"], "middle_names": data.get("middle_names"),
                           "family_name": data["family_name"], "child_id": child_id, "kind": "source",
                           "source_record_id": record_id})
        if data.get("postcode") or data.get("address_line_1"):
            self.addresses.append({"child_id": child_id, "source_record_id": record_id, "first_seen": now,
                                   "last_seen": now, **{k: data.get(k) for k in ADDRESS_FIELDS}})
        if data.get("carer_given_name"):
            self.carers.append({"child_id": child_id, "source_record_id": record_id,
                                "given_name": data["carer_given_name"], "family_name": data["carer_family_name"],
                                "relationship_to_child": data["carer_relationship"],
                                "parental_responsibility": data.get("carer_parental_responsibility", False),
                                "phone": data.get("carer_phone"), "email": data.get("carer_email")})
        involvement = involvement_of(data)
        if involvement is not None:
            self.involvements.append({
                "child_id": child_id, "source_record_id": record_id,
                "organisation_id": organisations.id_of("service", data["service_code"], data.get("service_name")),
                **involvement})

    def insert(self, session: Session) -> None:
        for model, values in ((ChildName, self.names), (ChildAddress, self.addresses), (Carer, self.carers),
                              (Involvement, self.involvements)):
            if values:
                session.execute(insert(model), values)


@dataclass
class Joining:
    """A row linkage joined to an existing child."""
    child_id: int
    data: dict
    record: dict


def link_rows(session: Session, rows: list[Joining], organisations: Organisations) -> None:
    """Attach each row's source record (and what it brings) to its child, then derive those children again."""
    if not rows:
        return
    now = clock.now()
    record_ids = list(session.scalars(insert(SourceRecord).returning(SourceRecord.id, sort_by_parameter_order=True), [
        {**row.record, "child_id": row.child_id, "origin_child_id": row.child_id, "received_at": now,
         "updated_at": now} for row in rows]))
    details = Details()
    for row, record_id in zip(rows, record_ids):
        details.add(row.data, row.child_id, record_id, organisations, now)
    details.insert(session)
    settings = {}
    for row in rows:  # a school or GP practice the row names becomes the child's (the last row's wins)
        for kind in ("school", "gp_practice"):
            if row.data.get(f"{kind}_code"):
                settings.setdefault(row.child_id, {})[f"{kind}_id"] = organisations.id_of(
                    kind, row.data[f"{kind}_code"], row.data.get(f"{kind}_name"))
    survivorship.rederive_many(session, [row.child_id for row in rows], settings)


def _real(child_id: int, child_ids: list[int]) -> int:
    """A candidate made earlier in the same batch is known by its placeholder (-1 for the first row) until now."""
    return child_ids[-child_id - 1] if child_id < 0 else child_id


def _review_items(session: Session, rows: list[NewChild], child_ids: list[int], record_ids: list[int]) -> None:
    doubted = [(row, child_id, record_id) for row, child_id, record_id in zip(rows, child_ids, record_ids)
               if row.review]
    if not doubted:
        return
    now = clock.now()
    item_ids = list(session.scalars(insert(ReviewItem).returning(ReviewItem.id, sort_by_parameter_order=True), [
        {"child_id": child_id, "source_record_id": record_id, "status": "open", "linkage_model": row.model,
         "created_at": now, "version": 1} for row, child_id, record_id in doubted]))
    session.execute(insert(ReviewCandidate), [
        {"item_id": item_id, "child_id": _real(candidate.child_id, child_ids), "match_weight": round(candidate.weight, 2),
         "contributions": candidate.contributions}
        for (row, _, _), item_id in zip(doubted, item_ids) for candidate in row.review])

