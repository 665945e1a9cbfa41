"""Change-log appends under concurrent writers on PostgreSQL: the cost of the commit-order lock.

    .venv/bin/python bench/change_log_append.py [--writers 16] [--seconds 20] [--children 2000] [--durable]
                                                [--database-url URL]

Every writer thread renames children of its own through the registry's write path
(`writes.update_child`, one transaction and so one change-log row each) for --seconds. It runs
twice: as the code is (one transaction-scoped advisory lock from the first change-log row to
commit, so sequence order is commit order), and with that lock replaced by a no-op, so the lock's
cost is measured rather than guessed. For each it reports appends/s, commit latency p50/p95, and
how many changes a watcher reading the log like an indexer (everything after the highest sequence
number it has seen, as fast as it can) found only after it had moved past them: each one a change an
indexer would never apply, the hazard the lock exists for.
Starts its own PostgreSQL (fsync off, as the tests run it; --durable: fsync and synchronous commit
on, as production runs) unless --database-url is given. Loopback only; stops what it started.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import threading
import time
from pathlib import Path
from unittest import mock

from sqlalchemy import create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry import writes  # noqa: E402
from registry.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from registry.models import ChangeLog, Child  # noqa: E402


def _children(sessions, count: int) -> list[int]:
    with sessions.begin() as session:
        made = [writes.create_child(session, given_name="Amara", family_name=f"Okafor{n}",
                                    date_of_birth=dt.date(2015, 1, 1 + n % 28), gender="female",
                                    postcode="LS6 2AB", la_code="E08000035") for n in range(count)]
        session.flush()
        return [child.id for child in made]


def _watch(sessions, stop: threading.Event, skipped: list[int]) -> None:
    """Read the log as an indexer does; note every change that appears below where it already was."""
    with sessions() as session:
        low = session.scalar(select(func.coalesce(func.max(ChangeLog.seq), 0)))
    seen: set[int] = set()
    checkpoint = low
    while not stop.is_set():
        with sessions() as session:
            visible = set(session.scalars(select(ChangeLog.seq).where(ChangeLog.seq > low)))
        skipped.extend(seq for seq in visible - seen if seq <= checkpoint)
        seen |= visible
        checkpoint = max(seen, default=checkpoint)


def _run(sessions, ids: list[int], writers: int, seconds: float) -> dict:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def write(mine: list[int]) -> None:
        n = 0
        while time.monotonic() < deadline:
            start = time.perf_counter()
            with sessions.begin() as session:
                child = session.get(Child, mine[n % len(mine)])
                writes.update_child(session, child, town=f"Town {n}")
            latencies.append(time.perf_counter() - start)  # list.append is atomic
            n += 1

    stop, skipped = threading.Event(), []
    watcher = threading.Thread(target=_watch, args=(sessions, stop, skipped))
    watcher.start()
    threads = [threading.Thread(target=write, args=(ids[w::writers],)) for w in range(writers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    time.sleep(0.5)  # the watcher's last look
    stop.set()
    watcher.join()
    latencies.sort()
    return {"appends_per_s": len(latencies) / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)], "late": len(skipped), "appends": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--durable", action="store_true", help="fsync and synchronous commit on")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    server = None
    try:
        url = args.database_url
        if url is None:
            from tests.support.postgres import LocalPostgres

            server = LocalPostgres({"fsync": "on", "synchronous_commit": "on"} if args.durable else {})
            url = server.start()
        upgrade(make_engine(url))
        # The registry's engine, with a connection for every writer and the watcher (none waits on the pool).
        engine = create_engine(make_engine(url).url, pool_size=args.writers + 2, pool_pre_ping=True)
        sessions = make_sessionmaker(engine)
        ids = _children(sessions, args.children)
        print(f"{args.writers} writers, {args.seconds:.0f}s each, PostgreSQL "
              f"({'fsync and synchronous commit on' if args.durable else 'fsync off'})", flush=True)
        for label, patch in [("with the commit-order lock", None),
                             ("without it", mock.patch.object(writes, "_serialise_outbox_writers", lambda s: None))]:
            if patch:
                patch.start()
            result = _run(sessions, ids, args.writers, args.seconds)
            if patch:
                patch.stop()
            print(f"{label}: {result['appends_per_s']:,.0f} appends/s, commit p50 {result['p50_ms']:.1f} ms "
                  f"p95 {result['p95_ms']:.1f} ms; {result['late']} of {result['appends']:,} appeared only after "
                  "an indexer would have moved past them", flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
