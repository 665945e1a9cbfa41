"""One document builder for full rebuilds and incremental sync alike."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from analyzers import compact, fold, normalise_postcode, outward_code, tokens
from registry.models import Child


def load_children(session: Session, child_ids: Iterable[int]) -> list[Child]:
    ids = list(child_ids)
    if not ids:
        return []
    return list(session.scalars(select(Child).where(Child.id.in_(ids))
                                .options(selectinload(Child.names), selectinload(Child.local_authority))))


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def build_document(child: Child) -> dict:
    """The searchable view of a child: identity, every name it is known by, and coarse location."""
    names = [(n.given_name, n.middle_names, n.family_name) for n in child.names] or \
        [(child.given_name, child.middle_names, child.family_name)]
    given = _unique(fold(g) for g, _, _ in names)
    middle = _unique(fold(m) for _, m, _ in names if m)
    family = _unique(fold(f) for _, _, f in names)
    postcode = normalise_postcode(child.postcode)
    return {
        "cp_id": child.cp_id,
        "given_name": child.given_name,
        "middle_names": child.middle_names,
        "family_name": child.family_name,
        "given_names": given + middle,
        "family_names": family,
        "given_keys": _unique(t for g in given for t in [*tokens(g), compact(g)]),
        "family_keys": _unique(t for f in family for t in [*tokens(f), compact(f)]),
        "date_of_birth": child.date_of_birth.isoformat(),
        "gender": child.gender,
        "postcode": postcode,
        "outward_code": outward_code(postcode),
        "local_authority_code": child.local_authority.code if child.local_authority else None,
        "shielded": bool(child.shielded),
        "status": child.status,
        "updated_at": child.updated_at.isoformat() if child.updated_at else None,
    }
