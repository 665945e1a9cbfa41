"""Re-running linkage on links already made: a record a newer model would not link goes back to review."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import survivorship, writes
from ..bulk import child_fields
from ..models import Carer, Child, ChildAddress, ChildName, Involvement, ReviewCandidate, ReviewItem, SourceRecord
from .model import LinkageModel
from .records import LinkRecord


def record_from_payloads(payloads: list[dict]) -> LinkRecord:
    """One record from several source records' fields: the first is current, the others add names and addresses."""
    first, rest = payloads[0], payloads[1:]
    return LinkRecord.from_fields({
        **first,
        "other_names": [{k: p.get(k) for k in ("given_name", "middle_names", "family_name")} for p in rest],
        "previous_postcodes": [p.get("postcode") for p in rest if p.get("postcode")],
        "previous_address_lines": [p.get("address_line_1") for p in rest if p.get("address_line_1")],
        "nhs_number": first.get("nhs_number") or next((p["nhs_number"] for p in rest if p.get("nhs_number")), None),
        "upn": first.get("upn") or next((p["upn"] for p in rest if p.get("upn")), None),
    })


def others_by_record(session: Session, records: list[SourceRecord], chunk: int = 1000) -> dict[int, LinkRecord]:
    """For each record, its child as the child's other source records describe it (most recent first).

    A record whose child has no other is left out. The children's records are read a chunk at a time.
    """
    by_child: dict[int, list[SourceRecord]] = {}
    for record in records:
        by_child.setdefault(record.child_id, []).append(record)
    children = list(by_child)
    others: dict[int, LinkRecord] = {}
    for start in range(0, len(children), chunk):
        payloads: dict[int, list[tuple[int, dict]]] = {}
        for record_id, child_id, payload in session.execute(
                select(SourceRecord.id, SourceRecord.child_id, SourceRecord.payload)
                .where(SourceRecord.child_id.in_(children[start:start + chunk]))
                .order_by(SourceRecord.updated_at.desc(), SourceRecord.id.desc())):
            payloads.setdefault(child_id, []).append((record_id, payload))
        for child_id in children[start:start + chunk]:
            for record in by_child[child_id]:
                rest = [payload for record_id, payload in payloads.get(child_id, []) if record_id != record.id]
                if rest:
                    others[record.id] = record_from_payloads(rest)
    return others


def detach_for_review(session: Session, record: SourceRecord, model_label: str, weight: float | None = None,
                      contributions: dict | None = None) -> ReviewItem:
    """Take ``record`` out of its child into a new child of its own, with a review item naming the child it left."""
    left = session.get(Child, record.child_id)
    data = record.payload
    child = writes.create_child(session, la_code=data.get("la_code"), **child_fields(data))
    session.flush()
    for model in (ChildName, Carer, Involvement, ChildAddress):
        for item in session.scalars(select(model).where(model.source_record_id == record.id,
                                                        model.child_id == left.id)):
            item.child_id = child.id
    record.child_id, record.link_decision = child.id, "created"
    session.flush()
    session.expire(left)
    survivorship.rederive(session, left)
    writes.log_change(session, left, "source_details_replaced")
    item = ReviewItem(child_id=child.id, source_record_id=record.id, linkage_model=model_label, candidates=[
        ReviewCandidate(child_id=left.id, match_weight=round(weight or 0.0, 2), contributions=contributions or {})])
    session.add(item)
    session.flush()
    return item


def would_still_link(model: LinkageModel, record: SourceRecord, rest: LinkRecord):
    """(decision, scored) of ``record`` against the rest of its child under ``model``."""
    scored = model.score(LinkRecord.from_fields(record.payload), rest)
    return model.decide(scored), scored
