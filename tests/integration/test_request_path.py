"""What one API search and one record view cost the database, and what a dropped database connection costs the
caller. The round trips are pinned here (bench/load.py measures the time), so a change that adds one to every
practitioner's request shows up in review, not in production."""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import event

from registry.db import reader, single_statements

from .helpers import api_search, years_ago

ONLY_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
DOB = years_ago(6, day=14)
PURPOSE = "safeguarding_concern"


@contextmanager
def round_trips(engine):
    """Statements on the app's engine and its autocommit companions (readers, usage counters), plus BEGIN and
    COMMIT (or ROLLBACK) for every transaction on the engine itself, plus a liveness ping per checkout when
    a pool pings."""
    engines = (engine, reader(engine), single_statements(engine))
    seen = Counter()

    def begin(conn):
        seen["round_trips"] += 2 + int(engine.pool._pre_ping)

    def autocommitted(conn):
        seen["round_trips"] += int(conn.engine.pool._pre_ping)

    def statement(*_):
        seen["round_trips"] += 1

    listeners = [(engine, "begin", begin), *((e, "begin", autocommitted) for e in engines[1:]),
                 *((e, "before_cursor_execute", statement) for e in engines)]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield seen
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)


def _search(client):
    return api_search(client, given_name="Amara", family_name="Okafor", date_of_birth=DOB.isoformat())


@ONLY_POSTGRESQL
def test_an_api_search_and_a_record_view_each_take_a_bounded_number_of_database_round_trips(app, client, indexed):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    engine = app.extensions["contactpoint"]["engine"]
    _search(client)  # the pool and the active profile warmed up
    with round_trips(engine) as search:
        status, body = _search(client)
    assert status == 200 and [r["cp_id"] for r in body["results"]] == [target]
    with round_trips(engine) as view:
        response = client.get(f"/api/v1/children/{target}?purpose={PURPOSE}")
    assert response.status_code == 200
    # A search: the token with its account (1 statement), whom it acts for (1), four usage counters (one
    # autocommitted upsert each; the rate-limit headers reuse them), the profile and the not-yet-indexed
    # shieldings (2), the database re-check (1) -- all reads autocommitted -- and the audit event (its chain
    # head, then one statement) in the one transaction (BEGIN, COMMIT). It was 48 with a ping per checkout,
    # lazy loads, the headers' own queries and a transaction around every read.
    assert search["round_trips"] <= 13, search
    # A record view: the same caller and counters, the record (5 statements) and its audit event in one
    # transaction. It was 45.
    assert view["round_trips"] <= 15, view


@ONLY_POSTGRESQL
def test_a_connection_the_database_dropped_fails_one_request_with_503_and_the_next_succeeds(app, client, indexed,
                                                                                            postgres_url):
    target, = indexed(dict(given="Amara", family="Okafor", dob=DOB))
    assert _search(client)[0] == 200  # the app's pool now holds an open connection
    engine = app.extensions["contactpoint"]["engine"]
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a database restart or failover would
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                               (engine.url.database,)).fetchone()[0]
    assert killed >= 1
    status, body = _search(client)
    assert status == 503 and body["message"] == ("the directory's database is unavailable at the moment: try again "
                                                 "shortly")
    status, body = _search(client)
    assert status == 200 and [r["cp_id"] for r in body["results"]] == [target]
