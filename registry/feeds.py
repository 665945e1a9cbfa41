"""Load a source feed (CSV with a header row, or JSON Lines) into the registry.

Rows are streamed; each is validated and applied inside its own savepoint, so a bad row is
rejected whole and never half-applied; batches are committed together for speed. Loading
the same file twice changes nothing: a row is matched on (source, source_record_id) and
applied again only when its content changed. A row too long to read (over MAX_ROW_BYTES) is rejected
unread and the load goes on; a header that is wrong (an unknown, missing or duplicated column) refuses
the whole file before any row is read.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import bulk, survivorship, writes
from .feed_schema import COLUMNS, REQUIRED_COLUMNS
from .feed_validation import validated
from .linkage.linker import LinkDecision, Linker
from .linkage.store import active_model
from .models import Child, SourceRecord

SOURCE_NAME_MAX = 50
OUTCOMES = ("created", "linked", "updated", "unchanged", "review", "rejected")
# The longest row (a CSV record or a JSON line) read, as the API body limit; every column has a length limit,
# so a valid row is far shorter.
MAX_ROW_BYTES = 64 * 1024


class FeedError(ValueError):
    """The file as a whole cannot be loaded (nothing was written)."""


@dataclass
class RowResult:
    row: int
    source_record_id: str | None
    outcome: str
    cp_id: str | None = None
    errors: dict = field(default_factory=dict)
    match_weight: float | None = None                              # "linked": the weight of the link
    candidates: list[dict] = field(default_factory=list)          # "review": the children it may be

    def to_json(self) -> str:
        line = {"row": self.row, "source_record_id": self.source_record_id, "outcome": self.outcome,
                "cp_id": self.cp_id, "errors": self.errors}
        if self.match_weight is not None:
            line["match_weight"] = self.match_weight
        if self.candidates:
            line["candidates"] = self.candidates
        return json.dumps(line, ensure_ascii=False)


@dataclass
class LoadSummary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    def add(self, result: RowResult) -> None:
        self.counts[result.outcome] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise FeedError(f"{path.name}: cannot tell the format from the extension; use .csv or .jsonl "
                    "(or pass --format)")


class RowTooLong(ValueError):
    """A row (or JSON line) over MAX_ROW_BYTES: refused before it is parsed."""


class _BoundedLines:
    """The stream's lines, decoded, read at most MAX_ROW_BYTES at a time so memory stays flat.

    A record over the limit (one long line, or a CSV record that runs on over several lines) raises
    RowTooLong from ``__next__``; the rest of the long line is skipped unread and the next line starts
    afresh. The csv reader passes the exception on and starts its next record at the next line.
    """

    def __init__(self, stream: IO[bytes], on_bytes: Callable[[int], None]):
        self.stream, self.on_bytes = stream, on_bytes
        self.number = 0
        self.start_record()

    def start_record(self) -> None:
        self.record_bytes, self.record_start = 0, self.number + 1

    def __iter__(self) -> "_BoundedLines":
        return self

    def __next__(self) -> str:
        raw = self.stream.readline(MAX_ROW_BYTES + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        self.on_bytes(len(raw))
        self.record_bytes += len(raw)
        if self.record_bytes > MAX_ROW_BYTES:
            self._skip_rest_of_line(raw)
            raise RowTooLong(f"longer than the limit of {MAX_ROW_BYTES} bytes ({self._record_lines()} of the file)")
        try:
            return raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
        except UnicodeDecodeError:
            return "\x00invalid-utf8\n"  # turned into a row error below, never silently mangled

    def _record_lines(self) -> str:
        if self.record_start < self.number:
            return f"lines {self.record_start}-{self.number}"
        return f"line {self.number}"

    def _skip_rest_of_line(self, raw: bytes) -> None:
        while raw and not raw.endswith(b"\n"):
            raw = self.stream.readline(MAX_ROW_BYTES)
            self.on_bytes(len(raw))


def read_rows(stream: IO[bytes], fmt: str, on_bytes: Callable[[int], None] = lambda n: None
              ) -> Iterator[dict | Exception]:
    """Yield each row as a dict, or as an exception describing why it could not be read."""
    lines = _BoundedLines(stream, on_bytes)
    if fmt == "csv":
        return _csv_rows(lines)
    if fmt == "jsonl":
        return _json_rows(lines)
    raise FeedError(f"unknown format {fmt!r}: use csv or jsonl")


def _csv_rows(lines: _BoundedLines) -> Iterator[dict | Exception]:
    reader = csv.DictReader(lines)
    _check_header(_csv_header(reader))
    while True:
        lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except RowTooLong as exc:
            yield ValueError(f"the row is {exc}: a cell is too long, or a quote left open ran the row on")
            continue
        except csv.Error as exc:
            yield ValueError(f"the row cannot be read as CSV: {exc}")
            continue
        if any("\x00invalid-utf8" in (v or "") for v in row.values() if isinstance(v, str)):
            yield ValueError("the row is not valid UTF-8")
        else:
            yield row


def _csv_header(reader: csv.DictReader) -> list[str]:
    try:
        return list(reader.fieldnames or [])
    except RowTooLong as exc:
        raise FeedError(f"the header line is {exc}") from None
    except csv.Error as exc:
        raise FeedError(f"the header line cannot be read as CSV: {exc}") from None


def _check_header(header: list[str]) -> None:
    """Refuse the whole file before any row is read: a row cannot be read right under a wrong header."""
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise FeedError(f"unknown column(s) {', '.join(map(repr, unknown))}: feeds may only carry "
                        f"the documented columns ({', '.join(COLUMNS)})")
    duplicated = [c for c, n in Counter(header).items() if n > 1]
    if duplicated:  # which of the two cells would count is anyone's guess
        raise FeedError(f"duplicate column(s) in the header: {', '.join(map(repr, duplicated))}: "
                        "each column may appear once")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FeedError(f"required column(s) missing from the header: {', '.join(missing)}")


class _DuplicateKeys(ValueError):
    pass


def _object_without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    duplicated = [key for key, n in Counter(key for key, _ in pairs).items() if n > 1]
    if duplicated:
        raise _DuplicateKeys(f"the line gives {', '.join(map(repr, duplicated))} more than once")
    return dict(pairs)


def _json_rows(lines: _BoundedLines) -> Iterator[dict | Exception]:
    while True:
        lines.start_record()
        try:
            line = next(lines)
        except StopIteration:
            return
        except RowTooLong as exc:
            yield ValueError(f"the line is {exc}")
            continue
        if not line.strip():
            continue
        if line.startswith("\x00invalid-utf8"):
            yield ValueError("the line is not valid UTF-8")
            continue
        try:
            yield json.loads(line, object_pairs_hook=_object_without_duplicate_keys)
        except json.JSONDecodeError as exc:
            yield ValueError(f"the line is not valid JSON ({exc.msg} at column {exc.colno})")
        except _DuplicateKeys as exc:
            yield ValueError(str(exc))


def content_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _payload(data: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in data.items()}


def _record_columns(source: str, data: dict, decision: LinkDecision | None, model: str | None, link: str) -> dict:
    """The source record's own columns: what it said, and how it came to its child."""
    best = decision.best if decision else None
    return {"source": source, "source_record_id": data["source_record_id"], "content_hash": content_hash(data),
            "payload": _payload(data), "nhs_number": data.get("nhs_number"), "upn": data.get("upn"),
            "link_decision": link, "match_weight": round(best.weight, 2) if best else None,
            "link_contributions": best.contributions if best else None, "linkage_model": model}


def _update(session: Session, record: SourceRecord, data: dict) -> tuple[str, Child]:
    child = session.get(Child, record.child_id)
    digest = content_hash(data)
    if record.content_hash == digest:
        return "unchanged", child
    before = (record.payload.get("given_name"), record.payload.get("middle_names"), record.payload.get("family_name"))
    # The record's involvement re-sent (same service) is not news; another service is.
    new_service = record.payload.get("service_code") != data.get("service_code")
    writes.remove_source_details(session, child, record)
    record.content_hash, record.payload = digest, _payload(data)
    record.nhs_number, record.upn = data.get("nhs_number"), data.get("upn")
    known = {(n.given_name, n.middle_names, n.family_name) for n in child.names if n.kind != "primary"}
    if before != (data["given_name"], data.get("middle_names"), data["family_name"]) and before not in known:
        # The source changed the name: the old one stays searchable as a previous name.
        writes.add_name(session, child, "previous", before[0], before[2], before[1])
    _apply_details(session, child, record, data, announce=new_service)
    survivorship.rederive(session, child)
    child.synthetic = False      # a source sent this child: it may be real now
    return "updated", child


def _apply_details(session: Session, child: Child, record: SourceRecord, data: dict, announce: bool) -> None:
    writes.add_name(session, child, "source", data["given_name"], data["family_name"],
                    data.get("middle_names"), source_record=record)
    for kind in ("school", "gp_practice"):
        if data.get(f"{kind}_code"):
            org = writes.get_or_create_organisation(session, kind, data[f"{kind}_code"], data.get(f"{kind}_name"))
            writes.set_setting(session, child, kind, org)
    carer = bulk.carer_of(data)
    if carer is not None:
        writes.add_carer(session, child, source_record=record, **carer)
    involvement = bulk.involvement_of(data)
    if involvement is not None:
        org = writes.get_or_create_organisation(session, "service", data["service_code"], data.get("service_name"))
        writes.add_involvement(session, child, org, source_record=record, announce=announce, **involvement)


def load_feed(sessions: sessionmaker, source: str, stream: IO[bytes], fmt: str,
              on_result: Callable[[RowResult], None] = lambda r: None,
              on_bytes: Callable[[int], None] = lambda n: None, batch_size: int = 500,
              linker: Linker | None = None, offload_after: int | None = None) -> LoadSummary:
    """Load every row; ``on_result`` is called for each row once its batch is committed.

    New rows are linked by ``linker`` (by default the active linkage model, with candidates from
    exact identifiers and the rows of this load only: the caller passes one with an index finder).
    Rows after the first ``offload_after`` are validated in a worker process (feed_validation.validated).
    """
    if not source or len(source) > SOURCE_NAME_MAX or not source.replace("-", "").replace("_", "").isalnum():
        raise FeedError(f"source: {source!r} must be 1-{SOURCE_NAME_MAX} letters, digits, '-' or '_'")
    summary = LoadSummary()
    batch: list[tuple[RowResult, dict | None]] = []
    waiting: Sorted | None = None  # sorted, its index lookup under way; applied once the next batch is read

    session = sessions()

    def apply(sorted_batch: Sorted) -> None:
        _apply_batch(session, source, sorted_batch, linker, model, organisations)
        session.commit()
        session.expunge_all()  # batches write through Core too: no object may outlive its batch, stale
        linker.added(session, sum(result.outcome in ("created", "review") for result, _ in sorted_batch.rows))
        for result, _ in sorted_batch.rows:
            summary.add(result)
            on_result(result)

    def flush(last: bool = False) -> None:
        """Sort the batch just read and start its index lookup, then apply the one before: the index
        works on one batch while this process decides and writes the other."""
        nonlocal waiting
        current = _sort_batch(session, source, list(batch), waiting) if batch else None
        batch.clear()
        if current is not None:
            linker.prefetch([data for _, data in current.new])
        if waiting is not None:
            apply(waiting)
        waiting = current
        if last and waiting is not None:
            apply(waiting)
            waiting = None

    try:
        linker = linker or Linker.for_directory(session, active_model(session))
        model = linker.model.label
        organisations = bulk.Organisations(session)
        rows = validated(read_rows(stream, fmt, on_bytes), offload_after)
        for number, (raw, data, errors) in enumerate(rows, start=1):
            source_record_id = raw.get("source_record_id") if isinstance(raw, dict) else None
            result = RowResult(number, source_record_id if isinstance(source_record_id, str) else None, "rejected")
            result.errors = errors or {}
            batch.append((result, data))
            if len(batch) >= batch_size:
                flush()
        flush(last=True)
    except BaseException:
        session.rollback()  # the uncommitted batch is dropped whole and will load on a re-run
        raise
    finally:
        if linker is not None:
            linker.close()
        session.close()
    return summary


@dataclass
class Sorted:
    """A batch sorted before it is applied: rows whose record ID is new to the source, and repeats."""
    rows: list[tuple[RowResult, dict | None]]
    records: dict          # source record ID -> (its child's cp_id, content hash) of a record held, as read when sorted
    new: list = field(default_factory=list)
    later: list = field(default_factory=list)


def _sort_batch(session: Session, source: str, batch: list[tuple[RowResult, dict | None]],
                before: Sorted | None) -> Sorted:
    """The first row of a record ID neither held nor new in the batch before (not applied yet) is new; any
    repeat updates it. A row the registry would refuse is rejected here, before anything of it is written."""
    valid = [(result, data) for result, data in batch if data is not None]
    ids = [data["source_record_id"] for _, data in valid]
    held = {srid: (cp_id, digest) for srid, cp_id, digest in session.execute(
        select(SourceRecord.source_record_id, Child.cp_id, SourceRecord.content_hash)
        .join(Child, Child.id == SourceRecord.child_id)
        .where(SourceRecord.source == source, bulk.among(session, SourceRecord.source_record_id, ids)))} if ids else {}
    pending = {data["source_record_id"] for _, data in before.rows if data is not None} if before else set()
    # A record the batch before will write is read again when this batch is applied, never from here.
    sorted_batch = Sorted(batch, {srid: snapshot for srid, snapshot in held.items() if srid not in pending})
    seen = set(held) | pending
    for result, data in valid:
        if data["source_record_id"] in seen:
            sorted_batch.later.append((result, data))
            continue
        try:
            bulk.involvement_of(data)
        except writes.RegistryError as exc:
            result.outcome, result.errors = "rejected", {exc.field: [exc.message]}
            continue
        sorted_batch.new.append((result, data))
        seen.add(data["source_record_id"])
    return sorted_batch


def _apply_batch(session: Session, source: str, batch: Sorted, linker: Linker, model: str,
                 organisations: bulk.Organisations) -> None:
    """Link and apply a sorted batch.

    New children and rows joining a child are written together (registry/bulk.py), after the
    registry's own rules were checked row by row; a row updating a record its source sent before
    goes through the registry one at a time, in its own savepoint, so a row the registry refuses is
    rejected alone.
    """
    new, later, records = batch.new, batch.later, batch.records
    linker.prepare(session, [data for _, data in new])
    creating: list[tuple[RowResult, dict, LinkDecision, int]] = []
    linking: list[tuple[RowResult, dict, LinkDecision]] = []
    for index, (result, data) in enumerate(new):
        decision = linker.decide(session, index)
        if decision.outcome == "link":
            linking.append((result, data, decision))
            linker.remember(decision.best.child_id, decision.best.cp_id, index)
        else:
            placeholder = -(len(creating) + 1)  # until the batch's children are inserted
            creating.append((result, data, decision, placeholder))
            linker.remember(placeholder, None, index)
    made = bulk.create_children(session, [bulk.NewChild(
        data, _record_columns(source, data, decision if decision.outcome == "review" else None, model,
                                      "created"),
        review=decision.candidates if decision.outcome == "review" else [], model=model)
        for _, data, decision, _ in creating], organisations)
    real = {placeholder: ids for (_, _, _, placeholder), ids in zip(creating, made)}
    linker.rename(real)
    for (result, _, decision, _), (_, cp_id) in zip(creating, made):
        result.outcome, result.cp_id = ("review" if decision.outcome == "review" else "created"), cp_id
        for candidate in decision.candidates:
            if candidate.child_id in real:
                candidate.child_id, candidate.cp_id = real[candidate.child_id]
        if decision.outcome == "review":
            result.candidates = [{"cp_id": c.cp_id, "match_weight": round(c.weight, 2)} for c in decision.candidates]
    joining = []
    for result, data, decision in linking:
        if decision.best.child_id in real:  # a child made earlier in this batch
            decision.best.child_id, decision.best.cp_id = real[decision.best.child_id]
        joining.append(bulk.Joining(decision.best.child_id, data, _record_columns(source, data, decision, model, "auto")))
        result.outcome, result.cp_id, result.match_weight = "linked", decision.best.cp_id, round(decision.weight, 2)
    bulk.link_rows(session, joining, organisations, frozenset(child_id for child_id, _ in made))
    for result, data in later:
        cp_id, digest = records.get(data["source_record_id"], (None, None))
        if digest == content_hash(data):
            result.outcome, result.cp_id = "unchanged", cp_id
            continue
        with _row(session, result):
            record = session.scalar(select(SourceRecord).where(
                SourceRecord.source == source, SourceRecord.source_record_id == data["source_record_id"]))
            result.outcome, child = _update(session, record, data)
            result.cp_id = child.cp_id
            linker.forget([child.id])  # its record is derived again: the linker reads it afresh


@contextmanager
def _row(session: Session, result: RowResult):
    """One row in its own savepoint: a row the registry refuses is rejected alone, naming why."""
    try:
        with session.begin_nested():
            yield
    except writes.RegistryError as exc:
        result.outcome, result.errors = "rejected", {exc.field: [exc.message]}
    except IntegrityError as exc:
        result.outcome, result.errors = "rejected", {"_row": [f"conflicts with stored data: {exc.orig}"]}
