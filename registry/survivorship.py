"""Survivorship: a child's fields are derived from the source records that describe it.

For each group of fields (the name, the address, and each single field) the value comes from one
record: the record of the most trusted source that gives the group (a configured trust order per
group, ``"*"`` for the rest), then the most recently received, then the last loaded. A name or an
address is taken whole from one record, so lines of two addresses are never mixed. Every name any
source used stays on the child (as that record's "source" name, and as a "previous" name once the
record changes it), and every address a source gave stays in the address history.

The trust order travels with the session (``session.info["source_trust"]``, set by the session
factory from configuration), so every writer (feeds, merge, unmerge) derives a child the same way.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzers import clock

from . import writes
from .models import Child, ChildAddress, SourceRecord

Trust = Mapping[str, Sequence[str]]

GROUPS: dict[str, tuple[str, ...]] = {
    "name": ("given_name", "middle_names", "family_name"),
    "address": ("address_line_1", "address_line_2", "town", "postcode"),
    "date_of_birth": ("date_of_birth",),
    "gender": ("gender",),
    "nhs_number": ("nhs_number",),
    "upn": ("upn",),
    "la_code": ("la_code",),
}
# What a group needs for a record to count as giving it.
_GIVES = {"name": ("given_name", "family_name"), "address": ("postcode", "address_line_1")}
_EMPTY = (None, "", "unknown")


class TrustError(ValueError):
    """The configured trust order cannot be read."""


def parse_trust(text: str | None) -> dict[str, tuple[str, ...]]:
    """``"date_of_birth=gp-registrations,school-census;*=gp-registrations"`` as {group: sources}."""
    trust: dict[str, tuple[str, ...]] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        group, sep, sources = part.partition("=")
        group = group.strip()
        if not sep or not sources.strip():
            raise TrustError(f"{part.strip()!r}: write GROUP=SOURCE,SOURCE,... (groups: {', '.join(GROUPS)} or *)")
        if group != "*" and group not in GROUPS:
            raise TrustError(f"{group!r} is not a field group: use one of {', '.join(GROUPS)} or *")
        trust[group] = tuple(s.strip() for s in sources.split(",") if s.strip())
    return trust


def _gives(payload: dict, group: str) -> bool:
    return any(payload.get(field) not in _EMPTY for field in _GIVES.get(group, GROUPS[group]))


def _received(record: SourceRecord) -> dt.datetime:
    return record.updated_at or record.received_at or clock.now()


def _rank(record: SourceRecord, order: Sequence[str]) -> tuple:
    trusted = order.index(record.source) if record.source in order else len(order)
    # Most trusted first, then the most recent, then the last loaded.
    return trusted, -_received(record).timestamp(), -(record.id or 0)


def derive(records: Iterable[SourceRecord], trust: Trust | None = None) -> dict:
    """The child's fields (and ``la_code``) from its source records; a group no record gives is left out."""
    trust = trust or {}
    records = list(records)
    derived: dict = {}
    for group, fields in GROUPS.items():
        giving = [r for r in records if _gives(r.payload, group)]
        if not giving:
            continue
        chosen = min(giving, key=lambda r: _rank(r, trust.get(group, trust.get("*", ()))))
        for field in fields:
            derived[field] = chosen.payload.get(field)
    if "gender" in derived and derived["gender"] in _EMPTY:
        derived["gender"] = "unknown"
    return derived


def rederive(session: Session, child: Child) -> bool:
    """Apply the fields derived from the child's source records; returns whether anything changed.

    A child no source describes (made by an administrator or the demo-data generator) keeps its fields.
    """
    records = session.scalars(select(SourceRecord).where(SourceRecord.child_id == child.id)).all()
    if not records:
        return False
    derived = derive(records, session.info.get("source_trust"))
    la_code = derived.pop("la_code", None)
    fields = {k: v for k, v in derived.items() if k in writes.CHILD_FIELDS}
    changed = writes.update_child(session, child, la_code=la_code, **fields)
    for record in records:
        record_address(session, child, record)
    return changed


def record_address(session: Session, child: Child, record: SourceRecord) -> None:
    """Keep the address this record gives in the child's history (seen again: its last-seen moves on)."""
    payload = record.payload
    if not _gives(payload, "address"):
        return
    key = {"postcode": payload.get("postcode"), "address_line_1": payload.get("address_line_1")}
    existing = session.scalar(select(ChildAddress).where(
        ChildAddress.child_id == child.id, ChildAddress.source_record_id == record.id,
        *(getattr(ChildAddress, k).is_(None) if v is None else getattr(ChildAddress, k) == v
          for k, v in key.items())))
    if existing is not None:
        existing.last_seen = clock.now()
        return
    session.add(ChildAddress(child_id=child.id, source_record_id=record.id, address_line_2=payload.get("address_line_2"),
                             town=payload.get("town"), **key))
