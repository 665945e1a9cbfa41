"""Apply the change log to the index, after the stored checkpoint, in batches."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from elasticsearch import Elasticsearch
from elasticsearch.helpers import BulkIndexError, bulk
from sqlalchemy.orm import sessionmaker

from registry import checkpoints

from .admin import IndexingError, live_index
from .documents import build_document, load_children


@dataclass
class SyncResult:
    changes: int
    documents: int
    checkpoint: int


def sync_once(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
              batch_size: int = 1000) -> SyncResult:
    """Index the children changed after the checkpoint (one batch); the checkpoint moves only on success."""
    index = live_index(es, alias)
    with sessions() as session:
        start = checkpoints.get_checkpoint(session, checkpoint_name)
        changes = checkpoints.changes_after(session, start, batch_size)
        if not changes:
            return SyncResult(0, 0, start)
        newest = {}
        for change in changes:
            newest[change.child_id] = change.seq
        children = load_children(session, newest)
        actions = [{"_op_type": "index", "_index": index, "_id": child.cp_id, "version": newest[child.id],
                    "version_type": "external", "_source": build_document(child)} for child in children]
    if actions:
        try:
            bulk(es, actions, refresh=False, max_retries=3)
        except BulkIndexError as exc:
            # A version conflict means a newer version is already indexed: that is success.
            real = [e for e in exc.errors if next(iter(e.values())).get("status") != 409]
            if real:
                raise IndexingError(f"{len(real)} document(s) were refused by Elasticsearch, first: {real[0]}; "
                                    "the checkpoint was not moved") from exc
    last = changes[-1].seq
    with sessions.begin() as session:
        checkpoints.set_checkpoint(session, checkpoint_name, last)
    return SyncResult(len(changes), len(actions), last)


def sync_until_current(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
                       batch_size: int = 1000) -> SyncResult:
    total = SyncResult(0, 0, 0)
    while True:
        result = sync_once(es, sessions, alias, checkpoint_name, batch_size)
        total = SyncResult(total.changes + result.changes, total.documents + result.documents, result.checkpoint)
        if result.changes < batch_size:
            return total


def follow(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
           poll_seconds: float = 0.5, on_batch: Callable[[SyncResult], None] = lambda r: None,
           should_stop: Callable[[], bool] = lambda: False) -> None:
    """Keep the index current until ``should_stop``; back off (with a cap) while a dependency is down."""
    delay = poll_seconds
    while not should_stop():
        try:
            result = sync_until_current(es, sessions, alias, checkpoint_name)
            delay = poll_seconds
            if result.changes:
                on_batch(result)
        except Exception as exc:  # keep following: an outage must not end the indexer
            delay = min(delay * 2, 30.0)
            on_batch(SyncResult(-1, 0, 0))
            print(f"index sync: {exc}; retrying in {delay:.1f}s", flush=True)
        time.sleep(delay)
