"""Full rebuild into a fresh index, then an atomic alias swap (the live index is never touched).

Followers keep the live index current while the new one loads. Then the rebuild takes their
lease, so no follower can move the checkpoint, catches the new index up with every change made
since the load began, swaps the alias, and records the checkpoint the new index has reached.
Without the lease a follower could apply a change (a shielding) to the old index and move the
checkpoint past it just as the alias left that index: the change would be stranded there.
The load (``indexing.loader``) walks the children in keyset pages, each document versioned by the
child's newest change up to where the load began, so catch-up writes of later changes always win.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

from elasticsearch import Elasticsearch
from sqlalchemy.orm import sessionmaker

from registry import checkpoints

from .admin import LOAD_WITHOUT_REPLICAS, IndexingError, install_template, new_index_name, replica_settings, swap_alias
from .loader import PAGE_SIZE, load
from .sync import catch_up, worker_name

# Renewed at every catch-up batch and before the swap; if the rebuild dies, followers resume after it.
LEASE_SECONDS = 300.0


def _hold_lease(sessions: sessionmaker, checkpoint_name: str, owner: str, lease_seconds: float) -> None:
    """Take (from a follower) or renew the lease; refused while another rebuild holds it."""
    with sessions.begin() as session:
        if not checkpoints.seize_lease(session, checkpoint_name, owner, lease_seconds):
            raise _another_rebuild(checkpoints.lease_holder(session, checkpoint_name), checkpoint_name)


def _refuse_during_another_rebuild(sessions: sessionmaker, checkpoint_name: str) -> None:
    """Checked first too, so a second rebuild does not load a whole index before it is refused."""
    with sessions() as session:
        holder = checkpoints.lease_holder(session, checkpoint_name) or ""
    if holder.startswith(checkpoints.REBUILD):
        raise _another_rebuild(holder, checkpoint_name)


def _another_rebuild(holder: str | None, checkpoint_name: str) -> IndexingError:
    return IndexingError(f"another rebuild ({holder}) holds the lease on {checkpoint_name!r}: wait for it to finish")


def rebuild(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
            on_progress: Callable[[int], None] = lambda n: None,
            lease_seconds: float = LEASE_SECONDS, page_size: int = PAGE_SIZE, workers: int = 0) -> tuple[str, int]:
    """Build a new index from the database and swap the alias to it; returns (index, documents).

    The load reads ``page_size`` children at a time and builds their documents in ``workers``
    processes (0: in this one); see ``indexing.loader``.
    """
    _refuse_during_another_rebuild(sessions, checkpoint_name)
    install_template(es, alias)
    with sessions() as session:
        # Everything up to here goes into the new index; later changes are caught up before the swap.
        up_to = checkpoints.last_change_seq(session)
    index = new_index_name(alias)
    # Load fast (no refreshes, no replicas, translog flushed in the background): nothing reads this
    # index until the alias moves, and a failed load is thrown away whole.
    load_settings = {"refresh_interval": "-1", "translog.durability": "async", **LOAD_WITHOUT_REPLICAS}
    es.indices.create(index=index, settings={"index": load_settings})
    owner = checkpoints.REBUILD + worker_name()
    hold = partial(_hold_lease, sessions, checkpoint_name, owner, lease_seconds)
    try:
        count = load(es, sessions, index, up_to, page_size, workers, on_progress)
        es.indices.put_settings(index=index, settings={"index": {"refresh_interval": None, "translog.durability": None,
                                                                 **replica_settings(alias)}})
        reached = catch_up(es, sessions, index, up_to, before_batch=hold)
        es.indices.refresh(index=index)
        hold()  # still ours, with a whole lease ahead
        old = swap_alias(es, alias, index)
    except BaseException:
        es.indices.delete(index=index, ignore_unavailable=True)
        _release(sessions, checkpoint_name, owner)
        raise
    try:
        _record(sessions, checkpoint_name, reached, owner, lease_seconds)
    except checkpoints.LeaseLost:
        # It stalled past its lease around the swap, and a follower may have applied changes to the old
        # index meanwhile: take the lease back and apply everything since to the new, now live, one.
        reached = catch_up(es, sessions, index, reached, before_batch=hold)
        es.indices.refresh(index=index)
        _record(sessions, checkpoint_name, reached, owner, lease_seconds)
    for name in old:
        es.indices.delete(index=name, ignore_unavailable=True)
    return index, count


def _record(sessions: sessionmaker, checkpoint_name: str, reached: int, owner: str, lease_seconds: float) -> None:
    with sessions.begin() as session:
        checkpoints.set_checkpoint(session, checkpoint_name, reached, owner, lease_seconds)
        checkpoints.release_lease(session, checkpoint_name, owner)


def _release(sessions: sessionmaker, checkpoint_name: str, owner: str) -> None:
    try:
        with sessions.begin() as session:
            checkpoints.release_lease(session, checkpoint_name, owner)
    except Exception:  # the database may be why the rebuild failed; the lease then lapses by itself
        pass
