"""The audit trail as parallel chains: no single locked row on every audited request's path, and each chain as
tamper-evident as the one chain was -- an event moved between chains, a review index that no longer matches
its events, a writer killed halfway and a trail written before the chains are all handled."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from alembic import command
from sqlalchemy import column, delete, func, insert, select, table, update

from access_control import audit
from access_control.models import AuditEvent, AuditHead, AuditSubject
from access_control.review import EventFilter, find_events
from registry.db import _alembic_config, upgrade

ONLY_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
CHILD, LA = "1000000001", "E09000001"


def _append(sessions, n: int, **details) -> AuditEvent:
    with sessions.begin() as db:
        return audit.append(db, f"user{n}", "HV", "search", {"n": n, **details})


class HeldAppend(threading.Thread):
    """Appends one event and keeps its transaction open (its chain head locked) until released."""

    def __init__(self, sessions, n: int):
        super().__init__(daemon=True)
        self.sessions, self.n = sessions, n
        self.appended, self.release = threading.Event(), threading.Event()
        self.chain = None

    def run(self):
        with self.sessions.begin() as db:
            self.chain = audit.append(db, f"holder{self.n}", "HV", "search", {"n": self.n}).chain
            self.appended.set()
            self.release.wait(30)


def _chains(sessions) -> dict[int, int]:
    with sessions() as db:
        return dict(db.execute(select(AuditEvent.chain, func.count()).group_by(AuditEvent.chain)).all())


@ONLY_POSTGRESQL
def test_a_writer_does_not_wait_for_another_writers_open_transaction(sessions):
    holder = HeldAppend(sessions, 1)
    holder.start()
    assert holder.appended.wait(10)
    done = threading.Event()
    second = threading.Thread(target=lambda: (_append(sessions, 2), done.set()), daemon=True)
    second.start()
    try:
        # With one locked head this waits until the holder commits; with chains it takes another head at once.
        assert done.wait(5), "the second audited request queued behind the first one's transaction"
    finally:
        holder.release.set()
        holder.join(10)
        second.join(10)
    assert _chains(sessions) == {1: 1, 2: 1}
    with sessions() as db:
        assert audit.verify(db) == []
        assert len(audit.current_heads(db)) == 2


def test_many_concurrent_writers_leave_every_event_on_a_verifiable_chain(sessions, database_url):
    writers, each = 16, 10
    start = threading.Barrier(writers)
    failures = []

    def write(w):
        start.wait(10)
        try:
            for i in range(each):
                with sessions.begin() as db:
                    audit.append(db, f"writer{w}", "HV", "search", {"i": i, "cp_id": CHILD})
        except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
            failures.append(repr(exc))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    chains = _chains(sessions)
    assert sum(chains.values()) == writers * each
    # SQLite has one writer at a time and so one chain; PostgreSQL spreads concurrent writers over several.
    assert (len(chains) > 1) == database_url.startswith("postgresql"), chains
    with sessions() as db:
        assert audit.verify(db) == []
        assert len(find_events(db, None, EventFilter(cp_id=CHILD, page=1))[0]) == 50  # a full page, by the index


def test_an_event_moved_to_another_chain_is_detected(sessions):
    for n in (1, 2, 3):
        _append(sessions, n)
    with sessions.begin() as db:  # chain 2 has never been used: event 3 becomes its first event
        db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(chain=2, chain_seq=1))
    with sessions() as db:
        problems = audit.verify(db)
    assert "event 3: does not follow the event before it in chain 2 (removed, inserted or reordered)" in problems
    assert "chain 1: the newest events after 2 of the chain were removed (its head is at 3)" in problems


def test_a_review_index_that_no_longer_matches_its_event_is_detected(sessions):
    hidden = _append(sessions, 1, cp_id=CHILD, child_la=LA).seq
    planted = _append(sessions, 2).seq
    with sessions() as db:
        assert [e.seq for e in find_events(db, LA, EventFilter(cp_id=CHILD))[0]] == [hidden]
    with sessions.begin() as db:  # hide a view of the child from reviews filtered by it, and plant a false one
        db.execute(delete(AuditSubject).where(AuditSubject.seq == hidden, AuditSubject.kind == "child"))
        db.add(AuditSubject(kind="child_la", value=LA, seq=planted))
    with sessions() as db:
        assert [e.seq for e in find_events(db, LA, EventFilter(cp_id=CHILD))[0]] == []
        assert audit.verify(db) == [
            f"event {seq}: its entries in the review index (audit_subjects) do not match it, so reviews filtered by "
            "child or authority would miss or misplace it" for seq in (hidden, planted)]


@ONLY_POSTGRESQL
def test_a_damaged_chain_stops_only_its_own_writers_and_is_named(sessions):
    holder = HeldAppend(sessions, 1)
    holder.start()
    assert holder.appended.wait(10)
    _append(sessions, 2)  # on chain 2, the holder having chain 1
    holder.release.set()
    holder.join(10)
    with sessions.begin() as db:
        db.execute(update(AuditEvent).where(AuditEvent.chain == 2).values(actor="someone-else"))
        db.execute(update(AuditHead).where(AuditHead.id == 2).values(hash="f" * 64))
    _append(sessions, 3)  # chain 1 is intact and free: audited work carries on
    with sessions() as db:
        assert audit.verify(db) == [
            f"event {db.scalar(select(AuditEvent.seq).where(AuditEvent.chain == 2))}: contents were edited after it "
            "was written",
            "chain 2: the head was altered or set back (its MAC does not match; or the audit key is not the one the "
            "trail was written with)"]
    holder = HeldAppend(sessions, 4)  # with chain 1 taken, the next writer meets the damaged chain 2 and stops
    holder.start()
    assert holder.appended.wait(10)
    try:
        with pytest.raises(audit.AuditChainBroken, match="chain 2"):
            _append(sessions, 5)
    finally:
        holder.release.set()
        holder.join(10)


@ONLY_POSTGRESQL
def test_a_writer_killed_in_the_middle_of_an_append_loses_no_committed_event(sessions, db_engine):
    for n in (1, 2):
        _append(sessions, n)
    script = textwrap.dedent(f"""
        import sys, time
        from access_control import audit
        from registry.db import make_engine, make_sessionmaker
        sessions = make_sessionmaker(make_engine({db_engine.url.render_as_string(hide_password=False)!r}),
                                     info={{"audit_key": bytes.fromhex({sessions.kw["info"]["audit_key"].hex()!r})}})
        with sessions.begin() as db:
            audit.append(db, "committed", "HV", "search", {{}})
        db = sessions()
        audit.append(db, "in-flight", "HV", "search", {{}})
        print("holding", flush=True)
        time.sleep(60)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert writer.stdout.readline().strip() == "holding"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(10)
    for n in (3, 4):
        _append(sessions, n)
    with sessions() as db:
        actors = list(db.scalars(select(AuditEvent.actor).order_by(AuditEvent.seq)))
        assert actors == ["user1", "user2", "committed", "user3", "user4"]
        assert audit.verify(db) == []


def test_a_trail_written_before_the_chains_becomes_chain_1_with_its_review_index(sessions, db_engine):
    command.downgrade(_alembic_config(db_engine), "0011")
    old_events = table("audit_events", *(column(name) for name in (
        "seq", "occurred_at", "actor", "organisation", "action", "details", "prev_hash", "hash")))
    key, prev = sessions.kw["info"]["audit_key"], audit.GENESIS
    with db_engine.begin() as conn:  # two keyed events as the code before the chains wrote them
        for seq, details in ((1, {"cp_id": CHILD, "child_la": LA}), (2, {"returned": []})):
            when = dt.datetime(2026, 1, seq, 12, tzinfo=dt.timezone.utc)
            canonical = json.dumps(details, sort_keys=True)
            digest = audit._event_mac(key, prev, seq, audit._stamp(when), "old", "HV", "record_view", canonical)
            conn.execute(insert(old_events).values(seq=seq, occurred_at=when, actor="old", organisation="HV",
                                                   action="record_view", details=canonical, prev_hash=prev,
                                                   hash=digest))
            prev = digest
        conn.execute(insert(table("audit_head", *(column(n) for n in ("id", "seq", "hash", "keyed_from", "mac"))))
                     .values(id=1, seq=2, hash=prev, keyed_from=1, mac=audit.head_mac(key, 2, prev, 1)))
    upgrade(db_engine)
    _append(sessions, 3)
    with sessions() as db:
        assert audit.verify(db) == []
        assert db.execute(select(AuditEvent.seq, AuditEvent.chain, AuditEvent.chain_seq)
                          .order_by(AuditEvent.seq)).all() == [(1, 1, 1), (2, 1, 2), (3, 1, 3)]
        assert [e.seq for e in find_events(db, LA, EventFilter(cp_id=CHILD))[0]] == [1]


@ONLY_POSTGRESQL
def test_a_transaction_that_appends_twice_keeps_to_the_head_it_holds(sessions):
    holder = HeldAppend(sessions, 1)  # chain 1 taken
    holder.start()
    assert holder.appended.wait(10)
    with sessions.begin() as db:
        first = audit.append(db, "twice", "HV", "search", {"n": 2})
        holder.release.set()
        holder.join(10)  # chain 1 is free again, but this transaction holds chain 2's head
        second = audit.append(db, "twice", "HV", "search", {"n": 3})
    assert (first.chain, first.chain_seq, second.chain, second.chain_seq) == (2, 1, 2, 2)
    _append(sessions, 4)  # a new transaction starts from the first free head again
    assert _chains(sessions) == {1: 2, 2: 2}
    with sessions() as db:
        assert audit.verify(db) == []


def test_an_unused_head_that_does_not_start_from_its_genesis_is_refused_not_written_on(sessions):
    with sessions.begin() as db:  # chain 1 unused, but its head set to follow some other event
        db.execute(update(AuditHead).where(AuditHead.id == 1).values(hash="e" * 64))
    with pytest.raises(audit.AuditChainBroken, match="chain 1 was reset"), sessions.begin() as db:
        audit.append(db, "user1", "HV", "search", {})
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == 0
