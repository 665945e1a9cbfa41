"""The tamper-evident audit trail: each event carries the hash of the one before it."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzers import clock
from registry.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, occurred_at: str, actor: str, organisation: str | None, action: str,
            details: str) -> str:
    material = json.dumps([prev_hash, seq, occurred_at, actor, organisation, action, details], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append(session: Session, actor: str, organisation: str | None, action: str, details: dict) -> AuditEvent:
    """Append one event in the caller's transaction; the head row lock orders concurrent writers."""
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    seq = head.seq + 1
    occurred_at = clock.now()
    canonical = json.dumps(details, sort_keys=True, ensure_ascii=False, default=str)
    digest = _digest(head.hash, seq, _stamp(occurred_at), actor, organisation, action, canonical)
    event = AuditEvent(seq=seq, occurred_at=occurred_at, actor=actor, organisation=organisation, action=action,
                       details=canonical, prev_hash=head.hash, hash=digest)
    session.add(event)
    head.seq, head.hash = seq, digest
    session.flush()
    return event


def record(session: Session, viewer, action: str, details: dict) -> AuditEvent:
    """Append an event by ``viewer`` (an access_control.Viewer), with who they are and for whom they act."""
    return append(session, viewer.username, viewer.organisation, action,
                  {"role": viewer.role, "actor_la": viewer.la_code, "on_behalf_of": viewer.on_behalf_of, **details})


def verify(session: Session) -> list[str]:
    """Problems found in the chain (empty when intact): edited, removed, inserted or reordered events."""
    problems = []
    expected_prev, expected_seq = GENESIS, 1
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000):
        if event.seq > expected_seq:
            problems.append(f"events {expected_seq} to {event.seq - 1} are missing (removed)")
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.seq}: does not follow the event before it (removed, inserted or reordered)")
        recomputed = _digest(event.prev_hash, event.seq, _stamp(event.occurred_at), event.actor, event.organisation,
                             event.action, event.details)
        if recomputed != event.hash:
            problems.append(f"event {event.seq}: contents were edited after it was written")
        expected_prev, expected_seq = event.hash, event.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != expected_prev):
        problems.append(f"the newest events after {expected_seq - 1} were removed (the chain head is at {head.seq})")
    return problems
