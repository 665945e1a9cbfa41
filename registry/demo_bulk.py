"""Synthetic demo children written a batch at a time: the fast path of `contactpoint demo-data --bulk`.

Writes what `registry.demo` writes one child at a time -- the child (marked synthetic, with its school,
GP practice and shielding), its primary, alias, previous and source names, carers, involvements and
source records -- through `registry.bulk`'s batch inserts (COPY on PostgreSQL), with one change-log row
per child instead of one per write (the indexer rebuilds the whole document from the database, so one
row per child is all it needs). Demo children are distinct people by construction, so no linkage runs.
For a seed, the children are the same as `registry.demo` makes, ContactPoint IDs included.
"""
from __future__ import annotations

import multiprocessing
import os
import random
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from analyzers import clock

from . import bulk, cpid, writes
from .demo import source_payload
from .demo_data import CHUNK, directory_organisations, generate_chunk
from .feeds import content_hash
from .models import Carer, Child, ChildName, Involvement, Organisation, SourceRecord

CHUNKS_PER_BATCH = 5  # one transaction writes this many of the generator's chunks


def _chunks_in_process(children: int, seed: int, today) -> Iterator[list[dict]]:
    for chunk in range(-(-children // CHUNK)):
        yield generate_chunk(children, seed, chunk, today)


def _chunks_in_parallel(children: int, seed: int, today, workers: int) -> Iterator[list[dict]]:
    """The same chunks, made by ``workers`` processes while this one writes (making a child costs about as much
    as writing it). At most two chunks per worker wait to be written, so memory stays flat."""
    chunks = range(-(-children // CHUNK))
    context = multiprocessing.get_context("spawn")  # no inherited database connections or threads
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending = deque()
        for chunk in chunks:
            pending.append(pool.submit(generate_chunk, children, seed, chunk, today))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _batches(chunks: Iterator[list[dict]]) -> Iterator[list[dict]]:
    batch = []
    for number, specs in enumerate(chunks, start=1):
        batch.extend(specs)
        if number % CHUNKS_PER_BATCH == 0:
            yield batch
            batch = []
    if batch:
        yield batch


class _Organisations:
    """Organisation ids for the directory the generator invents, all created up front in a few statements
    (a local authority belongs to itself; schools, GP practices and services are national, as
    `writes.get_or_create_organisation` makes them when no authority is given)."""

    def __init__(self, session: Session, seed: int):
        self.ids = {(kind, code): id_ for kind, code, id_ in session.execute(
            select(Organisation.kind, Organisation.code, Organisation.id))}
        missing = [org for org in directory_organisations(seed) if (org["kind"], org["code"]) not in self.ids]
        for kind in dict.fromkeys(org["kind"] for org in missing):
            rows = [{**org, "local_authority_id": None} for org in missing if org["kind"] == kind]
            ids = bulk.insert_with_ids(session, Organisation, rows, "code", Organisation.kind == kind)
            self.ids.update(((kind, row["code"]), id_) for row, id_ in zip(rows, ids))
        session.execute(update(Organisation).where(Organisation.kind == "local_authority",
                                                   Organisation.local_authority_id.is_(None))
                        .values(local_authority_id=Organisation.id))

    def local_authority(self, code: str) -> int:
        return self.ids["local_authority", code]

    def school(self, school: dict | None) -> int | None:
        return school and self.ids["school", school["code"]]

    def gp_practice(self, gp: dict) -> int:
        return self.ids["gp_practice", gp["code"]]

    def service(self, org: dict) -> int:
        return self.ids["service", org["code"]]


class _CpIds:
    """ContactPoint IDs drawn from one random stream in order, as `writes.create_child` draws them one at a time
    (so a seed gives the same IDs either way), skipping any the directory already holds."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def take(self, session: Session, count: int) -> list[str]:
        chosen: dict[str, None] = {}  # insertion-ordered set
        while len(chosen) < count:
            drawn = [cpid.generate(self.rng) for _ in range(count - len(chosen))]
            taken = set(session.scalars(select(Child.cp_id).where(bulk.among(session, Child.cp_id, drawn))))
            chosen.update((cp_id, None) for cp_id in drawn if cp_id not in taken)
        return list(chosen)


def _write_batch(session: Session, specs: list[dict], cp_ids: list[str], orgs: _Organisations) -> None:
    now = clock.now()
    child_ids = bulk.insert_with_ids(session, Child, [
        {**{k: v for k, v in spec["child"].items() if k != "la_code"},
            "cp_id": cp_id, "shielded": spec["shielded"], "shielding_reason": None, "status": "active",
            "synthetic": True, "nhs_number": None, "upn": None, "merged_into_id": None,
            "local_authority_id": orgs.local_authority(spec["child"]["la_code"]),
            "school_id": orgs.school(spec["school"]), "gp_practice_id": orgs.gp_practice(spec["gp_practice"]),
            "created_at": now, "updated_at": now}
        for spec, cp_id in zip(specs, cp_ids)], "cp_id")
    by_source: dict[str, list[tuple[int, dict]]] = {}
    for child_id, spec in zip(child_ids, specs):
        for source in spec["source_records"]:
            by_source.setdefault(source["source"], []).append((child_id, source))
    record_ids: dict[tuple[str, str], int] = {}
    for name, records in by_source.items():
        rows = []
        for child_id, source in records:
            payload = source_payload(source)
            rows.append({"source": name, "source_record_id": source["source_record_id"], "child_id": child_id,
                         "content_hash": content_hash(payload), "payload": payload, "received_at": now,
                         "updated_at": now, "link_decision": "created"})
        ids = bulk.insert_with_ids(session, SourceRecord, rows, "source_record_id", SourceRecord.source == name)
        record_ids.update(((name, row["source_record_id"]), id_) for row, id_ in zip(rows, ids))

    names, carers, involvements = [], [], []
    for child_id, spec in zip(child_ids, specs):
        child = spec["child"]
        names.append({"child_id": child_id, "kind": "primary", "given_name": child["given_name"],
                      "middle_names": child["middle_names"], "family_name": child["family_name"],
                      "source_record_id": None})
        names.extend({"child_id": child_id, "kind": alias["kind"], "given_name": alias["given_name"],
                      "middle_names": alias.get("middle_names"), "family_name": alias["family_name"],
                      "source_record_id": None} for alias in spec["aliases"])
        names.extend({"child_id": child_id, "kind": "source", "given_name": source["given_name"],
                      "middle_names": source.get("middle_names"), "family_name": source["family_name"],
                      "source_record_id": record_ids[source["source"], source["source_record_id"]]}
                     for source in spec["source_records"])
        carers.extend({"child_id": child_id, "given_name": c["given_name"], "family_name": c["family_name"],
                       "relationship_to_child": c["relationship"],
                       "parental_responsibility": c["parental_responsibility"],
                       "phone": c["phone"], "email": c["email"], "source_record_id": None} for c in spec["carers"])
        for involvement in spec["involvements"]:
            fields = {k: v for k, v in involvement.items() if k != "organisation"}
            writes.check_involvement(fields)
            involvements.append({"child_id": child_id, "organisation_id": orgs.service(involvement["organisation"]),
                                 "source_record_id": None, "registered_by": None, **fields})
    for model, rows in ((ChildName, names), (Carer, carers), (Involvement, involvements)):
        bulk.insert_rows(session, model, rows)
    bulk.append_changes(session, [{"child_id": child_id, "cp_id": cp_id, "change": "created"}
                                  for child_id, cp_id in zip(child_ids, cp_ids)])


def load_demo_data_bulk(sessions: sessionmaker, children: int, seed: int = 0,
                        on_progress: Callable[[int], None] = lambda n: None, workers: int | None = None) -> int:
    """Create ``children`` synthetic children, one transaction per batch; the same children `load_demo_data`
    makes for a seed on an empty database. ``workers`` processes make them meanwhile (default: one per CPU;
    0: none, made in this process)."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    cp_ids = _CpIds(random.Random(f"cp-ids-{seed}"))
    today = clock.today()
    chunks = (_chunks_in_parallel(children, seed, today, workers) if workers and children > CHUNK
              else _chunks_in_process(children, seed, today))
    loaded = 0
    with sessions() as session:
        with session.begin():
            orgs = _Organisations(session, seed)
        for specs in _batches(chunks):
            with session.begin():
                _write_batch(session, specs, cp_ids.take(session, len(specs)), orgs)
            loaded += len(specs)
            on_progress(len(specs))
    return loaded
