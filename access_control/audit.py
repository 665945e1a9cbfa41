"""The tamper-evident audit trail: each event carries a keyed MAC over itself and the MAC before it.

The key is kept outside the database and reaches this module on the session
(``session.info["audit_key"]``, set where the app and the CLI build their sessionmakers). Without
it, someone who can write the database cannot edit, insert, reorder or remove an event, nor cut
off the newest ones: each head row carries its own MAC over (seq, hash), under another label, so
it cannot be set back to an earlier event, and a missing head is itself a finding. What they can
still do is put back a complete older copy of a chain, head included, or delete all of one; an
operator catches that by comparing with the checkpoints recorded elsewhere (``expect``: one per chain).

The trail is ``CHAINS`` chains appended in parallel, not one: a writer locks whichever head row no
other writer holds (``SKIP LOCKED``), so no single row sits on every audited request's path, and
each chain is as tamper-evident as the single chain was. A writer checks the head it took before
writing, so it never seals tampering into its chain; other chains carry on while `audit verify`
names the damaged one. ``seq`` orders events across chains; ``chain_seq`` is an event's place in its
chain and is what its MAC covers. Each chain starts from its own genesis value, so an event cannot
be moved between chains.

Trails begun before the keyed MAC (migration 0009) keep their plain SHA-256 events: the migration
sealed their head with the key, so the first keyed event anchors everything before it. They are
chain 1 (migration 0013).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import and_, bindparam, insert, or_, select, text, update
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session, selectinload

from analyzers import clock

from .models import AuditEvent, AuditHead, AuditSubject

GENESIS = "0" * 64
# Chains appended to in parallel: more than the busiest database's concurrent writers, so a writer rarely waits.
# Migration 0013 made their head rows; more chains need a migration adding rows.
CHAINS = 16
AUTHORITY_KEYS = ("actor_la", "child_la", "other_child_la")
HELD = "audit_chain"  # the Session.info entry naming the chain whose head this transaction holds
HEADS, EVENTS, SUBJECTS = AuditHead.__table__, AuditEvent.__table__, AuditSubject.__table__
# Built once: an append runs on every audited request, and building and keying statements cost more than running them.
_HEAD = select(HEADS.c.id, HEADS.c.seq, HEADS.c.hash, HEADS.c.keyed_from, HEADS.c.mac)
_FIRST_FREE_HEAD = _HEAD.order_by(HEADS.c.id).limit(1).with_for_update(skip_locked=True)
_THAT_HEAD = _HEAD.where(HEADS.c.id == bindparam("chain_id")).with_for_update()
_INSERT_EVENT = insert(EVENTS).returning(EVENTS.c.seq)
_INSERT_SUBJECTS = insert(SUBJECTS)
_MOVE_HEAD = update(HEADS).where(HEADS.c.id == bindparam("chain_id"))
# PostgreSQL: the event, whom it names and the head's move in one statement (one round trip, not three).
_APPEND_POSTGRESQL = text("""
    WITH event AS (
        INSERT INTO audit_events (chain, chain_seq, occurred_at, actor, organisation, action, details, prev_hash, hash)
        VALUES (:chain, :chain_seq, :occurred_at, :actor, :organisation, :action, :details, :prev_hash, :hash)
        RETURNING seq),
    named AS (
        INSERT INTO audit_subjects (kind, value, seq)
        SELECT subject.kind, subject.value, event.seq
        FROM event, unnest(CAST(:kinds AS varchar[]), CAST(:values AS varchar[])) AS subject(kind, value))
    UPDATE audit_head SET seq = :chain_seq, hash = :hash, keyed_from = :keyed_from, mac = :mac WHERE id = :chain
    RETURNING (SELECT seq FROM event)""")
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


def head_mac(key: bytes, seq: int, hash_: str, keyed_from: int, chain: int = 1) -> str:
    """A head row's own MAC; migration 0009 holds a frozen copy of chain 1's formula."""
    if chain == 1:
        return _mac(key, "contactpoint/audit-head", seq, hash_, keyed_from)
    return _mac(key, "contactpoint/audit-head", seq, hash_, keyed_from, chain)


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


def genesis(chain: int) -> str:
    """What a chain's first event follows: distinct per chain, so an event cannot be moved to another chain."""
    return GENESIS if chain == 1 else hashlib.sha256(f"contactpoint/audit-chain/{chain}".encode()).hexdigest()


def subjects(details, key=None, found=None) -> set[tuple[str, str]]:
    """(kind, value) for every child and authority ``details`` names, at any depth: what audit review filters
    on. A child is any string of ten digits (a ContactPoint ID, valid or not, as someone typed it), kind
    "child"; "shielded" too when it is a shielded child's (``shielded: true`` beside it, or listed in
    ``shielded_returned``). An authority is the value of an ``*_la`` key, its kind that key (``actor_la``:
    the user's own, ``child_la`` and ``other_child_la``: a child's)."""
    found = set() if found is None else found
    if isinstance(details, dict):
        if (details.get("shielded") is True or key == "shielded_returned") and isinstance(details.get("cp_id"), str):
            found.add(("shielded", details["cp_id"]))
        for name, value in details.items():
            subjects(value, name, found)
    elif isinstance(details, list):
        for value in details:
            subjects(value, key, found)
    elif isinstance(details, str):
        if key in AUTHORITY_KEYS:
            found.add((key, details))
        elif len(details) == 10 and details.isascii() and details.isdigit():
            found.add(("child", details))
    return found


@listens_for(Session, "after_transaction_end")
def _release_chain(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(HELD, None)


@dataclass
class _Head:
    """A chain's head row as read under its lock (plain values: appends write through Core, not the ORM)."""
    id: int
    seq: int
    hash: str
    keyed_from: int | None
    mac: str | None
    stored: bool = True  # False: a new trail's first head, inserted with its first event


def _claim_head(session: Session) -> _Head | None:
    """A chain head locked for this transaction: the first one no other writer holds, so concurrent appends
    spread over the chains instead of queueing on one row; when every head is busy, wait for one at random.
    A transaction that appends again keeps to the head it holds: its events stay in order, and it never waits
    for a second head while holding one (two such transactions could deadlock). (SQLite has no row locks:
    its one writer at a time always takes chain 1.)"""
    if HELD in session.info:
        return _Head(*session.execute(_THAT_HEAD, {"chain_id": session.info[HELD]}).one())
    row = session.execute(_FIRST_FREE_HEAD).first()
    if row is None and session.get_bind().dialect.name != "sqlite":
        row = session.execute(_THAT_HEAD, {"chain_id": random.randint(1, CHAINS)}).first()
    return _Head(*row) if row is not None else None


def _locked_head(session: Session, key: bytes) -> _Head:
    """A locked chain head, after checking its MAC; a new trail's first head when there is none."""
    head = _claim_head(session)
    if head is None:
        if session.scalar(select(EVENTS.c.seq).limit(1)) is not None:
            raise AuditChainBroken("the audit trail's head rows are missing while events exist: nothing more is "
                                   "written until `contactpoint audit verify` has been run and the cause found")
        head = _Head(1, 0, GENESIS, None, None, stored=False)
    if head.mac is None and head.seq == 0:  # an unused chain: its first event starts it
        if head.hash != genesis(head.id) or \
                session.scalar(select(EVENTS.c.seq).where(EVENTS.c.chain == head.id).limit(1)) is not None:
            raise AuditChainBroken(f"the head row of audit chain {head.id} was reset (its events exist, or it does "
                                   "not start from the chain's genesis): "
                                   "nothing more is written until `contactpoint audit verify` has been run and the "
                                   "cause found")
        head.keyed_from = 1
        return head
    if head.mac is None or head.keyed_from is None or \
            not hmac.compare_digest(head.mac, head_mac(key, head.seq, head.hash, head.keyed_from, head.id)):
        raise AuditChainBroken(f"the audit trail's head row (chain {head.id}) does not verify (altered, or the audit "
                               "key is not the one the trail was written with): nothing more is written until "
                               "`contactpoint audit verify` has been run and the cause found")
    return head


def append(session: Session, actor: str, organisation: str | None, action: str, details: dict) -> AuditEvent:
    """Append one event in the caller's transaction, to whichever chain is free (see ``_claim_head``).

    Written with Core statements (this runs on every audited request, and the ORM's unit of work cost more
    than the rest of the append); returns the event as written, not attached to the session."""
    key = _key(session)
    head = _locked_head(session, key)
    session.info[HELD] = head.id
    written = dict(chain=head.id, chain_seq=head.seq + 1, occurred_at=clock.now(), actor=actor,
                   organisation=organisation, action=action, prev_hash=head.hash,
                   details=json.dumps(details, sort_keys=True, ensure_ascii=False, default=str))
    written["hash"] = _event_mac(key, head.hash, written["chain_seq"], _stamp(written["occurred_at"]), actor,
                                 organisation, action, written["details"])
    named = sorted(subjects(json.loads(written["details"])))
    tip = dict(seq=written["chain_seq"], hash=written["hash"], keyed_from=head.keyed_from,
               mac=head_mac(key, written["chain_seq"], written["hash"], head.keyed_from, head.id))
    if head.stored and session.get_bind().dialect.name == "postgresql":
        seq = session.execute(_APPEND_POSTGRESQL, {
            **written, "keyed_from": tip["keyed_from"], "mac": tip["mac"],
            "kinds": [kind for kind, _ in named], "values": [value for _, value in named]}).scalar_one()
        return AuditEvent(seq=seq, **written)
    seq = session.execute(_INSERT_EVENT, written).scalar_one()
    if named:
        session.execute(_INSERT_SUBJECTS, [{"kind": kind, "value": value, "seq": seq} for kind, value in named])
    if head.stored:
        session.execute(_MOVE_HEAD, {"chain_id": head.id, **tip})
    else:
        session.execute(insert(HEADS).values(id=head.id, **tip))
    return AuditEvent(seq=seq, **written)


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


def current_heads(session: Session) -> list[tuple[int, str]]:
    """(seq, hash) of the newest event of every chain in use: checkpoints to keep outside the database."""
    heads = [(chain, seq) for chain, seq in session.execute(select(HEADS.c.id, HEADS.c.seq).order_by(HEADS.c.id))
             if seq]
    if not heads:
        return []
    newest = select(AuditEvent.seq, AuditEvent.hash).where(
        or_(*(and_(AuditEvent.chain == chain, AuditEvent.chain_seq == seq) for chain, seq in heads)))
    return sorted((seq, hash_) for seq, hash_ in session.execute(newest))


def verify(session: Session, expect: tuple[tuple[int, str], ...] = ()) -> list[str]:
    """Problems found in the trail (empty when intact): edited, removed, inserted or reordered events, a cut-off
    tail, an altered or missing head, a review index that does not match the events; and any checkpoint in
    ``expect`` ((seq, hash) recorded earlier) that the trail no longer holds. Events are named by ``seq``,
    a missing stretch by its positions in its chain."""
    key = _key(session)
    fresh = select(AuditHead).execution_options(populate_existing=True)  # not what this session loaded before
    heads = {head.id: head for head in session.scalars(fresh)}
    expected = dict(expect)
    problems = []
    tips: dict[int, tuple[int, str]] = {}  # chain -> (position, hash) of its newest event
    events = select(AuditEvent).options(selectinload(AuditEvent.subjects)).order_by(AuditEvent.chain,
                                                                                    AuditEvent.chain_seq)
    for event in session.scalars(events).yield_per(1000):
        position, prev = tips.get(event.chain, (0, genesis(event.chain)))
        head = heads.get(event.chain)
        keyed_from = head.keyed_from if head is not None and head.keyed_from else 1
        if event.chain_seq > position + 1:
            problems.append(f"chain {event.chain}: events {position + 1} to {event.chain_seq - 1} of the chain are "
                            "missing (removed)")
        if event.prev_hash != prev:
            problems.append(f"event {event.seq}: does not follow the event before it in chain {event.chain} "
                            "(removed, inserted or reordered)")
        fields = (event.prev_hash, event.chain_seq, _stamp(event.occurred_at), event.actor, event.organisation,
                  event.action, event.details)
        recomputed = _event_mac(key, *fields) if event.chain_seq >= keyed_from else _legacy_digest(*fields)
        if not hmac.compare_digest(recomputed, event.hash):
            problems.append(f"event {event.seq}: contents were edited after it was written")
        elif {(s.kind, s.value) for s in event.subjects} != subjects(json.loads(event.details)):
            problems.append(f"event {event.seq}: its entries in the review index (audit_subjects) do not match it, "
                            "so reviews filtered by child or authority would miss or misplace it")
        if event.seq in expected and expected.pop(event.seq) != event.hash:
            problems.append(f"event {event.seq}: differs from the checkpoint recorded for it")
        tips[event.chain] = (event.chain_seq, event.hash)
    for chain in sorted(set(heads) | set(tips)):
        problems += [f"chain {chain}: {problem}" for problem in
                     _head_problems(key, chain, heads.get(chain), *tips.get(chain, (0, genesis(chain))))]
    problems += [f"event {seq} recorded at a checkpoint is gone: the trail was cut back or replaced by an older copy"
                 for seq in sorted(expected)]
    return problems


def _head_problems(key: bytes, chain: int, head: AuditHead | None, last_seq: int, last_hash: str) -> list[str]:
    if head is None:
        return [f"the head row is missing while events 1 to {last_seq} of the chain exist (newer events may have "
                "been removed)"] if last_seq else []
    if head.mac is None:
        return ["the head carries no MAC: it was altered, or written before the keyed MAC and never "
                "sealed"] if head.seq or last_seq else []
    if head.keyed_from is None or not hmac.compare_digest(head.mac, head_mac(key, head.seq, head.hash,
                                                                               head.keyed_from, chain)):
        return ["the head was altered or set back (its MAC does not match; or the audit key is not the one "
                "the trail was written with)"]
    if head.seq > last_seq:
        return [f"the newest events after {last_seq} of the chain were removed (its head is at {head.seq})"]
    if head.seq < last_seq or head.hash != last_hash:
        return [f"the head (event {head.seq} of the chain) is not its newest event ({last_seq}): events were added "
                "or replaced outside the trail"]
    return []
