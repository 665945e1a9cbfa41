"""A rebuild's bulk load: every child up to a change-log position, in keyset pages, into a fresh index.

Memory stays flat whatever the size of the directory: the children are walked in id order one
page at a time, and only the pages in flight (one per thread) are ever held. Each page carries
the external version of its documents (the child's newest change up to the load's position).

Building documents is pure Python, so threads cannot build two at once (the GIL); with
``workers`` the pages are read and built in that many worker processes, each with its own
database connection, and come back as ready bulk lines (bytes cost little to pass between
processes; the documents themselves would cost as much to pickle as to build).
"""
from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Callable, Iterator

import orjson
from elasticsearch import Elasticsearch
from elasticsearch.helpers import BulkIndexError
from sqlalchemy.orm import Session, sessionmaker

from registry import checkpoints
from registry.db import make_engine, make_sessionmaker, read_only

from .documents import build_document, load_children
from .sync import NOT_INDEXED

PAGE_SIZE = 2000


def pages(sessions: sessionmaker, up_to: int, page_size: int = PAGE_SIZE) -> Iterator[dict[int, int]]:
    """{child_id: version} pages in id order. Each page is read in its own short read-only session,
    so nothing stays open while Elasticsearch works (nor, on SQLite, takes the write lock)."""
    after = 0
    readers = read_only(sessions)
    while True:
        with readers() as session:
            page = checkpoints.latest_change_per_child(session, up_to, after=after, limit=page_size)
        if not page:
            return
        yield dict(page)
        if len(page) < page_size:
            return  # the last page: no need to ask again
        after = page[-1][0]


def page_body(session: Session, index: str, versions: dict[int, int]) -> list[bytes]:
    """The bulk request lines (action, document, ...) indexing one page's children, as JSON.
    Children no longer in the database (purged) or not indexed (merged) are left out."""
    lines = []
    for child in load_children(session, versions):
        if child.status in NOT_INDEXED:
            continue
        lines.append(orjson.dumps({"index": {"_index": index, "_id": child.cp_id, "version": versions[child.id],
                                             "version_type": "external"}}))
        lines.append(orjson.dumps(build_document(child)))
    return lines


def send(es: Elasticsearch, lines: list[bytes]) -> None:
    """One bulk request; any refused document fails the load (the new index is then thrown away)."""
    response = es.bulk(operations=lines)
    if response["errors"]:
        failed = [item for item in response["items"] if "error" in next(iter(item.values()))]
        raise BulkIndexError(f"{len(failed)} document(s) failed to index", failed)


# Set in each worker process by ``_start_worker``.
_worker_sessions: sessionmaker | None = None


def _start_worker(database_url: str) -> None:
    global _worker_sessions
    _worker_sessions = make_sessionmaker(make_engine(database_url), read_only=True)


def _build_in_worker(index: str, versions: dict[int, int]) -> list[bytes]:
    with _worker_sessions() as session:
        return page_body(session, index, versions)


def load(es: Elasticsearch, sessions: sessionmaker, index: str, up_to: int, page_size: int = PAGE_SIZE,
         workers: int = 0, on_progress: Callable[[int], None] = lambda n: None) -> int:
    """Index every child with a change up to ``up_to``; returns the number of documents.

    ``workers`` 0 builds in this process. Either way one more page is in flight than there are
    builders, so Elasticsearch always has a request to work on while the next page is built.
    """
    page_iter = pages(sessions, up_to, page_size)
    readers = read_only(sessions)
    next_lock, count_lock = threading.Lock(), threading.Lock()
    failed = threading.Event()
    count = 0
    pool = None
    if workers:
        url = sessions.kw["bind"].url.render_as_string(hide_password=False)
        # Spawned, not forked: this process already runs threads (the Elasticsearch client's pool).
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(url,))

    def build(versions: dict[int, int]) -> list[bytes]:
        if pool is not None:
            return pool.submit(_build_in_worker, index, versions).result()
        with readers() as session:
            return page_body(session, index, versions)

    def run() -> None:
        nonlocal count
        try:
            while not failed.is_set():
                with next_lock:
                    versions = next(page_iter, None)
                if versions is None:
                    return
                lines = build(versions)
                if lines:
                    send(es, lines)
                documents = len(lines) // 2
                with count_lock:
                    count += documents
                on_progress(documents)
        except BaseException:
            failed.set()  # the other threads stop at their next page
            raise

    try:
        with ThreadPoolExecutor(max(workers, 1) + 1, thread_name_prefix="rebuild-load") as threads:
            for done in [threads.submit(run) for _ in range(max(workers, 1) + 1)]:
                done.result()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return count
