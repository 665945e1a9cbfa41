"""Full rebuild into a fresh index, then an atomic alias swap (the live index is never touched)."""
from __future__ import annotations

from typing import Callable, Iterator

from elasticsearch import Elasticsearch
from elasticsearch.helpers import parallel_bulk
from sqlalchemy.orm import sessionmaker

from registry import checkpoints

from .admin import install_template, new_index_name, swap_alias, template_body
from .documents import build_document, load_children

CHUNK = 2000


def _actions(sessions: sessionmaker, index: str, up_to: int) -> Iterator[dict]:
    with sessions() as session:
        versions = checkpoints.latest_change_per_child(session, up_to)
    for start in range(0, len(versions), CHUNK):
        chunk = dict(versions[start:start + CHUNK])
        # Read a chunk, close the session, then hand the documents on: no transaction stays open
        # (on SQLite that would hold the write lock) while Elasticsearch works.
        with sessions() as session:
            children = load_children(session, chunk)
        for child in children:
            yield {"_op_type": "index", "_index": index, "_id": child.cp_id, "version": chunk[child.id],
                   "version_type": "external", "_source": build_document(child)}


def rebuild(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
            on_progress: Callable[[int], None] = lambda n: None) -> tuple[str, int]:
    """Build a new index from the database and swap the alias to it; returns (index, documents)."""
    install_template(es, alias)
    with sessions() as session:
        # Everything up to here goes into the new index; later changes are caught up by sync.
        up_to = checkpoints.last_change_seq(session)
    index = new_index_name(alias)
    # Load fast (no refreshes, no replicas, translog flushed in the background): nothing reads this
    # index until the alias moves, and a failed load is thrown away whole.
    load_settings = {"refresh_interval": "-1", "number_of_replicas": 0, "translog.durability": "async"}
    es.indices.create(index=index, settings={"index": load_settings})
    count = 0
    try:
        # Requests go out on two threads so building documents overlaps Elasticsearch's indexing.
        for ok, item in parallel_bulk(es, _actions(sessions, index, up_to), chunk_size=CHUNK, thread_count=2,
                                      queue_size=4, raise_on_error=True):
            count += 1
            on_progress(1)
        replicas = template_body(alias)["template"]["settings"].get("number_of_replicas", 1)
        es.indices.put_settings(index=index, settings={"index": {"refresh_interval": None, "translog.durability": None,
                                                                 "number_of_replicas": replicas}})
        es.indices.refresh(index=index)
        old = swap_alias(es, alias, index)
    except BaseException:
        es.indices.delete(index=index, ignore_unavailable=True)
        raise
    for name in old:
        es.indices.delete(index=name, ignore_unavailable=True)
    with sessions.begin() as session:
        checkpoints.set_checkpoint(session, checkpoint_name, up_to)
    return index, count
