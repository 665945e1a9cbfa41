"""One document builder for full rebuilds and incremental sync alike."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzers import family_full_keys, family_name_keys, given_name_keys, normalise_postcode, outward_code
from registry.models import Child, ChildName, Organisation
from search_service.queries import CURRENT


@dataclass(frozen=True)
class NameRecord:
    given_name: str
    middle_names: str | None
    family_name: str
    kind: str


@dataclass(frozen=True)
class Authority:
    code: str


@dataclass
class ChildRecord:
    """What the document builder reads of a child, loaded with plain queries (the ORM is too slow
    for millions). ``registry.models.Child`` has the same attributes, so either can be built."""
    id: int
    cp_id: str
    given_name: str
    middle_names: str | None
    family_name: str
    date_of_birth: dt.date
    gender: str
    postcode: str | None
    shielded: bool
    status: str
    updated_at: dt.datetime | None
    nhs_number: str | None
    upn: str | None
    local_authority: Authority | None
    names: list[NameRecord] = field(default_factory=list)


def load_children(session: Session, child_ids: Iterable[int]) -> list[ChildRecord]:
    ids = list(child_ids)
    if not ids:
        return []
    rows = session.execute(
        select(Child.id, Child.cp_id, Child.given_name, Child.middle_names, Child.family_name, Child.date_of_birth,
               Child.gender, Child.postcode, Child.shielded, Child.status, Child.updated_at, Child.nhs_number,
               Child.upn, Organisation.code)
        .outerjoin(Organisation, Child.local_authority_id == Organisation.id)
        .where(Child.id.in_(ids)))
    children = {row[0]: ChildRecord(*row[:13], local_authority=Authority(row[13]) if row[13] else None)
                for row in rows}
    names = session.execute(select(ChildName.child_id, ChildName.given_name, ChildName.middle_names,
                                   ChildName.family_name, ChildName.kind)
                            .where(ChildName.child_id.in_(list(children))).order_by(ChildName.id))
    for child_id, *name in names:
        children[child_id].names.append(NameRecord(*name))
    return list(children.values())


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def name_fields(names: list[tuple[str, str | None, str]]) -> dict:
    """Searchable keys of every (given, middle, family) name a child is known by."""
    given = [given_name_keys(g) for g, _, _ in names]
    middle = [given_name_keys(part) for _, m, _ in names if m for part in m.split()]
    family = [family_name_keys(f) for _, _, f in names]
    return {
        "given_exact": _unique(k for keys in given for k in keys.exact),
        "given_variant": _unique(k for keys in given for k in keys.variant),
        "given_phonetic": _unique(k for keys in given for k in keys.phonetic),
        "given_initial": _unique(k for keys in given for k in keys.initials),
        "middle_exact": _unique(k for keys in middle for k in keys.exact),
        "family_full": _unique(k for _, _, f in names for k in family_full_keys(f)),
        "family_exact": _unique(k for keys in family for k in keys.exact),
        "family_variant": _unique(k for keys in family for k in keys.variant),
        "family_phonetic": _unique(k for keys in family for k in keys.phonetic),
    }


def build_document(child: Child) -> dict:
    """The searchable view of a child: identity, every name it is known by, and coarse location."""
    names = [(n.given_name, n.middle_names, n.family_name, n.kind) for n in child.names] or \
        [(child.given_name, child.middle_names, child.family_name, "primary")]
    unique_names = list(dict.fromkeys(names))
    postcode = normalise_postcode(child.postcode)
    dob = child.date_of_birth
    return {
        "cp_id": child.cp_id,
        "given_name": child.given_name,
        "middle_names": child.middle_names,
        "family_name": child.family_name,
        # Kept (not indexed) so the reasons for a match can say which name matched.
        "names": [{"given": g, "middle": m, "family": f, "kind": k} for g, m, f, k in unique_names],
        **name_fields([(g, m, f) for g, m, f, _ in unique_names]),
        # The current name alone: all a shielded child is found by for those who may not see its other names.
        **{CURRENT + key: keys for key, keys in
           name_fields([(child.given_name, child.middle_names, child.family_name)]).items()},
        "date_of_birth": dob.isoformat(),
        "dob_year_month": dob.strftime("%Y-%m"),
        "dob_year": str(dob.year),
        "gender": child.gender,
        # Identity, not location: a shielded child is found by its identifiers like by its current name.
        "nhs_number": child.nhs_number,
        "upn": child.upn,
        "postcode": postcode,
        "outward_code": outward_code(postcode),
        "local_authority_code": child.local_authority.code if child.local_authority else None,
        "shielded": bool(child.shielded),
        "status": child.status,
        "updated_at": child.updated_at.isoformat() if child.updated_at else None,
    }
