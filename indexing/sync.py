"""Apply the change log to the index, after the stored checkpoint, in batches.

A child whose document cannot be built, or that Elasticsearch refuses, goes to the dead-letter
table and is retried by every later batch; it never holds up the others. Transient failures
(Elasticsearch busy or down, the database unreachable) raise, so the checkpoint stays put and
the follower retries with backoff.

Writes go through the alias, so one that arrives after a rebuild swapped it lands in the live
index. A shielding is searchable before searches stop treating the child as pending (the
checkpoint passing its change, or its dead letter clearing): see ``shielded_since_indexed``.
"""
from __future__ import annotations

import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk
from sqlalchemy.orm import sessionmaker

from registry import checkpoints

from .admin import IndexingError, live_index
from .documents import build_document, load_children

RETRY_DEAD_LETTERS = 100
# Statuses that mean "try the same request later", not "this document is wrong".
TRANSIENT = {429, 500, 502, 503, 504}


@dataclass
class SyncResult:
    changes: int
    documents: int
    checkpoint: int
    dead_letters: int = 0


def _actions_for(session, index: str, versions: dict[int, int]
                 ) -> tuple[list[dict], dict[int, tuple[str, str]], dict[str, int]]:
    """Bulk actions, the children that failed to build ({child_id: (cp_id, error)}), and cp_id -> child_id."""
    children = {c.id: c for c in load_children(session, versions)}
    purged_ids = checkpoints.cp_ids_of(session, [cid for cid in versions if cid not in children])
    actions, failed, owners = [], {}, {}
    for child_id, version in versions.items():
        child = children.get(child_id)
        if child is None:
            cp_id = purged_ids.get(child_id)
            if cp_id:  # purged from the database: its document leaves the index too
                actions.append({"_op_type": "delete", "_index": index, "_id": cp_id, "version": version,
                                "version_type": "external"})
                owners[cp_id] = child_id
            continue
        try:
            source = build_document(child)
        except Exception as exc:  # one bad record must not stop the batch
            failed[child_id] = (child.cp_id, f"document could not be built: {type(exc).__name__}: {exc}")
            continue
        # Archived and merged children stay indexed with their status; the visibility filter hides them.
        actions.append({"_op_type": "index", "_index": index, "_id": child.cp_id, "version": version,
                        "version_type": "external", "_source": source})
        owners[child.cp_id] = child_id
    return actions, failed, owners


def _write(es: Elasticsearch, actions: list[dict], owners: dict[str, int], searchable: bool = False
           ) -> dict[int, tuple[str, str]]:
    """Bulk-write; returns refused children with the reason. Raises on transient failures.

    ``searchable`` returns only once the documents are searchable. It refreshes rather than waits
    for a refresh ("wait_for"), which would never come while an operator has refreshes turned off.
    """
    if not actions:
        return {}
    _, errors = bulk(es, actions, refresh=searchable, raise_on_error=False, raise_on_exception=True, max_retries=3)
    refused = {}
    for error in errors:
        (op, item), = error.items()
        status = item.get("status")
        if status == 409 or (op == "delete" and status == 404):
            continue  # a newer version is already there, or the document is already gone: success
        if status in TRANSIENT:
            raise IndexingError(f"Elasticsearch is overloaded or unavailable ({status}); will retry, "
                                "the checkpoint was not moved")
        reason = item.get("error", {})
        refused[owners[item["_id"]]] = (item["_id"], f"refused by Elasticsearch ({status}): "
                                                     f"{reason.get('type', '')}: {reason.get('reason', reason)}")
    return refused


def _reveals_shielding(changes: list, retried: set[int], actions: list[dict], owners: dict[str, int]) -> bool:
    """Whether searches would stop treating a shielded child as pending once this batch is recorded."""
    return any(c.change == "shielded" for c in changes) or any(
        owners[a["_id"]] in retried and a.get("_source", {}).get("shielded") for a in actions)


def sync_once(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
              batch_size: int = 1000, owner: str | None = None) -> SyncResult:
    """Index the children changed after the checkpoint (one batch) and retry dead letters.

    With ``owner``, the checkpoint moves only while that worker holds the lease; without, only
    while nobody does (a follower or a rebuild is at work: this one-shot sync stands aside).
    """
    live_index(es, alias)  # exactly one index behind the alias, or a clear error
    with sessions() as session:
        if owner is None and (holder := checkpoints.lease_holder(session, checkpoint_name)):
            raise IndexingError(f"{holder!r} holds the lease on {checkpoint_name!r} (a follower or a rebuild is "
                                "keeping the index current): this sync stands aside")
        start = checkpoints.get_checkpoint(session, checkpoint_name)
        changes = checkpoints.changes_after(session, start, batch_size)
        if not changes and start > (last_logged := checkpoints.last_change_seq(session)):
            raise IndexingError(
                f"the checkpoint ({start}) is ahead of the change log ({last_logged}): "
                "was the database restored from a backup? Run `contactpoint index rebuild`, which resets it")
        retry = [d.child_id for d in checkpoints.dead_letters(session, RETRY_DEAD_LETTERS)]
        versions = checkpoints.latest_seq_of(session, retry)
        for change in changes:
            versions[change.child_id] = change.seq
        if not versions:
            return SyncResult(0, 0, start)
        actions, failed, owners = _actions_for(session, alias, versions)
    refused = _write(es, actions, owners, searchable=_reveals_shielding(changes, set(retry), actions, owners))
    failed.update(refused)
    last = changes[-1].seq if changes else start
    with sessions.begin() as session:
        for child_id, (cp_id, error) in failed.items():
            checkpoints.record_dead_letter(session, child_id, cp_id, error)
        checkpoints.clear_dead_letters(session, [cid for cid in versions if cid not in failed])
        checkpoints.set_checkpoint(session, checkpoint_name, last, owner)
    return SyncResult(len(changes), len(actions) - len(refused), last, dead_letters=len(failed))


def catch_up(es: Elasticsearch, sessions: sessionmaker, index: str, after: int, batch_size: int = 1000,
             before_batch: Callable[[], None] = lambda: None) -> int:
    """Apply the changes after ``after`` to ``index`` (a rebuild's, not yet live); returns the last applied.

    Children that fail become dead letters (so they stay pending for searches); nothing is cleared
    and the checkpoint is left alone, because both describe the live index until the swap.
    """
    last = after
    while True:
        before_batch()
        with sessions() as session:
            changes = checkpoints.changes_after(session, last, batch_size)
            if not changes:
                return last
            actions, failed, owners = _actions_for(session, index, {c.child_id: c.seq for c in changes})
        failed.update(_write(es, actions, owners))
        if failed:
            with sessions.begin() as session:
                for child_id, (cp_id, error) in failed.items():
                    checkpoints.record_dead_letter(session, child_id, cp_id, error)
        last = changes[-1].seq
        if len(changes) < batch_size:
            return last


def sync_until_current(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
                       batch_size: int = 1000, owner: str | None = None) -> SyncResult:
    total = SyncResult(0, 0, 0)
    while True:
        result = sync_once(es, sessions, alias, checkpoint_name, batch_size, owner)
        total = SyncResult(total.changes + result.changes, total.documents + result.documents, result.checkpoint,
                           total.dead_letters + result.dead_letters)
        if result.changes < batch_size:
            return total


def backoff_delay(failures: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter, so several workers do not retry in step."""
    ceiling = min(cap, base * (2 ** min(failures, 16)))
    return (rng or random).uniform(base, max(base, ceiling))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def follow(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
           poll_seconds: float = 0.5, on_batch: Callable[[SyncResult], None] = lambda r: None,
           on_error: Callable[[Exception, float], None] = lambda e, d: None,
           should_stop: Callable[[], bool] = lambda: False, owner: str | None = None,
           lease_seconds: float = 30.0) -> None:
    """Keep the index current until ``should_stop``; back off while a dependency is down.

    Several followers may run: one holds the lease on the checkpoint and works, the others
    stand by and take over when its lease runs out (it died, or lost the database).
    """
    owner = owner or worker_name()
    try:
        _follow(es, sessions, alias, checkpoint_name, poll_seconds, on_batch, on_error, should_stop, owner,
                lease_seconds)
    finally:
        try:
            with sessions.begin() as session:
                checkpoints.release_lease(session, checkpoint_name, owner)
        except Exception:  # the database may be the reason we are stopping
            pass


def _follow(es, sessions, alias, checkpoint_name, poll_seconds, on_batch, on_error, should_stop, owner,
            lease_seconds) -> None:
    failures = 0
    while not should_stop():
        try:
            with sessions.begin() as session:
                leader = checkpoints.acquire_lease(session, checkpoint_name, owner, lease_seconds)
            if leader:
                result = sync_until_current(es, sessions, alias, checkpoint_name, owner=owner)
                if result.changes or result.dead_letters:
                    on_batch(result)
            failures = 0
            delay = poll_seconds
        except Exception as exc:  # an outage must not end the indexer: wait and try again
            failures += 1
            delay = backoff_delay(failures)
            on_error(exc, delay)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.2, delay))
