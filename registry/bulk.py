"""Feed rows written many at a time: the fast path of a load.

New children (linkage said "create" or "review") and rows joining a child are written a batch at a
time, one statement per table (COPY on PostgreSQL, an executemany elsewhere) instead of an ORM unit
of work per row: the child, its primary and source names, its source record, address, carer and
involvement, its review item, and one change-log row per child (the indexer rebuilds the whole
document from the database, so one row per child is all it needs). Ids are read back by unique key.
Everything the ORM path writes, this writes, in the caller's transaction.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from psycopg.types.json import Json
from sqlalchemy import JSON, Column, MetaData, Table, any_, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.schema import DropTable

from analyzers import clock

from . import cpid, notification_events, survivorship, writes
from .models import (
    Carer, ChangeLog, Child, ChildAddress, ChildName, Involvement, NotificationEvent, ReviewCandidate, ReviewItem,
    SourceRecord,
)

INVOLVEMENT_FIELDS = {"practitioner_name": "practitioner_name", "role": "practitioner_role",
                      "phone": "practitioner_phone", "email": "practitioner_email", "start_date": "involvement_start",
                      "end_date": "involvement_end", "sensitive_category": "sensitive_category",
                      "consent_recorded_by": "consent_recorded_by", "consent_recorded_at": "consent_recorded_at"}
ADDRESS_FIELDS = ("address_line_1", "address_line_2", "town", "postcode")
INVOLVEMENT_FLAGS = ("lead_professional", "caf_held", "info_to_share", "assessment_undertaken")


@dataclass
class NewChild:
    """A row that makes a child: its validated fields, and the review candidates when linkage doubted."""
    data: dict
    record: dict              # the source record's columns (content hash, payload, link fields)
    review: list = field(default_factory=list)  # ScoredCandidate-like: child_id, weight, contributions
    model: str | None = None


class Organisations:
    """Organisation ids by (kind, code) for one load, created when new (through the registry's one writer)."""

    def __init__(self, session: Session):
        self.session, self.ids = session, {}

    def id_of(self, kind: str, code: str | None, name: str | None = None) -> int | None:
        if not code:
            return None
        key = (kind, code)
        if key not in self.ids:
            org = writes.get_or_create_organisation(self.session, kind, code, name)
            self.session.flush()
            self.ids[key] = org.id
        return self.ids[key]


def child_fields(data: dict) -> dict:
    """A row's fields of the child itself (no gender given: "unknown")."""
    fields = {k: data.get(k) for k in writes.CHILD_FIELDS}
    fields["gender"] = fields["gender"] or "unknown"
    return fields


def carer_of(data: dict) -> dict | None:
    """The carer a row names (as the registry's columns), or None."""
    if not data.get("carer_given_name"):
        return None
    return {"given_name": data["carer_given_name"], "family_name": data["carer_family_name"],
            "relationship_to_child": data["carer_relationship"],
            "parental_responsibility": data.get("carer_parental_responsibility", False),
            "phone": data.get("carer_phone"), "email": data.get("carer_email")}


def involvement_of(data: dict) -> dict | None:
    """The involvement a row registers (as the registry's columns), or None; RegistryError if the registry refuses it."""
    if not data.get("service_code"):
        return None
    fields = {**{column: data.get(key) for column, key in INVOLVEMENT_FIELDS.items()},
              **{flag: data.get(flag, False) for flag in INVOLVEMENT_FLAGS}}
    writes.check_involvement(fields)
    return fields


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(session: Session, column, values):
    """``column IN values`` for many values: PostgreSQL gets one array parameter (``= ANY``), since an IN list
    of thousands of parameters costs more to build, send and parse than the lookup itself."""
    values = list(values)
    if _postgres(session):
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def insert_rows(session: Session, model, rows: list[dict]) -> None:
    """Insert rows (all with the same keys): PostgreSQL's COPY, else one executemany.

    COPY streams the rows in one statement; an executemany costs the server a statement a row. COPY skips
    SQLAlchemy's Python-side defaults, so callers give every column that has one (server defaults apply).
    """
    if not rows:
        return
    if not _postgres(session):
        session.execute(insert(model.__table__), rows)
        return
    _copy(session, model.__table__, rows)


def append_changes(session: Session, rows: list[dict]) -> None:
    """Append change-log rows (child_id, cp_id, change) in commit order, as `writes.log_change` does one at a time."""
    writes._serialise_outbox_writers(session)
    insert_rows(session, ChangeLog, rows)


def _copy(session: Session, table: Table, rows: list[dict]) -> None:
    columns = list(rows[0])
    as_json = {name for name in columns if isinstance(table.c[name].type, JSON)}
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(
            f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([Json(row[name]) if name in as_json and row[name] is not None else row[name]
                            for name in columns])


def insert_with_ids(session: Session, model, rows: list[dict], unique: str, *where) -> list[int]:
    """Insert rows and return their ids in row order.

    PostgreSQL: the ids are taken from the table's sequence first and sent with the rows, so nothing is read
    back. Elsewhere: one SELECT after the insert by the rows' ``unique`` column (``where`` narrows its scope),
    since INSERT ... RETURNING in parameter order falls back to a statement a row on some drivers.
    """
    if _postgres(session):
        table = model.__table__.name
        ids = list(session.connection().execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table, "n": len(rows)}).scalars())
        insert_rows(session, model, [{**row, "id": id_} for row, id_ in zip(rows, ids)])
        return ids
    insert_rows(session, model, rows)
    column = getattr(model, unique)
    found = dict(session.execute(select(column, model.id).where(
        among(session, column, [row[unique] for row in rows]), *where)).tuples().all())
    return [found[row[unique]] for row in rows]


def _insert_records(session: Session, records: list[dict]) -> list[int]:
    """Insert source records (all of one source); their ids in the given order."""
    return insert_with_ids(session, SourceRecord, records, "source_record_id",
                            SourceRecord.source == records[0]["source"])


def _unused_cp_ids(session: Session, count: int, rng: random.Random | None) -> list[str]:
    chosen: set[str] = set()
    while len(chosen) < count:
        batch = {cpid.generate(rng) for _ in range(count - len(chosen))} - chosen
        taken = set(session.scalars(select(Child.cp_id).where(among(session, Child.cp_id, batch))))
        chosen |= batch - taken
    return list(chosen)


def create_children(session: Session, rows: list[NewChild], organisations: Organisations,
                    rng: random.Random | None = None) -> list[tuple[int, str]]:
    """Insert a child for each row; returns (child id, cp_id) in row order."""
    if not rows:
        return []
    now = clock.now()
    cp_ids = _unused_cp_ids(session, len(rows), rng)
    children = []
    for row, cp_id in zip(rows, cp_ids):
        data = row.data
        children.append({**child_fields(data), "cp_id": cp_id, "shielded": False, "status": "active", "synthetic": False,
                         "local_authority_id": organisations.id_of("local_authority", data.get("la_code")),
                         "school_id": organisations.id_of("school", data.get("school_code"), data.get("school_name")),
                         "gp_practice_id": organisations.id_of("gp_practice", data.get("gp_practice_code"),
                                                               data.get("gp_practice_name")),
                         "created_at": now, "updated_at": now})
    child_ids = insert_with_ids(session, Child, children, "cp_id")
    record_ids = _insert_records(session, [{**row.record, "child_id": child_id, "origin_child_id": child_id,
                                            "received_at": now, "updated_at": now}
                                           for row, child_id in zip(rows, child_ids)])
    details = Details()
    for row, child_id, record_id in zip(rows, child_ids, record_ids):
        data = row.data
        details.names.append({"given_name": data["given_name"], "middle_names": data.get("middle_names"),
                              "family_name": data["family_name"], "child_id": child_id, "kind": "primary",
                              "source_record_id": None})
        details.add(row.data, child_id, record_id, organisations, now)
    details.insert(session)
    _review_items(session, rows, child_ids, record_ids)
    append_changes(session, [{"child_id": child_id, "cp_id": cp_id, "change": "created"}
                             for child_id, cp_id in zip(child_ids, cp_ids)])
    return list(zip(child_ids, cp_ids))


@dataclass
class Details:
    """What rows bring besides the child's own fields: names, addresses, carers, involvements; inserted together."""
    names: list = field(default_factory=list)
    addresses: list = field(default_factory=list)
    carers: list = field(default_factory=list)
    involvements: list = field(default_factory=list)

    def add(self, data: dict, child_id: int, record_id: int, organisations: Organisations, now) -> None:
        self.names.append({"given_name": data["given_name"], "middle_names": data.get("middle_names"),
                           "family_name": data["family_name"], "child_id": child_id, "kind": "source",
                           "source_record_id": record_id})
        if data.get("postcode") or data.get("address_line_1"):
            self.addresses.append({"child_id": child_id, "source_record_id": record_id, "first_seen": now,
                                   "last_seen": now, **{k: data.get(k) for k in ADDRESS_FIELDS}})
        carer = carer_of(data)
        if carer is not None:
            self.carers.append({"child_id": child_id, "source_record_id": record_id, **carer})
        involvement = involvement_of(data)
        if involvement is not None:
            self.involvements.append({
                "child_id": child_id, "source_record_id": record_id,
                "organisation_id": organisations.id_of("service", data["service_code"], data.get("service_name")),
                **involvement})

    def insert(self, session: Session) -> None:
        for model, values in ((ChildName, self.names), (ChildAddress, self.addresses), (Carer, self.carers),
                              (Involvement, self.involvements)):
            if values:
                insert_rows(session, model, values)


@dataclass
class Joining:
    """A row linkage joined to an existing child."""
    child_id: int
    data: dict
    record: dict


def link_rows(session: Session, rows: list[Joining], organisations: Organisations,
              new_children: frozenset[int] = frozenset()) -> None:
    """Attach each row's source record (and what it brings) to its child, then derive those children again.

    ``new_children``: children this load made (a row joining one of them is still its first load: nobody is told).
    """
    if not rows:
        return
    now = clock.now()
    record_ids = _insert_records(session, [{**row.record, "child_id": row.child_id, "origin_child_id": row.child_id,
                                            "received_at": now, "updated_at": now} for row in rows])
    details = Details()
    for row, record_id in zip(rows, record_ids):
        details.add(row.data, row.child_id, record_id, organisations, now)
    details.insert(session)
    _announce_involvements(session, details.involvements, new_children)
    settings = {}
    for row in rows:  # a school or GP practice the row names becomes the child's (the last row's wins)
        for kind in ("school", "gp_practice"):
            if row.data.get(f"{kind}_code"):
                settings.setdefault(row.child_id, {})[f"{kind}_id"] = organisations.id_of(
                    kind, row.data[f"{kind}_code"], row.data.get(f"{kind}_name"))
    _rederive(session, [row.child_id for row in rows], settings, organisations, now, new_children)


def _announce_involvements(session: Session, involvements: list[dict], new_children: frozenset[int]) -> None:
    """One event per involvement a row brought to a child already on record (one query for the batch's ids)."""
    records = [i["source_record_id"] for i in involvements if i["child_id"] not in new_children]
    if not records:
        return
    started = session.execute(select(Involvement.child_id, Involvement.id.label("involvement_id"))
                              .where(among(session, Involvement.source_record_id, records))).mappings().all()
    insert_rows(session, NotificationEvent, notification_events.event_rows("involvement_started", started))


def _rederive(session: Session, child_ids: list[int], settings: dict[int, dict], organisations: Organisations,
              now, new_children: frozenset[int]) -> None:
    """Derive the joined children again from all their source records: one statement per table, not per child.

    Every joined child gets one change-log row (its document gains at least the new record's name).
    """
    ids = list(dict.fromkeys(child_ids))
    columns = [Child.id, Child.cp_id, *(getattr(Child, f) for f in writes.CHILD_FIELDS), Child.local_authority_id,
               Child.school_id, Child.gp_practice_id]
    current = {row.id: row for row in session.execute(select(*columns).where(among(session, Child.id, ids)))}
    records: dict[int, list] = {}
    for record in session.execute(select(SourceRecord.id, SourceRecord.child_id, SourceRecord.source,
                                         SourceRecord.payload, SourceRecord.received_at, SourceRecord.updated_at)
                                  .where(among(session, SourceRecord.child_id, ids))):
        records.setdefault(record.child_id, []).append(record)
    trust = session.info.get("source_trust")
    children, primaries = [], []
    for child_id in ids:
        row = current[child_id]
        derived = survivorship.derive(records.get(child_id, []), trust)
        la_code = derived.pop("la_code", None)
        values = {f: getattr(row, f) for f in writes.CHILD_FIELDS}
        values.update(writes.child_values({k: v for k, v in derived.items() if k in writes.CHILD_FIELDS}))
        children.append({"id": child_id, **values, "synthetic": False, "updated_at": now,
                         "local_authority_id": organisations.id_of("local_authority", la_code) or row.local_authority_id,
                         "school_id": settings.get(child_id, {}).get("school_id", row.school_id),
                         "gp_practice_id": settings.get(child_id, {}).get("gp_practice_id", row.gp_practice_id)})
        primaries.append({"child_id": child_id, "given_name": values["given_name"],
                          "middle_names": values["middle_names"], "family_name": values["family_name"]})
    children_table, names = Child.__table__, ChildName.__table__
    update_rows(session, children_table, children_table.c.id, children)
    update_rows(session, names, names.c.child_id, primaries, names.c.kind == "primary")
    moves = [{"child_id": child["id"], "old_la_id": current[child["id"]].local_authority_id,
              "new_la_id": child["local_authority_id"]} for child in children
             if current[child["id"]].local_authority_id not in (None, child["local_authority_id"])
             and child["id"] not in new_children]
    insert_rows(session, NotificationEvent, notification_events.event_rows("authority_changed", moves))
    append_changes(session, [{"child_id": child_id, "cp_id": current[child_id].cp_id, "change": "source_linked"}
                             for child_id in ids])


def update_rows(session: Session, table, key, rows: list[dict], *where) -> None:
    """Set each row's columns on the table row whose ``key`` column equals the row's value of it.

    PostgreSQL gets the rows by COPY into a temporary table and one ``UPDATE ... FROM`` it (a VALUES list
    of thousands of parameters costs more to compile than to run); SQLite (local, in-process) runs the same
    statement for each row.
    """
    if not rows:
        return
    names = list(rows[0])
    columns = [name for name in names if name != key.name]
    if not _postgres(session):
        statement = update(table).where(key == bindparam(f"b_{key.name}"), *where).values(
            {name: bindparam(f"b_{name}") for name in columns})
        session.execute(statement, [{f"b_{name}": row[name] for name in names} for row in rows])
        return
    given = Table(f"given_{table.name}", MetaData(), *(Column(name, table.c[name].type) for name in names),
                  prefixes=["TEMPORARY"])
    given.create(session.connection())  # DDL is transactional here: a failed batch takes the table with it
    _copy(session, given, rows)
    session.execute(update(table).where(key == given.c[key.name], *where).values(
        {name: given.c[name] for name in columns}))
    session.execute(DropTable(given))


def _real(child_id: int, child_ids: list[int]) -> int:
    """A candidate made earlier in the same batch is known by its placeholder (-1 for the first row) until now."""
    return child_ids[-child_id - 1] if child_id < 0 else child_id


def _review_items(session: Session, rows: list[NewChild], child_ids: list[int], record_ids: list[int]) -> None:
    doubted = [(row, child_id, record_id) for row, child_id, record_id in zip(rows, child_ids, record_ids)
               if row.review]
    if not doubted:
        return
    now = clock.now()
    item_ids = insert_with_ids(session, ReviewItem, [
        {"child_id": child_id, "source_record_id": record_id, "status": "open", "linkage_model": row.model,
         "created_at": now, "version": 1} for row, child_id, record_id in doubted], "source_record_id")
    insert_rows(session, ReviewCandidate, [
        {"item_id": item_id, "child_id": _real(candidate.child_id, child_ids), "match_weight": round(candidate.weight, 2),
         "contributions": candidate.contributions}
        for (row, _, _), item_id in zip(doubted, item_ids) for candidate in row.review])

