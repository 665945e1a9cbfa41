"""The one visibility policy: what a caller may find and see. Every read path goes through it.

Ordinary users find active children only and see a shielded child's identity with the
"shielded" marker and the owning local authority team's contact, never its location, carers,
settings or services; location criteria never count for a shielded child. The owning local
authority's management team and national administrators see everything, audited as such.
Sensitive services are shown only to the owning authority's team, national administrators and
the service's own organisation.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.local_authorities import authority_name
from registry.models import Child, Organisation

from .errors import NotAllowed
from .models import ROLES
from .permissions import allowed

__all__ = ["PURPOSES", "ROLES", "Viewer", "VisibilityPolicy"]

PURPOSES = {
    "safeguarding_concern": "Safeguarding concern",
    "new_referral": "New referral",
    "service_coordination": "Co-ordinating services",
    "contact_details": "Finding another practitioner's contact details",
}


# Linkage evidence that says where a child lives or who is around them (by the linkage model's comparison
# field names): withheld from a reviewer for a pair with a child they may not see in full.
LOCATION_EVIDENCE = ("address", "postcode", "town", "school", "gp", "carer", "location")


def is_location_evidence(field: str) -> bool:
    return any(word in field.lower() for word in LOCATION_EVIDENCE)


@dataclass(frozen=True)
class Viewer:
    username: str
    display_name: str
    role: str
    organisation: str
    la_code: str | None = None
    on_behalf_of: str | None = None
    organisation_kind: str | None = None

    @property
    def registrant(self) -> str:
        """How an involvement this viewer registers is attributed (a system names its practitioner)."""
        if allowed(self.role, "act_on_behalf") and self.on_behalf_of:
            return f"{self.username}/{self.on_behalf_of}"[:100]
        return self.username


def _org(org: Organisation | None) -> dict | None:
    if org is None:
        return None
    name = org.name
    if org.kind == "local_authority" and name == org.code:  # made from a feed that gave only its code
        name = authority_name(org.code) or name
    return {"code": org.code, "name": name, "phone": org.phone, "email": org.email}


class VisibilityPolicy:
    def __init__(self, viewer: Viewer):
        self.viewer = viewer

    def may(self, permission: str) -> bool:
        return allowed(self.viewer.role, permission)

    # Ownership: which authority's children a viewer answers for. Which roles act in every authority or for
    # their own is in the permissions table; comparing the viewer's authority with the child's is not a role
    # decision the table can hold, so it stays here, in the one policy.
    @property
    def _national(self) -> bool:
        return self.may("act_in_every_authority")

    def acts_for_authority(self, la_code: str | None) -> bool:
        """Whether the viewer acts for the local authority ``la_code`` (shielding, its children's whole records)."""
        if self._national:
            return True
        return self.may("act_for_own_authority") and la_code is not None and la_code == self.viewer.la_code

    # --- the query side ---------------------------------------------------------------------

    def query_filters(self) -> list[dict]:
        """Filters every search carries: only children a practitioner may find."""
        return [{"term": {"status": "active"}}]

    def location_scope(self, shielded_since_indexed: list[str] = (), decided: dict[str, bool] | None = None
                       ) -> dict | None:
        """Which children location criteria and other names than the current one may count for (None: all).

        ``shielded_since_indexed`` are children shielded in the database whose index documents
        do not show it yet: they are treated as shielded at once. ``decided`` (cp_id -> whether
        the viewer sees the child's whole record) comes from the database re-check of an earlier
        answer, and overrides whatever the index says of those children (shielding, authority).
        """
        if self._national:
            return None
        unshielded = {"term": {"shielded": False}}
        if shielded_since_indexed:
            unshielded = {"bool": {"filter": [unshielded],
                                   "must_not": [{"terms": {"cp_id": list(shielded_since_indexed)}}]}}
        scope = unshielded
        if self.may("act_for_own_authority") and self.viewer.la_code:
            scope = {"bool": {"should": [unshielded, {"term": {"local_authority_code": self.viewer.la_code}}],
                              "minimum_should_match": 1}}
        if not decided:
            return scope
        inside = sorted(cp_id for cp_id, sees in decided.items() if sees)
        outside = sorted(cp_id for cp_id, sees in decided.items() if not sees)
        return {"bool": {"should": [scope] + ([{"terms": {"cp_id": inside}}] if inside else []),
                         "minimum_should_match": 1, "must_not": [{"terms": {"cp_id": outside}}] if outside else []}}

    def sees_whole_record(self, shielded: bool, la_code: str | None) -> bool:
        """Whether the viewer sees location and other names of a child in this state (database's, not index's)."""
        return not shielded or self.acts_for_authority(la_code)

    def misplaced(self, current: dict[str, tuple[bool, str | None]], in_scope: set[str]) -> dict[str, bool]:
        """Children the index put on the wrong side of the scope, by the database's current state.

        ``current`` is ``recheck``'s answer and ``in_scope`` the children the query counted location
        and other names for: cp_id -> whether the viewer sees the child's whole record.
        """
        return {cp_id: sees for cp_id, state in current.items()
                if (sees := self.sees_whole_record(*state)) != (cp_id in in_scope)}

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

    # --- bulk reads for relevance evaluation ---------------------------------------------------

    def bulk_read_conditions(self, synthetic_only: bool) -> list:
        """SQL conditions on ``Child`` for reading children in bulk to make relevance judgments.

        Never a shielded or inactive child, whoever asks: a judgment set is a file that outlives any
        shielding decision. Synthetic children (made up by demo-data) are anyone's to read; real ones
        only an LA team's (its own authority's) or a national administrator's (NotAllowed otherwise).
        """
        conditions = [Child.status == "active", Child.shielded.is_(False)]
        if synthetic_only:
            return conditions + [Child.synthetic.is_(True)]
        if not self.may("read_children_in_bulk"):
            raise NotAllowed(f"a {self.viewer.role.replace('_', ' ')} may not read real children in bulk")
        if not self._national:
            conditions.append(Child.local_authority.has(Organisation.code == self.viewer.la_code))
        return conditions

    # --- record linkage review -----------------------------------------------------------------

    def linkage_scope(self) -> str | None:
        """The local authority whose review items and merges the viewer decides; None for every authority."""
        if self._national:
            return None
        if not self.may("act_for_own_authority") or not self.viewer.la_code:
            raise NotAllowed("your account is not linked to a local authority")
        return self.viewer.la_code

    def decides_linkage_of(self, la_codes) -> bool:
        """Whether the viewer decides on these children together (a review item, a merge): national
        administrators always; an LA team when any of them is its own authority's."""
        if self._national:
            return True
        return self.may("act_for_own_authority") and self.viewer.la_code is not None and \
            self.viewer.la_code in set(la_codes)

    def present_for_review(self, child: Child) -> dict:
        """A child as a reviewer compares it with another: its record as ``present`` shows it to this viewer,
        less carers and services (no evidence of identity), plus its strong identifiers unless redacted."""
        record = {k: v for k, v in self.present(child).items() if k not in ("carers", "involvements")}
        if record["redacted"]:
            return {**record, "shielding_reason": None, "other_names": [], "address": None, "school": None,
                    "gp_practice": None, "nhs_number": None, "upn": None}
        return {**record, "nhs_number": child.nhs_number, "upn": child.upn}

    @staticmethod
    def review_weights(contributions: dict, match_weight: float | None, whole: bool) -> dict:
        """A pair's match weight field by field, as a reviewer may see it.

        ``whole``: the viewer sees both children in full. Otherwise the level and weight of every location
        field are withheld, and so is the total (it would give away their sum).
        """
        rows = [{"field": field, "level": (value or {}).get("level"), "weight": (value or {}).get("weight"),
                 "withheld": False} for field, value in (contributions or {}).items()]
        if not whole:
            rows = [{**row, "level": None, "weight": None, "withheld": True} if is_location_evidence(row["field"])
                    else row for row in rows]
        shown = sum(row["weight"] or 0.0 for row in rows if not row["withheld"])
        withheld = any(row["withheld"] for row in rows)
        return {"fields": rows, "shown_weight": round(shown, 4),
                "match_weight": None if withheld or match_weight is None else match_weight}

    # --- the rendering side -----------------------------------------------------------------

    def _owns(self, child: Child) -> bool:
        la = child.local_authority.code if child.local_authority else None
        return self.may("act_for_own_authority") and la is not None and la == self.viewer.la_code

    def access_basis(self, child: Child) -> str:
        """Why the viewer sees what they see: recorded with every view."""
        if self._national:
            return "national_admin"
        if self._owns(child):
            return "owning_local_authority"
        return "shielded_redacted" if child.shielded else "practitioner"

    def may_open(self, child: Child) -> bool:
        """Whether the viewer may open this record at all (archived ones only for their owners)."""
        if not self.may("view_record"):
            return False
        if child.status == "active":
            return True
        return child.status == "archived" and (self._national or self._owns(child))

    def sees_location(self, child: Child) -> bool:
        return self.sees_whole_record(bool(child.shielded), child.local_authority.code if child.local_authority
                                      else None)

    def _same_organisation(self, involvement) -> bool:
        # Organisations are unique by kind and code: a school coded like a clinic is not the clinic.
        return (involvement.organisation.kind, involvement.organisation.code) == \
            (self.viewer.organisation_kind, self.viewer.organisation)

    def _sees_sensitive(self, child: Child, involvement) -> bool:
        return self._national or self._owns(child) or self._same_organisation(involvement)

    def may_manage(self, child: Child, involvement) -> bool:
        """End or re-flag an involvement: its own organisation, the owning LA team, national administrators."""
        return self._same_organisation(involvement) or self._national or self._owns(child)

    @staticmethod
    def involvement(i) -> dict:
        return {
            "id": i.id, "organisation": _org(i.organisation), "practitioner_name": i.practitioner_name,
            "role": i.role, "phone": i.phone, "email": i.email, "start_date": i.start_date.isoformat(),
            "end_date": i.end_date.isoformat() if i.end_date else None,
            "lead_professional": i.lead_professional, "caf_held": i.caf_held,
            "info_to_share": i.info_to_share, "assessment_undertaken": i.assessment_undertaken,
            "sensitive_category": i.sensitive_category,
        }

    def present(self, child: Child) -> dict:
        """The record as this viewer may see it: the only shape any page or API renders."""
        record = {
            "cp_id": child.cp_id, "given_name": child.given_name, "middle_names": child.middle_names,
            "family_name": child.family_name, "date_of_birth": child.date_of_birth.isoformat(),
            "gender": child.gender, "shielded": bool(child.shielded), "status": child.status,
            "local_authority": _org(child.local_authority),
        }
        if not self.sees_location(child):
            # Identity, the marker and whom to ask: nothing that says where the child is.
            return {**record, "redacted": True}
        return {
            **record, "redacted": False,
            "shielding_reason": child.shielding_reason if child.shielded else None,
            "other_names": [{"kind": n.kind, "given_name": n.given_name, "middle_names": n.middle_names,
                             "family_name": n.family_name} for n in child.names if n.kind in ("alias", "previous")],
            "address": {"line_1": child.address_line_1, "line_2": child.address_line_2, "town": child.town,
                        "postcode": child.postcode},
            "school": _org(child.school), "gp_practice": _org(child.gp_practice),
            "carers": [{"given_name": c.given_name, "family_name": c.family_name,
                        "relationship": c.relationship_to_child, "parental_responsibility": c.parental_responsibility,
                        "phone": c.phone, "email": c.email} for c in child.carers],
            "involvements": [self.involvement(i) for i in child.involvements
                             if i.sensitive_category is None or self._sees_sensitive(child, i)],
        }
