"""A ``limits`` storage in the authoritative database, so usage limits hold across every web worker.

Flask-Limiter counts per user; with this storage all gunicorn workers (and hosts) share one
set of fixed-window counters. Registered under the ``contactpoint-db://`` scheme; the app passes
its SQLAlchemy engine as the ``engine`` storage option.
"""
from __future__ import annotations

import time
from typing import Callable

from limits.storage import Storage
from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from registry.db import single_statements

from .models import RateLimitCounter

SCHEME = "contactpoint-db"


class DatabaseStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, engine: Engine | None = None,
                 memo: Callable[[], dict | None] = lambda: None, **options):
        """``memo`` returns a dict that lives as long as one request (None outside one): the counters this
        request moved are kept there, so reporting them (the rate-limit headers) costs no more queries."""
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if engine is None:
            raise ValueError(f"the {SCHEME} storage needs the database engine as the 'engine' option")
        self.engine, self.memo = engine, memo
        postgresql = engine.dialect.name == "postgresql"
        self._insert = pg_insert if postgresql else sqlite_insert
        # One upsert is atomic by itself: on PostgreSQL it runs without BEGIN and COMMIT round trips.
        self._single = single_statements(engine) if postgresql else None
        # Built once (it runs several times per request), its values bound at each call.
        table = RateLimitCounter.__table__
        expired = table.c.expires_at <= bindparam("now")
        self._upsert = self._insert(table).values(
            key=bindparam("key"), count=bindparam("amount"), expires_at=bindparam("new_expiry"),
        ).on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"count": case((expired, bindparam("amount")), else_=table.c.count + bindparam("amount")),
                  "expires_at": case((expired, bindparam("new_expiry")), else_=table.c.expires_at)},
        ).returning(table.c.count, table.c.expires_at)

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add to the counter in one atomic upsert; a counter whose window ended starts again."""
        now = time.time()
        params = {"key": key, "amount": amount, "now": now, "new_expiry": now + expiry}
        if self._single is not None:
            with self._single.connect() as conn:
                row = conn.execute(self._upsert, params).one()
        else:
            with self.engine.begin() as conn:
                row = conn.execute(self._upsert, params).one()
        memo = self.memo()
        if memo is not None:
            memo[key] = (row.count, row.expires_at)
        return row.count

    def _counter(self, key: str) -> tuple[int, float] | None:
        memo = self.memo()
        if memo is not None and key in memo:
            return memo[key]
        with self.engine.connect() as conn:
            return conn.execute(select(RateLimitCounter.count, RateLimitCounter.expires_at)
                                .where(RateLimitCounter.key == key)).first()

    def get(self, key: str) -> int:
        row = self._counter(key)
        return row[0] if row is not None and row[1] > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._counter(key)
        return row[1] if row is not None and row[1] > time.time() else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(RateLimitCounter)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))
