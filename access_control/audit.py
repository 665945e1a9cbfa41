"""The tamper-evident audit trail: each event carries a keyed MAC over itself and the MAC before it.

The key is kept outside the database and reaches this module on the session
(``session.info["audit_key"]``, set where the app and the CLI build their sessionmakers). Without
it, someone who can write the database cannot edit, insert, reorder or remove an event, nor cut
off the newest ones: the head row carries its own MAC over (seq, hash), under another label, so
it cannot be set back to an earlier event, and a missing head is itself a finding. What they can
still do is put back a complete older copy of the trail, head included, or delete all of it;
an operator catches that by comparing with a checkpoint recorded elsewhere (``expect``).

Trails begun before the keyed MAC (migration 0009) keep their plain SHA-256 events: the migration
sealed their head with the key, so the first keyed event anchors everything before it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzers import clock

from .models import AuditEvent, AuditHead

GENESIS = "0" * 64
KEY = "audit_key"  # the Session.info entry holding the key (bytes)


class AuditKeyMissing(RuntimeError):
    """The session carries no audit key, so nothing can be written to or checked against the trail."""


class AuditChainBroken(RuntimeError):
    """The head row does not verify: writing on would seal whatever was done to the trail."""


def _key(session: Session) -> bytes:
    key = session.info.get(KEY)
    if not key:
        raise AuditKeyMissing("no audit key: the audit trail is signed with a key kept outside the database, "
                              "and this database session was opened without one")
    return key


def _mac(key: bytes, label: str, *fields) -> str:
    material = json.dumps([label, *fields], ensure_ascii=False)
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()


def _event_mac(key: bytes, prev_hash: str, seq: int, occurred_at: str, actor: str, organisation: str | None,
               action: str, details: str) -> str:
    return _mac(key, "contactpoint/audit-event", prev_hash, seq, occurred_at, actor, organisation, action, details)


def head_mac(key: bytes, seq: int, hash_: str, keyed_from: int) -> str:
    """The head row's own MAC; migration 0009 holds a frozen copy of this formula."""
    return _mac(key, "contactpoint/audit-head", seq, hash_, keyed_from)


def _legacy_digest(prev_hash: str, seq: int, occurred_at: str, actor: str, organisation: str | None, action: str,
                   details: str) -> str:
    """The plain SHA-256 of events written before the keyed MAC (seq below the head's ``keyed_from``)."""
    material = json.dumps([prev_hash, seq, occurred_at, actor, organisation, action, details], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pseudonym(session: Session, label: str, value: str) -> str:
    """A stable keyed hash of ``value`` (16 hex digits): equal values group together, the value stays unknown."""
    return hmac.new(_key(session), f"contactpoint/{label}\x00{value}".encode(), hashlib.sha256).hexdigest()[:16]


def _locked_head(session: Session, key: bytes) -> AuditHead:
    """The head row, locked, after checking its MAC; a new one when the trail is empty."""
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None or (head.mac is None and head.seq == 0):  # an empty trail: its first event starts the chain
        if session.scalar(select(AuditEvent.seq).limit(1)) is not None:
            raise AuditChainBroken("the audit trail's head row is missing while events exist: nothing more is "
                                   "written until `contactpoint audit verify` has been run and the cause found")
        if head is None:
            head = AuditHead(id=1, seq=0, hash=GENESIS)
            session.add(head)
        head.keyed_from = 1
        return head
    if head.mac is None or head.keyed_from is None or \
            not hmac.compare_digest(head.mac, head_mac(key, head.seq, head.hash, head.keyed_from)):
        raise AuditChainBroken("the audit trail's head row does not verify (altered, or the audit key is not the "
                               "one the trail was written with): nothing more is written until "
                               "`contactpoint audit verify` has been run and the cause found")
    return head


def append(session: Session, actor: str, organisation: str | None, action: str, details: dict) -> AuditEvent:
    """Append one event in the caller's transaction; the head row lock orders concurrent writers."""
    key = _key(session)
    head = _locked_head(session, key)
    seq = head.seq + 1
    occurred_at = clock.now()
    canonical = json.dumps(details, sort_keys=True, ensure_ascii=False, default=str)
    digest = _event_mac(key, head.hash, seq, _stamp(occurred_at), actor, organisation, action, canonical)
    event = AuditEvent(seq=seq, occurred_at=occurred_at, actor=actor, organisation=organisation, action=action,
                       details=canonical, prev_hash=head.hash, hash=digest)
    session.add(event)
    head.seq, head.hash = seq, digest
    head.mac = head_mac(key, seq, digest, head.keyed_from)
    session.flush()
    return event


def record(session: Session, viewer, action: str, details: dict) -> AuditEvent:
    """Append an event by ``viewer`` (an access_control.Viewer), with who they are and for whom they act."""
    return append(session, viewer.username, viewer.organisation, action,
                  {"role": viewer.role, "actor_la": viewer.la_code, "on_behalf_of": viewer.on_behalf_of, **details})


def recorder(actor: str, organisation: str | None = None) -> Callable[[Session, str, dict], AuditEvent]:
    """``append`` bound to one actor, for code below access_control that reports what it did (a registry step)
    or that serves several front ends alike (webapp.relevance_service)."""
    return lambda session, action, details: append(session, actor, organisation, action, details)


def recorder_for(viewer) -> Callable[[Session, str, dict], AuditEvent]:
    """``record`` bound to ``viewer``: the same, for a signed-in user."""
    return lambda session, action, details: record(session, viewer, action, details)


def current_head(session: Session) -> tuple[int, str] | None:
    """(seq, hash) of the newest event as the head row states it: a checkpoint to keep outside the database."""
    head = session.get(AuditHead, 1)
    return (head.seq, head.hash) if head is not None and head.seq else None


def verify(session: Session, expect: tuple[tuple[int, str], ...] = ()) -> list[str]:
    """Problems found in the trail (empty when intact): edited, removed, inserted or reordered events, a cut-off
    tail, an altered or missing head; and any checkpoint in ``expect`` ((seq, hash) recorded earlier) that the
    trail no longer holds."""
    key = _key(session)
    head = session.get(AuditHead, 1)
    keyed_from = head.keyed_from if head is not None and head.keyed_from else 1
    expected = dict(expect)
    problems = []
    expected_prev, expected_seq = GENESIS, 1
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000):
        if event.seq > expected_seq:
            problems.append(f"events {expected_seq} to {event.seq - 1} are missing (removed)")
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.seq}: does not follow the event before it (removed, inserted or reordered)")
        fields = (event.prev_hash, event.seq, _stamp(event.occurred_at), event.actor, event.organisation,
                  event.action, event.details)
        recomputed = _event_mac(key, *fields) if event.seq >= keyed_from else _legacy_digest(*fields)
        if not hmac.compare_digest(recomputed, event.hash):
            problems.append(f"event {event.seq}: contents were edited after it was written")
        if event.seq in expected and expected.pop(event.seq) != event.hash:
            problems.append(f"event {event.seq}: differs from the checkpoint recorded for it")
        expected_prev, expected_seq = event.hash, event.seq + 1
    problems += _head_problems(key, head, expected_seq - 1, expected_prev)
    problems += [f"event {seq} recorded at a checkpoint is gone: the trail was cut back or replaced by an older copy"
                 for seq in sorted(expected)]
    return problems


def _head_problems(key: bytes, head: AuditHead | None, last_seq: int, last_hash: str) -> list[str]:
    if head is None:
        return [f"the chain head row is missing while events 1 to {last_seq} exist (newer events may have been "
                "removed)"] if last_seq else []
    if head.mac is None:
        return ["the chain head carries no MAC: it was altered, or written before the keyed MAC and never "
                "sealed"] if head.seq or last_seq else []
    if head.keyed_from is None or not hmac.compare_digest(head.mac, head_mac(key, head.seq, head.hash,
                                                                               head.keyed_from)):
        return ["the chain head was altered or set back (its MAC does not match; or the audit key is not the one "
                "the trail was written with)"]
    if head.seq > last_seq:
        return [f"the newest events after {last_seq} were removed (the chain head is at {head.seq})"]
    if head.seq < last_seq or head.hash != last_hash:
        return [f"the chain head (event {head.seq}) is not the newest event ({last_seq}): events were added or "
                "replaced outside the trail"]
    return []
