"""Compare the database with the index child by child, and repair any drift.

Both sides are streamed in ContactPoint-ID order and merge-joined, so memory stays flat
however many children there are. A document is compared by a hash of its whole content,
rebuilt with the same document builder the indexer uses.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Iterator

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, scan
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from registry import checkpoints
from registry.models import Child

from .admin import IndexingError, live_index
from .documents import build_document, load_children
from .sync import NOT_INDEXED

CHUNK = 1000


@dataclass
class Drift:
    cp_id: str
    problem: str


@dataclass
class VerifyReport:
    database: int = 0
    index: int = 0
    drift: list[Drift] = field(default_factory=list)
    repaired: int = 0


def document_hash(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _database_side(sessions: sessionmaker) -> Iterator[tuple[str, int, str]]:
    """(cp_id, child_id, hash) for every indexed child, in cp_id order (no transaction held between chunks)."""
    last = ""
    while True:
        with sessions() as session:
            rows = session.execute(select(Child.cp_id, Child.id).where(Child.cp_id > last,
                                                                       Child.status.not_in(NOT_INDEXED))
                                   .order_by(Child.cp_id).limit(CHUNK)).all()
            children = {c.id: c for c in load_children(session, [child_id for _, child_id in rows])}
        if not rows:
            return
        for cp_id, child_id in rows:
            yield cp_id, child_id, document_hash(build_document(children[child_id]))
        last = rows[-1][0]


def _index_side(es: Elasticsearch, index: str) -> Iterator[tuple[str, str]]:
    """(cp_id, hash) for every document, in cp_id order."""
    for hit in scan(es, index=index, query={"sort": [{"cp_id": "asc"}]}, preserve_order=True, size=CHUNK):
        yield hit["_id"], document_hash(hit["_source"])


def verify(es: Elasticsearch, sessions: sessionmaker, alias: str, repair: bool = False) -> VerifyReport:
    index = live_index(es, alias)
    es.indices.refresh(index=index)
    report = VerifyReport()
    to_index: list[int] = []
    to_delete: list[str] = []
    database, documents = _database_side(sessions), _index_side(es, index)
    db_item, es_item = next(database, None), next(documents, None)
    while db_item or es_item:
        if es_item is None or (db_item and db_item[0] < es_item[0]):
            report.database += 1
            report.drift.append(Drift(db_item[0], "missing from the index"))
            to_index.append(db_item[1])
            db_item = next(database, None)
        elif db_item is None or es_item[0] < db_item[0]:
            report.index += 1
            report.drift.append(Drift(es_item[0], "in the index but not in the database"))
            to_delete.append(es_item[0])
            es_item = next(documents, None)
        else:
            report.database += 1
            report.index += 1
            if db_item[2] != es_item[1]:
                report.drift.append(Drift(db_item[0], "differs from the database"))
                to_index.append(db_item[1])
            db_item, es_item = next(database, None), next(documents, None)
    if repair and report.drift:
        report.repaired = _repair(es, sessions, index, to_index, to_delete)
    return report


def _repair(es: Elasticsearch, sessions: sessionmaker, index: str, child_ids: list[int], cp_ids: list[str]) -> int:
    actions: list[dict] = [{"_op_type": "delete", "_index": index, "_id": cp_id} for cp_id in cp_ids]
    for start in range(0, len(child_ids), CHUNK):
        chunk = child_ids[start:start + CHUNK]
        with sessions() as session:
            versions = checkpoints.latest_seq_of(session, chunk)
            for child in load_children(session, chunk):
                # external_gte: the database is the truth even when the index holds the same version.
                actions.append({"_op_type": "index", "_index": index, "_id": child.cp_id,
                                "version": versions.get(child.id, 1), "version_type": "external_gte",
                                "_source": build_document(child)})
    repaired, errors = bulk(es, actions, refresh=True, raise_on_error=False)
    ahead = [next(iter(e.values()))["_id"] for e in errors if next(iter(e.values())).get("status") == 409]
    if len(ahead) < len(errors):
        raise IndexingError(f"{len(errors) - len(ahead)} repairs were refused by Elasticsearch: {errors[0]}")
    if ahead:
        raise IndexingError(f"{len(ahead)} document(s) carry a newer version than the database has "
                            f"(first {ahead[0]}): they cannot be repaired in place; run `contactpoint index rebuild`")
    return repaired
