"""Audit trail throughput: concurrent writers appending events on PostgreSQL, then `verify`.

    .venv/bin/python bench/audit.py [--writers 16] [--seconds 20] [--database-url URL] [--not-durable]

Each writer is its own process with its own connection (as gunicorn workers are) and appends one event
per transaction, as every audited request does, for the given time. Two runs, side by side on the same
server: the trail as it is (parallel chains, each writer locks whichever head is free) and, for
comparison, every writer locking chain 1's head as the single chain did before. Reports events/s, the
chains used, and how long `verify` took over everything written (it must find nothing).

Starts its own PostgreSQL (durable commits: fsync and synchronous_commit on, as production) unless
--database-url is given; loopback only.
"""
from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from access_control import audit  # noqa: E402
from access_control.models import AuditEvent  # noqa: E402
from registry.db import make_engine, make_sessionmaker, upgrade  # noqa: E402

KEY = hashlib.sha256(b"bench/audit.py").digest()
DETAILS = {"channel": "api", "criteria": {"given_name": "Amara", "family_name": "Okafor", "date_of_birth": "2019-05-14"},
           "returned": ["1000000001", "1000000019"], "too_many": False, "shielded_returned": [],
           "role": "practitioner", "actor_la": "E09000001", "on_behalf_of": None, "profile": "default:1"}


def _one_chain(session):
    """The trail before the chains: every writer queues on chain 1's head."""
    return audit._Head(*session.execute(audit._THAT_HEAD, {"chain_id": 1}).one())


def _writer(url: str, seconds: float, one_chain: bool, start, counts, index: int) -> None:
    if one_chain:
        audit._claim_head = _one_chain
    engine = make_engine(url, ping=False)
    sessions = make_sessionmaker(engine, info={"audit_key": KEY})
    start.wait()
    deadline, done = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        with sessions.begin() as session:
            audit.append(session, f"writer{index}", "HV", "search", DETAILS)
        done += 1
    counts[index] = done
    engine.dispose()


def run(url: str, writers: int, seconds: float, one_chain: bool) -> dict:
    engine = make_engine(url)
    with engine.begin() as conn:  # a fresh trail for each run
        conn.execute(text("DELETE FROM audit_subjects"))
        conn.execute(text("DELETE FROM audit_events"))
        for chain in range(1, audit.CHAINS + 1):
            conn.execute(text("UPDATE audit_head SET seq = 0, hash = :genesis, mac = NULL, keyed_from = NULL "
                              "WHERE id = :chain"), {"genesis": audit.genesis(chain), "chain": chain})
    context = multiprocessing.get_context("spawn")
    start, counts = context.Barrier(writers + 1), context.Array("i", writers)
    processes = [context.Process(target=_writer, args=(url, seconds, one_chain, start, counts, i))
                 for i in range(writers)]
    for process in processes:
        process.start()
    start.wait()
    began = time.monotonic()
    for process in processes:
        process.join()
    elapsed = time.monotonic() - began
    if any(process.exitcode for process in processes):
        sys.exit(f"a writer failed (exit codes {[process.exitcode for process in processes]})")
    sessions = make_sessionmaker(engine, info={"audit_key": KEY})
    with sessions() as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        chains = session.scalar(select(func.count(func.distinct(AuditEvent.chain))))
        checked = time.monotonic()
        problems = audit.verify(session)
        verify_seconds = time.monotonic() - checked
    engine.dispose()
    assert events == sum(counts), (events, sum(counts))
    return {"events": events, "per_second": events / elapsed, "chains": chains, "problems": problems,
            "verify_seconds": verify_seconds, "per_writer": statistics.median(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3, help="side-by-side rounds; medians are reported")
    parser.add_argument("--database-url", help="an existing PostgreSQL on 127.0.0.1 (its audit trail is wiped)")
    parser.add_argument("--not-durable", action="store_true", help="our own server without fsync (faster, unsafe)")
    args = parser.parse_args()
    if not 1 <= args.writers <= 64 or not 1 <= args.seconds <= 300:
        parser.error("--writers must be 1..64 and --seconds 1..300 (a bounded load)")
    postgres = None
    if args.database_url:
        if urlparse(args.database_url).hostname not in ("127.0.0.1", "localhost", "::1"):
            parser.error("--database-url must be on this machine (127.0.0.1): a benchmark never leaves loopback")
        url = args.database_url
    else:
        from tests.support.postgres import LocalPostgres
        durable = {} if args.not_durable else {"fsync": "on", "synchronous_commit": "on"}
        postgres = LocalPostgres(settings={**durable, "max_connections": "200"})
        url = postgres.start()
    try:
        upgrade(make_engine(url))
        results = {"chains": [], "one chain": []}
        for _ in range(args.rounds):
            for mode in results:
                results[mode].append(run(url, args.writers, args.seconds, one_chain=mode == "one chain"))
    finally:
        if postgres is not None:
            postgres.stop()
    print(f"\naudit appends: {args.writers} writer processes x {args.seconds:.0f} s, PostgreSQL "
          f"({'durable' if not args.not_durable or args.database_url else 'fsync off'}), {os.cpu_count()} cores, "
          f"median of {args.rounds} rounds side by side")
    print(f"{'trail':<12}{'events/s':>10}{'chains used':>13}{'verify s':>10}{'events':>9}  problems")
    for mode, runs in results.items():
        print(f"{mode:<12}{statistics.median(r['per_second'] for r in runs):>10.0f}"
              f"{statistics.median(r['chains'] for r in runs):>13.0f}"
              f"{statistics.median(r['verify_seconds'] for r in runs):>10.1f}"
              f"{statistics.median(r['events'] for r in runs):>9.0f}  "
              f"{sum(len(r['problems']) for r in runs)}")
    if any(r["problems"] for runs in results.values() for r in runs):
        sys.exit("verify found problems after a run")


if __name__ == "__main__":
    main()
