"""The only code that writes children and what hangs off them.

Every function takes the caller's session (one transaction) and appends to the change log in
that same transaction, so the indexer can never miss a change nor see an uncommitted one.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analyzers.dates import parse_iso_date

from . import cpid, notification_events
from .local_authorities import authority_name
from .models import (
    SENSITIVE_CATEGORIES, SHIELDING_REASONS, Carer, ChangeLog, Child, ChildName, Involvement, Organisation, SourceRecord,
)

CHILD_FIELDS = ("given_name", "middle_names", "family_name", "date_of_birth", "gender",
                "address_line_1", "address_line_2", "town", "postcode", "nhs_number", "upn")


class RegistryError(ValueError):
    """A write the registry refuses; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


CHANGE_LOG_LOCK = 0x43504C4F47  # "CPLOG": one PostgreSQL advisory lock for appending to the outbox


def _serialise_outbox_writers(session: Session) -> None:
    """Make change-log sequence order equal commit order.

    PostgreSQL hands out sequence numbers at insert time, so a slow transaction could commit
    seq 10 after another committed seq 11 -- and an indexer already past 11 would never see 10.
    Holding one transaction-scoped advisory lock from the first outbox row to commit rules that
    out (SQLite serialises writers anyway). The lock is taken once per transaction.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        current = session.get_transaction()
        if current is None or session.info.get("outbox_locked") is not current:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOG_LOCK})
            session.info["outbox_locked"] = session.get_transaction()


def log_change(session: Session, child: Child, change: str) -> None:
    if child.id is None:
        session.flush()  # a new child needs its id before the outbox row can point at it
    _serialise_outbox_writers(session)
    session.add(ChangeLog(child_id=child.id, cp_id=child.cp_id, change=change))


def get_or_create_organisation(session: Session, kind: str, code: str, name: str | None = None,
                               local_authority: Organisation | None = None, **contact: Any) -> Organisation:
    """The organisation of this kind and code, created when new.

    A new local authority belongs to itself; any other new organisation to ``local_authority``, or to
    none (a national organisation). An existing organisation keeps the authority it has.
    """
    query = select(Organisation).where(Organisation.kind == kind, Organisation.code == code)
    org = session.scalar(query)
    if org is None:
        try:
            with session.begin_nested():
                # A local authority known only by its code is named from the shipped list.
                name = name or (authority_name(code) if kind == "local_authority" else None) or code
                org = Organisation(kind=kind, code=code, name=name, local_authority=local_authority,
                                   **contact)
                session.add(org)
                if kind == "local_authority":
                    session.flush()
                    org.local_authority_id = org.id
        except IntegrityError:  # another transaction created it first: use theirs
            org = session.scalar(query)
    elif name and org.name != name:
        org.name = name
    return org


def update_organisation_contact(session: Session, org: Organisation, *, name: str, phone: str | None,
                                email: str | None) -> bool:
    """Change how an organisation is named and reached (shown on records); returns whether anything changed."""
    if not name.strip():
        raise RegistryError("name", "is required")
    changed = (org.name, org.phone, org.email) != (name.strip(), phone or None, email or None)
    org.name, org.phone, org.email = name.strip(), phone or None, email or None
    return changed


def set_organisation_authority(session: Session, org: Organisation, la_code: str | None) -> bool:
    """Give an organisation to a local authority, or make it national (None); returns whether it changed."""
    if org.kind == "local_authority":
        raise RegistryError("local_authority", "a local authority always belongs to itself")
    authority = None
    if la_code:
        authority = session.scalar(select(Organisation).where(Organisation.kind == "local_authority",
                                                              Organisation.code == la_code))
        if authority is None:
            raise RegistryError("local_authority", f"there is no local authority with the code {la_code}")
    changed = org.local_authority_id != (authority.id if authority else None)
    org.local_authority = authority
    return changed


def create_child(session: Session, *, la_code: str | None = None, rng: random.Random | None = None,
                 synthetic: bool = False, **fields: Any) -> Child:
    """A new child; ``synthetic`` only for children the demo-data generator made up."""
    child = Child(cp_id=_unused_cp_id(session, rng), synthetic=synthetic, **child_values(fields))
    if la_code:
        child.local_authority = get_or_create_organisation(session, "local_authority", la_code)
    session.add(child)
    child.names.append(ChildName(kind="primary", given_name=child.given_name,
                                 middle_names=child.middle_names, family_name=child.family_name))
    log_change(session, child, "created")
    notification_events.made(session, child)
    return child


def update_child(session: Session, child: Child, *, la_code: str | None = None, log: bool = True,
                 **fields: Any) -> bool:
    """Apply changed fields; returns whether anything changed (and logs only then, unless ``log`` is False
    because the caller logs the child's change itself)."""
    changed = False
    for key, value in child_values(fields).items():
        if getattr(child, key) != value:
            setattr(child, key, value)
            changed = True
    if la_code and (child.local_authority is None or child.local_authority.code != la_code):
        before = child.local_authority
        child.local_authority = get_or_create_organisation(session, "local_authority", la_code)
        changed = True
        if before is not None:  # a move: both teams are told (a child without an authority until now is no move)
            notification_events.authority_changed(session, child, before.id, child.local_authority.id)
    primary = next((n for n in child.names if n.kind == "primary"), None)
    if primary is not None:
        for key in ("given_name", "middle_names", "family_name"):
            setattr(primary, key, getattr(child, key))
    if changed and log:
        log_change(session, child, "updated")
    return changed


def set_setting(session: Session, child: Child, kind: str, org: Organisation | None) -> None:
    """Record the child's school or GP practice (``kind`` is the attribute: "school" or "gp_practice")."""
    if kind not in ("school", "gp_practice"):
        raise ValueError(f"kind must be school or gp_practice, not {kind!r}")
    if getattr(child, kind) is not org:
        setattr(child, kind, org)
        log_change(session, child, f"{kind}_changed")


def set_shielded(session: Session, child: Child, shielded: bool, reason: str | None = None) -> None:
    """Shield or unshield the child; ``reason`` is the category recorded while it is shielded."""
    if reason is not None and reason not in SHIELDING_REASONS:
        raise RegistryError("reason_category", f"must be one of {', '.join(SHIELDING_REASONS)}")
    child.shielding_reason = reason if shielded else None
    if child.shielded != shielded:
        child.shielded = shielded
        log_change(session, child, "shielded" if shielded else "unshielded")


def add_name(session: Session, child: Child, kind: str, given_name: str, family_name: str,
             middle_names: str | None = None, source_record: SourceRecord | None = None) -> ChildName:
    name = ChildName(kind=kind, given_name=given_name, family_name=family_name, middle_names=middle_names,
                     source_record_id=source_record.id if source_record else None)
    child.names.append(name)
    log_change(session, child, "name_added")
    return name


def add_carer(session: Session, child: Child, *, source_record: SourceRecord | None = None,
              **fields: Any) -> Carer:
    carer = Carer(source_record_id=source_record.id if source_record else None, **fields)
    child.carers.append(carer)
    log_change(session, child, "carer_added")
    return carer


def check_involvement(fields: dict[str, Any]) -> None:
    """The rules every involvement obeys, however it is written (one at a time, or a batch by registry.bulk)."""
    category = fields.get("sensitive_category")
    if category is not None:
        if category not in SENSITIVE_CATEGORIES:
            raise RegistryError("sensitive_category", f"must be one of {', '.join(SENSITIVE_CATEGORIES)}")
        if not fields.get("consent_recorded_by") or not fields.get("consent_recorded_at"):
            raise RegistryError("consent_recorded_by",
                                "a sensitive service can only be recorded with explicit consent: "
                                "give who recorded the consent and when")
    end, start = fields.get("end_date"), fields.get("start_date")
    if end is not None and start is not None and end < start:
        raise RegistryError("end_date", "must not be before start_date")


def add_involvement(session: Session, child: Child, organisation: Organisation, *,
                    source_record: SourceRecord | None = None, announce: bool = True, **fields: Any) -> Involvement:
    """``announce``: tell the child's other services (False when a source only re-sent an involvement it gave before)."""
    check_involvement(fields)
    involvement = Involvement(organisation=organisation,
                              source_record_id=source_record.id if source_record else None, **fields)
    others = bool(child.involvements)  # nobody to tell when this is the child's first service
    child.involvements.append(involvement)
    log_change(session, child, "involvement_added")
    if announce and others:
        notification_events.involvement_started(session, child, involvement)
    return involvement


def end_involvement(session: Session, involvement: Involvement, end_date: dt.date) -> None:
    if end_date < involvement.start_date:
        raise RegistryError("end_date", "must not be before the involvement started "
                                        f"({involvement.start_date.isoformat()})")
    if involvement.end_date != end_date:
        involvement.end_date = end_date
        log_change(session, involvement.child, "involvement_ended")


def set_info_to_share(session: Session, involvement: Involvement, flag: bool) -> None:
    if involvement.info_to_share != flag:
        involvement.info_to_share = flag
        log_change(session, involvement.child, "info_to_share_changed")


def remove_source_details(session: Session, child: Child, source_record: SourceRecord) -> None:
    """Drop the names, carers and involvements a source record contributed (before re-applying it)."""
    for collection in (child.names, child.carers, child.involvements):
        for item in [i for i in collection if i.source_record_id == source_record.id]:
            collection.remove(item)
    log_change(session, child, "source_details_replaced")


def child_values(fields: dict[str, Any]) -> dict[str, Any]:
    """A child's fields as the table holds them (a date of birth given as text is parsed); refuses unknown ones."""
    unknown = set(fields) - set(CHILD_FIELDS)
    if unknown:
        raise RegistryError(sorted(unknown)[0], "is not a field of a child record")
    if isinstance(fields.get("date_of_birth"), str):
        fields = {**fields, "date_of_birth": parse_iso_date(fields["date_of_birth"])}
    return fields


def _unused_cp_id(session: Session, rng: random.Random | None) -> str:
    while True:
        candidate = cpid.generate(rng)
        if session.scalar(select(Child.id).where(Child.cp_id == candidate)) is None:
            return candidate
