"""Indexer throughput and lag.

    .venv/bin/python bench/indexing.py [--children 1000000] [--rate 100] [--seconds 30] [--database-url URL]

1. Loads N synthetic children into a fresh database through the registry's bulk path
   (registry.demo_bulk, as `contactpoint demo-data --bulk`), each with one change-log row.
2. Times `contactpoint index rebuild` (the production command, in its own process) into a fresh
   index: children per second, and the peak resident memory of that process and any workers it
   starts (sampled together, so a parallel rebuild is charged for all of its processes).
3. Starts a real `contactpoint index sync --follow` process, writes changes through the
   registry at a steady rate, and measures for each change the time from its commit until
   the worker's checkpoint passed it (p50/p95), plus the worker's peak RSS (VmHWM).
Starts its own Elasticsearch node unless --es-url is given; cleans up after itself.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from elasticsearch import Elasticsearch
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexing import CHECKPOINT  # noqa: E402
from registry import checkpoints, writes  # noqa: E402
from registry.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from registry.demo_bulk import load_demo_data_bulk  # noqa: E402
from registry.models import Child  # noqa: E402
from webapp.config import Settings  # noqa: E402

ALIAS = "bench-index"


def load_children(engine, count: int, seed: int) -> None:
    start = time.perf_counter()
    load_demo_data_bulk(make_sessionmaker(engine), count, seed)
    elapsed = time.perf_counter() - start
    print(f"loaded {count:,} children into the database in {elapsed:.0f}s = {count / elapsed:,.0f} children/s "
          "(registry.demo_bulk)", flush=True)


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _process_tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except OSError:
                pass
    return pids


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants now (a pool of workers counts whole)."""
    total = 0
    for member in _process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue  # it ended between listing and reading
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def measure_rebuild(database_url: str, es_url: str, children: int, workers: int | None = None,
                    page_size: int | None = None) -> None:
    """Run the production rebuild command and sample its process tree's memory every 50 ms."""
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": database_url, "CONTACTPOINT_ES_URL": es_url,
           "CONTACTPOINT_ES_ALIAS": ALIAS}
    start = time.perf_counter()
    options = ([] if workers is None else ["--workers", str(workers)]) + \
        ([] if page_size is None else ["--page-size", str(page_size)])
    command = subprocess.Popen([sys.executable, "-m", "webapp.cli", "index", "rebuild", *options], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while command.poll() is None:
        peak = max(peak, tree_rss_mb(command.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    out, err = command.communicate()
    if command.returncode != 0:
        raise SystemExit(f"rebuild failed ({command.returncode}): {err.strip()[-2000:]}")
    print(out.strip())
    print(f"rebuild ({'default' if workers is None else workers} workers, page {page_size or 'default'}): {children:,} children in {elapsed:.0f}s = {children / elapsed:,.0f} children/s "
          f"(process start included); peak RSS of the rebuild's processes {peak:.0f} MB", flush=True)


def measure_lag(sessions, database_url: str, es_url: str, rate: float, seconds: float) -> None:
    env = {**os.environ, "CONTACTPOINT_DATABASE_URL": database_url, "CONTACTPOINT_ES_URL": es_url,
           "CONTACTPOINT_ES_ALIAS": ALIAS}
    worker = subprocess.Popen([sys.executable, "-m", "webapp.cli", "index", "sync", "--follow"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    committed: dict[int, float] = {}
    applied: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() or len(applied) < len(committed):
            with sessions() as session:
                checkpoint = checkpoints.get_checkpoint(session, CHECKPOINT)
            now = time.perf_counter()
            for seq in [s for s in list(committed) if s <= checkpoint and s not in applied]:
                applied[seq] = now
            if done.is_set() and time.perf_counter() - stop_writing > 30:
                break
            time.sleep(0.02)

    stop_writing = float("inf")
    watcher = threading.Thread(target=watch)
    try:
        time.sleep(3)  # let the worker start
        with sessions() as session:
            ids = list(session.scalars(select(Child.id).order_by(Child.id).limit(5000)))
        watcher.start()
        interval = 1.0 / rate
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            target = start + n * interval
            pause = target - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            with sessions.begin() as session:
                child = session.get(Child, ids[n % len(ids)])
                writes.update_child(session, child, town=f"Town {n}")
                session.flush()
                seq = checkpoints.last_change_seq(session)
            committed[seq] = time.perf_counter()
        achieved = len(committed) / (time.perf_counter() - start)
        stop_writing = time.perf_counter()
        done.set()
        watcher.join(timeout=60)
        lags = sorted(applied[s] - committed[s] for s in applied)
        missing = len(committed) - len(applied)
        p95 = lags[min(len(lags) - 1, int(len(lags) * 0.95))] if lags else float("nan")
        print(f"sync lag at {achieved:.0f} changes/s for {seconds:.0f}s: p50 {statistics.median(lags):.3f}s "
              f"p95 {p95:.3f}s max {lags[-1]:.3f}s ({len(lags)} changes, {missing} not applied in time)")
        print(f"sync worker peak RSS: {peak_rss_mb(worker.pid):.0f} MB")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--es-url")
    parser.add_argument("--rebuild-workers", type=int, action="append",
                        help="`index rebuild --workers` (repeat to compare; default: the command's default)")
    parser.add_argument("--rebuild-page-size", type=int, help="`index rebuild --page-size`")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="cp-bench-indexing-"))
    work.chmod(0o755)  # the node runs as an unprivileged user, which must reach its directory
    node = None
    try:
        url = args.es_url
        if url is None:
            from search_service.engine import LocalEngine

            node = LocalEngine(work / "es", Settings.from_env({}).cache_dir, heap="2g")
            url = node.start().url
        database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        engine = make_engine(database_url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        load_children(engine, args.children, args.seed)

        for workers in args.rebuild_workers or [None]:
            measure_rebuild(database_url, url, args.children, workers, args.rebuild_page_size)
        measure_lag(sessions, database_url, url, args.rate, args.seconds)
    finally:
        if node is not None:
            node.stop()  # its data lives under `work`, removed below
        elif args.es_url:
            Elasticsearch(args.es_url).indices.delete(index=f"{ALIAS}-*", ignore_unavailable=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
