"""Load synthetic demo children (registry.demo_data) through the registry's write API."""
from __future__ import annotations

import random
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from . import writes
from .demo_data import generate_children, local_authorities
from .feeds import content_hash
from .models import SourceRecord

BATCH = 200


def source_payload(source: dict) -> dict:
    """A generated source record as a feed would have sent it (dates as ISO text), without the source's name."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in source.items() if k != "source"}


def _load_one(session: Session, spec: dict, rng: random.Random, las: dict[str, dict]) -> None:
    data = dict(spec["child"])
    la = las[data["la_code"]]
    writes.get_or_create_organisation(session, "local_authority", la["code"], la["name"],
                                      phone=la["phone"], email=la["email"])
    child = writes.create_child(session, rng=rng, synthetic=True, **data)
    if spec["school"]:
        s = spec["school"]
        writes.set_setting(session, child, "school",
                           writes.get_or_create_organisation(session, "school", s["code"], s["name"],
                                                             postcode=s["postcode"]))
    gp = spec["gp_practice"]
    writes.set_setting(session, child, "gp_practice",
                       writes.get_or_create_organisation(session, "gp_practice", gp["code"], gp["name"],
                                                         phone=gp["phone"], postcode=gp["postcode"]))
    for carer in spec["carers"]:
        carer = dict(carer)
        carer["relationship_to_child"] = carer.pop("relationship")
        writes.add_carer(session, child, **carer)
    for involvement in spec["involvements"]:
        involvement = dict(involvement)
        org = involvement.pop("organisation")
        writes.add_involvement(session, child,
                               writes.get_or_create_organisation(session, "service", org["code"], org["name"]),
                               **involvement)
    for alias in spec["aliases"]:
        writes.add_name(session, child, alias["kind"], alias["given_name"], alias["family_name"],
                        alias.get("middle_names"))
    for source in spec["source_records"]:
        payload = source_payload(source)
        record = SourceRecord(source=source["source"], source_record_id=source["source_record_id"], child_id=child.id,
                              content_hash=content_hash(payload), payload=payload)
        session.add(record)
        session.flush()
        writes.add_name(session, child, "source", source["given_name"], source["family_name"],
                        source.get("middle_names"), source_record=record)
    writes.set_shielded(session, child, spec["shielded"])


def load_demo_data(sessions: sessionmaker, children: int, seed: int = 0,
                   on_progress: Callable[[int], None] = lambda n: None) -> int:
    """Create ``children`` synthetic children; deterministic for a seed on an empty database."""
    rng = random.Random(f"cp-ids-{seed}")
    las = {la["code"]: la for la in local_authorities()}
    loaded = 0
    session = sessions()
    try:
        for spec in generate_children(children, seed):
            _load_one(session, spec, rng, las)
            loaded += 1
            if loaded % BATCH == 0:
                session.commit()
                session.expunge_all()
                on_progress(BATCH)
        session.commit()
        on_progress(loaded % BATCH)
    finally:
        session.close()
    return loaded
