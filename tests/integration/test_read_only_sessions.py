"""Sessions that only read: on SQLite they no longer queue for the write lock (BEGIN IMMEDIATE), on both
databases a write slipped into one fails loudly instead of taking a lock a reader should never hold."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from registry.db import make_sessionmaker, read_only
from registry.models import Child

from .helpers import add_child


def test_a_reader_does_not_wait_for_a_writers_open_transaction(db_engine, sessions):
    add_child(sessions, given="Amara")
    readers = make_sessionmaker(db_engine, read_only=True)
    counted, finished = [], threading.Event()

    def read():
        with readers() as session:
            counted.append(session.scalar(select(func.count()).select_from(Child)))
        finished.set()

    with sessions.begin() as writer:  # holds SQLite's write lock (PostgreSQL: a row lock) until the block ends
        writer.execute(text("UPDATE children SET given_name = 'Ama'"))
        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        # Before: the reader's BEGIN IMMEDIATE waited for this transaction (up to the 30 s busy timeout).
        assert finished.wait(5), "the reader queued behind the writer"
    thread.join(5)
    assert counted == [1]


def test_a_write_in_a_read_only_session_fails_and_changes_nothing(db_engine, sessions):
    cp_id = add_child(sessions, given="Amara")
    readers = make_sessionmaker(db_engine, read_only=True)
    with pytest.raises(DBAPIError, match="(?i)read-only|readonly"), readers.begin() as session:
        session.execute(text("UPDATE children SET given_name = 'Changed'"))
    with sessions() as session:
        assert session.scalar(select(Child.given_name).where(Child.cp_id == cp_id)) == "Amara"
    with sessions.begin() as session:  # the pooled connection is a writer's again afterwards
        session.execute(text("UPDATE children SET given_name = 'Ama'"))


def test_read_only_keeps_the_sessions_engine_and_info(db_engine, sessions):
    readers = read_only(sessions)
    with readers() as session:
        assert session.get_bind().engine.url == db_engine.url
        assert session.info["audit_key"] == sessions.kw["info"]["audit_key"]
        with pytest.raises(DBAPIError, match="(?i)read-only|readonly"):
            session.execute(text("DELETE FROM children"))
