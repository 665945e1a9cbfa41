"""Database engine, sessions and migrations (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

from pathlib import Path
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


# An engine execution option marking engines (see ``reader``) whose sessions only read.
READ_ONLY = "contactpoint_read_only"
# Each PostgreSQL engine's companions (see ``reader`` and ``single_statements``), made once, disposed with it.
_COMPANIONS: WeakKeyDictionary = WeakKeyDictionary()


def make_engine(url: str, ping: bool = True) -> Engine:
    """``ping=False`` (the web app) skips the liveness query on every pool checkout, a round trip per
    transaction; a connection the database dropped then fails its request, and SQLAlchemy replaces every
    pooled connection made before the failure (webapp.errors answers that request 503)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy, not pysqlite, issue BEGIN, so SAVEPOINTs (one per feed row) work.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (the web app) never block the indexer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers: IMMEDIATE takes the write lock up front (waiting up to the busy timeout), because a
            # WAL reader that later tries to write fails at once when another writer got there first.
            # Readers: a plain BEGIN, so they never wait for (nor hold up) a writer, and query_only makes a
            # write slipped into one fail loudly. SQLite is the development database; PostgreSQL the concurrent one.
            read_only = bool(conn.get_execution_options().get(READ_ONLY))
            conn.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=ping)


def _postgresql_autocommit(engine: Engine, kind: str, execution_options: dict, **connect_args) -> Engine:
    """A companion of ``engine`` with its own pool of autocommit connections (own, so no connection switches
    between autocommit and transactions, which costs psycopg a DEALLOCATE round trip), closed with it."""
    companions = _COMPANIONS.setdefault(engine, {})
    if kind not in companions:
        made = create_engine(engine.url, pool_pre_ping=engine.pool._pre_ping, isolation_level="AUTOCOMMIT",
                             connect_args=connect_args, execution_options=execution_options)
        event.listen(engine, "engine_disposed", lambda _engine: made.dispose())
        companions[kind] = made
        family = lambda: (engine, *_COMPANIONS.get(engine, {}).values())  # noqa: E731

        def lost_connection(context) -> None:
            # The database went away (restart, failover): the connections every pool of the family holds are
            # as dead as this one, so all are replaced now and only this request fails (without pings).
            if context.is_disconnect:
                for member in family():
                    if member is not context.engine:
                        member.dispose(close=False)

        for member in (engine, made):
            event.listen(member, "handle_error", lost_connection)
    return companions[kind]


def reader(engine: Engine) -> Engine:
    """The engine for work that only reads.

    PostgreSQL: its own pool of connections that autocommit and refuse writes (default_transaction_read_only),
    so a reader costs no BEGIN and COMMIT round trips; each statement sees the newest committed data, as it
    would inside a READ COMMITTED transaction. SQLite: the same pool, beginning with a plain BEGIN instead of
    BEGIN IMMEDIATE, so readers never queue for (nor hold) the write lock, with query_only set.
    """
    if engine.get_execution_options().get(READ_ONLY):
        return engine
    if engine.dialect.name == "postgresql":
        return _postgresql_autocommit(engine, "reader", {READ_ONLY: True},
                                      options="-c default_transaction_read_only=on")
    return engine.execution_options(**{READ_ONLY: True})


def single_statements(engine: Engine) -> Engine:
    """The engine for writes that are one atomic statement each (usage counters): on PostgreSQL they autocommit,
    with no BEGIN and COMMIT round trips; elsewhere ``engine`` itself (use it with ``begin()``)."""
    return _postgresql_autocommit(engine, "single", {}) if engine.dialect.name == "postgresql" else engine


def read_only(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions like ``sessions`` (same engine, same info) for work that only reads."""
    return make_sessionmaker(sessions.kw["bind"], sessions.kw.get("info"), read_only=True)


def make_sessionmaker(engine: Engine, info: dict | None = None, read_only: bool = False) -> sessionmaker[Session]:
    """``info`` is copied into every session's ``Session.info``, e.g. the audit trail's key ("audit_key").
    ``read_only`` sessions only read (see ``reader``): use them wherever nothing is written."""
    return sessionmaker(reader(engine) if read_only else engine, expire_on_commit=False, info=info)


def _alembic_config(engine: Engine, audit_key: bytes | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    config.attributes["audit_key"] = audit_key
    return config


def upgrade(engine: Engine, revision: str = "head", audit_key: bytes | None = None) -> None:
    """``audit_key`` seals an audit trail written before the keyed MAC (migration 0009 needs it then)."""
    command.upgrade(_alembic_config(engine, audit_key), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
