"""Audit integrity and abuse: anonymous noise cannot flood the trail, typed unknown usernames are not kept in
clear, and tampering with the trail -- its tail and its head included -- is detected without trusting the
database, because the chain is anchored by a keyed MAC whose key lives outside it."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import column, delete, select, table, update

from access_control import audit
from access_control.models import AuditEvent, AuditHead
from registry.db import _alembic_config, make_sessionmaker, upgrade
from webapp.cli import main

from ..support.accounts import PASSWORD, TEST_SECRET_KEY, add_user, csrf_token, sign_in
from .conftest import PURPOSE, audit_mark, events_since, make_app, refusal

OTHER_KEY = hashlib.sha256(b"not the audit key").digest()
events_before_0013 = table("audit_events", *(column(name) for name in (
    "seq", "occurred_at", "actor", "organisation", "action", "details", "prev_hash", "hash")))


@pytest.fixture
def run(settings):
    """`contactpoint` against this test's database, configured as the app is (the same secret key)."""
    env = {"CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_ES_URL": settings.es_url,
           "CONTACTPOINT_STATE_DIR": str(settings.state_dir), "CONTACTPOINT_SECRET_KEY": TEST_SECRET_KEY}
    return lambda *args, **extra_env: CliRunner().invoke(main, list(args), env={**env, **extra_env},
                                                         catch_exceptions=False)


@pytest.fixture
def limited_app(settings, es):
    app = make_app(settings.replace(login_limit="4 per minute"))
    yield app
    app.extensions["contactpoint"]["engine"].dispose()


def _append(sessions, count: int, start: int = 1) -> None:
    for n in range(start, start + count):
        with sessions.begin() as db:
            audit.append(db, f"user{n}", "HV", "search", {"n": n})


def _verify(sessions, *expect) -> list[str]:
    with sessions() as db:
        return audit.verify(db, expect) if expect else audit.verify(db)


# --- 9. anonymous noise ------------------------------------------------------------------------------------------

def test_anonymous_refusals_of_every_kind_share_one_limit_per_address(limited_app, sessions):
    client, elsewhere = limited_app.test_client(), limited_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    token = csrf_token(client, "/login")
    too_big = {"csrf_token": token, "username": "x" * (70 * 1024), "password": "p"}
    requests = [
        lambda: client.get(f"/api/v1/children/1000000001?purpose={PURPOSE}"),  # 401
        lambda: client.put("/api/v1/search", json={}),  # 405
        lambda: client.post("/login", data=too_big),  # 413
        lambda: client.post("/login", data={"username": "a", "password": "b"}),  # 400: no CSRF token
    ]
    mark = audit_mark(sessions)
    within = [send().status_code for send in requests]
    client.set_cookie("contactpoint_session", "forged.cookie")
    past = [client.get("/").status_code] + [send().status_code for send in requests * 3]
    other = elsewhere.put("/api/v1/search", json={}).status_code

    # Answers are unchanged (a refusal past the limit is still that refusal); only the recording stops.
    assert within == [401, 405, 413, 400] and past == [302] + [401, 405, 413, 400] * 3 and other == 405
    events = events_since(sessions, mark)
    assert refusal(events) == [
        ("anonymous", "request_refused", 401, "not_signed_in", None),
        ("anonymous", "request_refused", 405, "method_not_allowed", None),
        ("anonymous", "request_refused", 413, "body_too_large", None),
        ("anonymous", "request_refused", 400, "csrf_token_invalid", None),
        ("anonymous", "refusals_limited", 400, "session_cookie_tampered", None),
        ("anonymous", "request_refused", 405, "method_not_allowed", None)]
    assert events[4][2]["limit"] == "4 per 1 minute" and events[5][2]["remote_addr"] == "192.0.2.7"


def test_a_signed_in_callers_refusals_are_all_recorded(limited_app, sessions):
    client = limited_app.test_client()
    sign_in(client, sessions, add_user(sessions, "pat.refused"))
    mark = audit_mark(sessions)
    assert [client.put("/api/v1/search", json={}).status_code for _ in range(6)] == [405] * 6
    assert refusal(events_since(sessions, mark)) == [("pat.refused", "request_refused", 405, "method_not_allowed",
                                                      None)] * 6


def test_a_typed_unknown_username_is_kept_only_as_a_keyed_hash(app, sessions, db_engine):
    add_user(sessions, "kim.known")
    client = app.test_client()
    token = csrf_token(client, "/login")
    mark = audit_mark(sessions)
    for username in ("Tr0ub4dor&3 oops", "tr0ub4dor&3 oops", "someone.else", "kim.known"):
        assert client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": "wrong " + PASSWORD}).status_code == 401
    with sessions() as db:
        rows = db.execute(select(AuditEvent.actor, AuditEvent.details).where(AuditEvent.seq > mark)
                          .order_by(AuditEvent.seq)).all()
        expected = "unknown:" + audit.pseudonym(db, "unknown-username", "tr0ub4dor&3 oops")
    with make_sessionmaker(db_engine, info={"audit_key": OTHER_KEY})() as db:
        under_another_key = "unknown:" + audit.pseudonym(db, "unknown-username", "tr0ub4dor&3 oops")
    actors = [actor for actor, _ in rows]
    # The same name groups together, another name does not; a real account is named as before.
    assert actors[0] == actors[1] == expected != under_another_key
    assert actors[2].startswith("unknown:") and actors[2] != actors[0] and actors[3] == "kim.known"
    assert not any("tr0ub4dor" in text.lower() or "someone" in text for row in rows for text in row)
    assert _verify(sessions) == []


# --- 10. tampering with the tail and the head -------------------------------------------------------------------

def test_cutting_off_the_newest_events_is_detected_though_the_head_is_set_back(sessions):
    _append(sessions, 5)
    assert _verify(sessions) == []
    with sessions.begin() as db:
        third = db.get(AuditEvent, 3)
        db.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
        db.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=3, hash=third.hash))
    assert _verify(sessions) == ["chain 1: the head was altered or set back (its MAC does not match; or the audit "
                                 "key is not the one the trail was written with)"]
    # Nor does the next event seal the cut: nothing more is written until someone looks.
    with pytest.raises(audit.AuditChainBroken), sessions.begin() as db:
        audit.append(db, "user6", "HV", "search", {})


def test_a_chain_rewritten_without_the_key_is_detected(sessions):
    _append(sessions, 4)

    def rewrite(digest) -> list[str]:
        """Edit event 2's actor, then recompute every hash after it and the head, as someone with only the
        database could."""
        with sessions.begin() as db:
            prev = db.get(AuditEvent, 1).hash
            for event in db.scalars(select(AuditEvent).where(AuditEvent.seq > 1).order_by(AuditEvent.seq)):
                event.actor = "someone-else" if event.seq == 2 else event.actor
                stamp = event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                event.prev_hash, event.hash = prev, digest(prev, event.seq, stamp, event.actor, event.organisation,
                                                           event.action, event.details)
                prev = event.hash
            head = db.get(AuditHead, 1)
            head.hash = prev
            head.mac = hmac.new(OTHER_KEY, json.dumps(["contactpoint/audit-head", head.seq, prev, head.keyed_from])
                                .encode(), hashlib.sha256).hexdigest()
        return _verify(sessions)

    def plain_sha256(*fields) -> str:  # the chain's format before the keyed MAC
        return hashlib.sha256(json.dumps(list(fields), ensure_ascii=False).encode()).hexdigest()

    def keyed_with_another_key(*fields) -> str:
        material = json.dumps(["contactpoint/audit-event", *fields], ensure_ascii=False)
        return hmac.new(OTHER_KEY, material.encode(), hashlib.sha256).hexdigest()

    for digest in (plain_sha256, keyed_with_another_key):
        problems = rewrite(digest)
        assert [p for p in problems if "contents were edited" in p] == [
            f"event {seq}: contents were edited after it was written" for seq in (2, 3, 4)], digest.__name__
        assert "chain 1: the head was altered or set back (its MAC does not match; or the audit key is not the " \
               "one the trail was written with)" in problems, digest.__name__


def test_a_missing_head_row_is_detected_and_stops_further_writes(sessions):
    _append(sessions, 3)
    with sessions.begin() as db:
        db.execute(delete(AuditHead))
    assert _verify(sessions) == ["chain 1: the head row is missing while events 1 to 3 of the chain exist (newer "
                                 "events may have been removed)"]
    with pytest.raises(audit.AuditChainBroken), sessions.begin() as db:
        audit.append(db, "user4", "HV", "search", {})


def test_without_the_key_nothing_is_written_or_checked(sessions, db_engine, run):
    keyless = make_sessionmaker(db_engine)
    with pytest.raises(audit.AuditKeyMissing), keyless.begin() as db:
        audit.append(db, "user1", "HV", "search", {})
    with pytest.raises(audit.AuditKeyMissing), keyless() as db:
        audit.verify(db)
    _append(sessions, 1)
    result = run("audit", "verify", CONTACTPOINT_SECRET_KEY=None)
    assert result.exit_code == 1 and "no key for audit: set CONTACTPOINT_SECRET_KEY" in result.output
    wrong = run("audit", "verify", CONTACTPOINT_SECRET_KEY="some other key")
    assert wrong.exit_code == 1 and "chain 1: the head was altered or set back" in wrong.output


def test_a_checkpoint_kept_elsewhere_catches_a_trail_put_back_or_deleted(sessions, run):
    _append(sessions, 3)
    first = run("audit", "verify")
    assert first.exit_code == 0 and first.output.splitlines()[0] == "audit trail intact"
    with sessions() as db:
        [(seq, head_hash)] = audit.current_heads(db)
    assert f"heads (one per chain): 3:{head_hash}" in first.output
    _append(sessions, 2, start=4)
    assert run("audit", "verify", "--expect", f"{seq}:{head_hash}").exit_code == 0
    # Someone with database access deletes the whole trail, head included: an empty trail verifies on its
    # own, but not against the checkpoint.
    with sessions.begin() as db:
        db.execute(delete(AuditEvent))
        db.execute(delete(AuditHead))
    assert run("audit", "verify").exit_code == 0
    result = run("audit", "verify", "--expect", f"{seq}:{head_hash}")
    assert result.exit_code == 1
    assert "event 3 recorded at a checkpoint is gone: the trail was cut back or replaced by an older copy" \
        in result.output
    assert "expected SEQ:HASH" in run("audit", "verify", "--expect", "3:abc").output


def test_a_trail_from_before_the_keyed_mac_is_sealed_by_the_upgrade(sessions, db_engine, run):
    engine = db_engine
    command.downgrade(_alembic_config(engine), "0008")
    prev = "0" * 64
    with engine.begin() as conn:  # three events as the code before the keyed MAC wrote them
        for seq in (1, 2, 3):
            stamp = f"2026-01-0{seq}T12:00:00.000000Z"
            details = json.dumps({"n": seq})
            digest = hashlib.sha256(json.dumps([prev, seq, stamp, "old", None, "search", details]).encode()).hexdigest()
            conn.execute(events_before_0013.insert().values(
                seq=seq, occurred_at=dt.datetime(2026, 1, seq, 12, tzinfo=dt.timezone.utc), actor="old",
                organisation=None, action="search", details=details, prev_hash=prev, hash=digest))
            prev = digest
        conn.exec_driver_sql(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, '{prev}')")
    with pytest.raises(RuntimeError, match="upgrading seals it with the audit key"):
        upgrade(engine)
    assert run("db", "upgrade").exit_code == 0  # the command line hands in the key
    _append(sessions, 2, start=4)
    assert _verify(sessions) == []
    with sessions.begin() as db:  # an older event is as protected as the keyed ones after it
        db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="someone-else"))
    assert _verify(sessions) == ["event 2: contents were edited after it was written"]


def test_the_command_line_and_the_app_share_the_key(app, sessions, run):
    assert app.test_client().put("/api/v1/search", json={}).status_code == 405  # the app writes...
    assert [action for _, action, _ in events_since(sessions, 0)] == ["request_refused"]
    assert run("audit", "verify").output.splitlines()[0] == "audit trail intact"  # ...the command line checks
