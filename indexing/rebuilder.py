"""Full rebuild into a fresh index, then an atomic alias swap (the live index is never touched)."""
from __future__ import annotations

from typing import Callable, Iterator

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk
from sqlalchemy.orm import sessionmaker

from registry import checkpoints

from .admin import install_template, new_index_name, swap_alias
from .documents import build_document, load_children

CHUNK = 500


def _actions(sessions: sessionmaker, index: str, up_to: int) -> Iterator[dict]:
    with sessions() as session:
        versions = checkpoints.latest_change_per_child(session, up_to)
    for start in range(0, len(versions), CHUNK):
        chunk = dict(versions[start:start + CHUNK])
        with sessions() as session:
            for child in load_children(session, chunk):
                yield {"_op_type": "index", "_index": index, "_id": child.cp_id,
                       "version": chunk[child.id], "version_type": "external",
                       "_source": build_document(child)}


def rebuild(es: Elasticsearch, sessions: sessionmaker, alias: str, checkpoint_name: str,
            on_progress: Callable[[int], None] = lambda n: None) -> tuple[str, int]:
    """Build a new index from the database and swap the alias to it; returns (index, documents)."""
    install_template(es, alias)
    with sessions() as session:
        # Everything up to here goes into the new index; later changes are caught up by sync.
        up_to = checkpoints.last_change_seq(session)
    index = new_index_name(alias)
    es.indices.create(index=index, settings={"index": {"refresh_interval": "-1", "number_of_replicas": 0}})
    count = 0
    try:
        for ok, item in streaming_bulk(es, _actions(sessions, index, up_to), chunk_size=CHUNK,
                                       raise_on_error=True, max_retries=3):
            count += 1
            on_progress(1)
        es.indices.put_settings(index=index, settings={"index": {"refresh_interval": None}})
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
