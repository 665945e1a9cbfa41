"""The one visibility policy: what a caller may find and see. Every read path goes through it.

Ordinary users find active children only and see a shielded child's identity with the
"shielded" marker, never its location; location criteria never count for a shielded child.
The owning local authority's management team and national administrators see everything.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Child, Organisation

ROLES = ("practitioner", "la_management", "national_admin", "auditor", "relevance_admin", "api_client",
         "indexer")


@dataclass(frozen=True)
class Viewer:
    username: str
    display_name: str
    role: str
    organisation: str
    la_code: str | None = None
    on_behalf_of: str | None = None


class VisibilityPolicy:
    def __init__(self, viewer: Viewer):
        self.viewer = viewer

    def query_filters(self) -> list[dict]:
        """Filters every search carries: only children a practitioner may find."""
        return [{"term": {"status": "active"}}]

    def location_scope(self) -> dict | None:
        """Which children location criteria may count for (None: all of them)."""
        if self.viewer.role == "national_admin":
            return None
        if self.viewer.role == "la_management" and self.viewer.la_code:
            return {"bool": {"should": [{"term": {"shielded": False}},
                                        {"term": {"local_authority_code": self.viewer.la_code}}],
                             "minimum_should_match": 1}}
        return {"term": {"shielded": False}}

    def recheck(self, session: Session, cp_ids: list[str]) -> dict[str, tuple[bool, str | None]]:
        """Current (shielded, owning LA code) of the given children that may still be shown.

        The index can lag the database; a child archived or removed since is dropped here, and
        shielding is taken from the database, never from the index.
        """
        if not cp_ids:
            return {}
        rows = session.execute(
            select(Child.cp_id, Child.shielded, Child.status, Organisation.code)
            .outerjoin(Organisation, Child.local_authority_id == Organisation.id)
            .where(Child.cp_id.in_(cp_ids)))
        return {cp_id: (bool(shielded), la_code) for cp_id, shielded, status, la_code in rows if status == "active"}
