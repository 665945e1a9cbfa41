"""Apply the change log to the index, after the stored checkpoint, in batches.

A child whose document cannot be built, or that Elasticsearch refuses, goes to the dead-letter
table and is retried by every later batch; it never holds up the others. Transient failures
(Elasticsearch busy or down, the database unreachable) raise, so the checkpoint stays put and
the follower retries with backoff (``is_transient`` says which errors; any other ends the follower).

Writes go through the alias, so one that arrives after a rebuild swapped it lands in the live
index. A shielding is searchable before searches stop treating the child as pending (the
checkpoint passing its change, or its dead letter clearing): see ``shielded_since_indexed``.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Callable

from elasticsearch import ApiError, ConnectionError as EsConnectionError, ConnectionTimeout, Elasticsearch
from elasticsearch.helpers import bulk
from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout
from sqlalchemy.orm import sessionmaker
from tenacity import Retrying, retry_if_exception, wait_fixed, wait_random_exponential

from registry import checkpoints
from registry.db import read_only

from .admin import IndexingError, live_index
from .documents import build_document, load_children

log = logging.getLogger(__name__)

RETRY_DEAD_LETTERS = 100
# Statuses that mean "try the same request later", not "this document is wrong".
TRANSIENT = {429, 500, 502, 503, 504}
# How long a follower's lease lasts from each renewal unless told otherwise (`--lease-seconds`).
LEASE_SECONDS = 30.0
# The wait before retrying a transient failure: half a second, plus full jitter over a window that
# doubles with each failure in a row (0.5 s, 1 s, 2 s, ... up to 29.5 s), so followers do not retry in step.
BACKOFF = wait_fixed(0.5) + wait_random_exponential(multiplier=0.5, max=29.5)
# Children with no document: a merged child is found as the child it was merged into (unmerge brings it back).
NOT_INDEXED = ("merged",)


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
        if child is None or child.status in NOT_INDEXED:
            # Purged from the database, or merged into another child: its document leaves the index too.
            cp_id = child.cp_id if child is not None else purged_ids.get(child_id)
            if cp_id:
                actions.append({"_op_type": "delete", "_index": index, "_id": cp_id, "version": version,
                                "version_type": "external"})
                owners[cp_id] = child_id
            continue
        try:
            source = build_document(child)
        except Exception as exc:  # one bad record must not stop the batch
            failed[child_id] = (child.cp_id, f"document could not be built: {type(exc).__name__}: {exc}")
            continue
        # Archived children stay indexed with their status; the visibility filter hides them.
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
              batch_size: int = 1000, owner: str | None = None, lease_seconds: float = LEASE_SECONDS) -> SyncResult:
    """Index the children changed after the checkpoint (one batch) and retry dead letters.

    With ``owner``, the checkpoint moves only while that worker holds the lease, which it renews for
    ``lease_seconds``; without, only while nobody holds it (a follower or a rebuild is at work: this
    one-shot sync stands aside).
    """
    live_index(es, alias)  # exactly one index behind the alias, or a clear error
    with read_only(sessions)() as session:  # on SQLite, building the documents no longer holds up writers
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
        checkpoints.set_checkpoint(session, checkpoint_name, last, owner, lease_seconds if owner else None)
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
        with read_only(sessions)() as session:
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
                       batch_size: int = 1000, owner: str | None = None,
                       lease_seconds: float = LEASE_SECONDS) -> SyncResult:
    total = SyncResult(0, 0, 0)
    while True:
        result = sync_once(es, sessions, alias, checkpoint_name, batch_size, owner, lease_seconds)
        total = SyncResult(total.changes + result.changes, total.documents + result.documents, result.checkpoint,
                           total.dead_letters + result.dead_letters)
        if result.changes < batch_size:
            return total


def is_transient(exc: BaseException) -> bool:
    """Whether the follower retries ``exc`` (with ``BACKOFF``) rather than stopping.

    Retried, because waiting can cure them: Elasticsearch unreachable or timing out, or answering
    429/5xx; the database unreachable, restarting, locked or out of pooled connections
    (OperationalError, a pool timeout, a dropped connection); the indexer's own explained conditions
    (``IndexingError``: overloaded, no index behind the alias, checkpoint ahead of the change log;
    they clear when the dependency recovers or an operator rebuilds); and ``LeaseLost`` (a rebuild
    took the lease: stand by). Anything else is a bug or a misconfiguration that no retry fixes
    (TypeError, KeyError, ValueError..., SQL ProgrammingError/IntegrityError, Elasticsearch 400/401/403/404).
    """
    if isinstance(exc, (IndexingError, checkpoints.LeaseLost, EsConnectionError, ConnectionTimeout,
                        OperationalError, PoolTimeout)):
        return True
    if isinstance(exc, ApiError):
        return exc.meta.status in TRANSIENT
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def follow(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
           poll_seconds: float = 0.5, on_batch: Callable[[SyncResult], None] = lambda r: None,
           on_error: Callable[[Exception, float], None] = lambda e, d: None,
           should_stop: Callable[[], bool] = lambda: False, owner: str | None = None,
           lease_seconds: float = LEASE_SECONDS, backoff=BACKOFF) -> None:
    """Keep the index current until ``should_stop``; back off while a dependency is down.

    Several followers may run: one holds the lease on the checkpoint and works, the others
    stand by and take over when its lease runs out (it died, or lost the database). Every
    renewal holds the lease for ``lease_seconds``. A transient error (``is_transient``) is
    reported to ``on_error`` with the coming wait (``backoff``, a tenacity wait strategy) and
    retried; any other is logged with its traceback, the lease released, and re-raised.
    """
    owner = owner or worker_name()
    try:
        _follow(es, sessions, alias, checkpoint_name, poll_seconds, on_batch, on_error, should_stop, owner,
                lease_seconds, backoff)
    except Exception:
        log.exception("index follower %s stopped: an unexpected error, which retrying would not fix", owner)
        raise
    finally:
        try:
            with sessions.begin() as session:
                checkpoints.release_lease(session, checkpoint_name, owner)
        except Exception:  # the database may be the reason we are stopping
            pass


def _follow(es, sessions, alias, checkpoint_name, poll_seconds, on_batch, on_error, should_stop, owner,
            lease_seconds, backoff) -> None:
    pause = partial(_pause, should_stop)
    retrying = Retrying(retry=retry_if_exception(is_transient), wait=backoff, sleep=pause,
                        before_sleep=lambda state: on_error(state.outcome.exception(), state.next_action.sleep))
    step = partial(_lead_or_stand_by, es, sessions, alias, checkpoint_name, on_batch, should_stop, owner,
                   lease_seconds)
    while not should_stop():
        retrying(step)  # a fresh count of failures each time round: success resets the backoff
        pause(poll_seconds)


def _lead_or_stand_by(es, sessions, alias, checkpoint_name, on_batch, should_stop, owner, lease_seconds) -> None:
    """Take or renew the lease; while holding it, apply everything pending."""
    if should_stop():  # asked to stop while backing off
        return
    with sessions.begin() as session:
        leader = checkpoints.acquire_lease(session, checkpoint_name, owner, lease_seconds)
    if leader:
        result = sync_until_current(es, sessions, alias, checkpoint_name, owner=owner, lease_seconds=lease_seconds)
        if result.changes or result.dead_letters:
            on_batch(result)


def _pause(should_stop: Callable[[], bool], seconds: float) -> None:
    """Sleep in short slices, so a stop request is honoured within a fifth of a second."""
    deadline = time.monotonic() + seconds
    while not should_stop() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.2, left))
