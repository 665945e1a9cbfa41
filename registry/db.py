"""Database engine, sessions and migrations (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


# An engine (or connection) execution option: the transactions it begins only read, which on SQLite lets them
# share the database with a writer instead of queueing for its lock, and on PostgreSQL makes them READ ONLY.
READ_ONLY = "contactpoint_read_only"


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


def read_only(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions like ``sessions`` (same engine, same info) for work that only reads."""
    engine = sessions.kw["bind"]
    return make_sessionmaker(getattr(engine, "engine", engine), sessions.kw.get("info"), read_only=True)


def make_sessionmaker(engine: Engine, info: dict | None = None, read_only: bool = False) -> sessionmaker[Session]:
    """``info`` is copied into every session's ``Session.info``, e.g. the audit trail's key ("audit_key").
    ``read_only`` sessions only read (see READ_ONLY): use them wherever nothing is written."""
    # postgresql_readonly: psycopg then begins with BEGIN READ ONLY (no extra round trip).
    options = {READ_ONLY: True, **({"postgresql_readonly": True} if engine.dialect.name == "postgresql" else {})}
    bind = engine.execution_options(**options) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False, info=info)


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
