"""What a notification shows its recipient, decided when it is shown or sent, from the database as it is then.

Through the visibility policy for that recipient: the child's ID, name and date of birth and the owning
authority's team; for a new service its organisation, role, practitioner and contact only when the recipient
may see that involvement; for a move, the authorities and -- only for someone who may see where the child
lives -- the new postcode. Never case information (the directory holds none).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from access_control import VisibilityPolicy
from registry import merging
from registry.local_authorities import authority_label
from registry.models import Child, Involvement, Organisation

from ..govuk_dates import govuk_date

KINDS = {
    "involvement_started": "Another service starts working with a child you work with",
    "authority_changed": "A child moves into or out of your local authority",
}


def _authority(session: Session, org_id: int | None) -> str | None:
    org = session.get(Organisation, org_id) if org_id is not None else None
    if org is None:
        return None
    return org.name if org.name != org.code else authority_label(org.code)


def describe(session: Session, policy: VisibilityPolicy, kind: str, child_id: int, involvement_id: int | None = None,
             old_la_id: int | None = None, new_la_id: int | None = None) -> dict | None:
    """The notice as this recipient may see it now; None when there is nothing they may be told.

    None when the child is no longer one they may open, or when the new service is a sensitive one they may
    not see (even its existence is sensitive). A child they may not see whole (shielded) keeps its identity and
    its authority team's contact, and loses the service details and the postcode (``redacted``).
    """
    child = session.get(Child, child_id)
    if child is not None and child.status == "merged":  # the notice follows the child into the record kept
        child = merging.resolve(session, child)
    if child is None or child.status != "active" or not policy.may_open(child):
        return None
    record = policy.present(child)
    notice = {"kind": kind, "title": KINDS[kind], "cp_id": record["cp_id"], "given_name": record["given_name"],
              "family_name": record["family_name"], "date_of_birth": record["date_of_birth"],
              "shielded": record["shielded"], "redacted": record["redacted"],
              "local_authority": record["local_authority"]}
    if kind == "involvement_started":
        involvement = session.get(Involvement, involvement_id) if involvement_id is not None else None
        if involvement is None or involvement.child_id != child.id:  # (a merge moves involvements with the child)
            return {**notice, "service": None}  # no longer recorded
        if involvement.sensitive_category is not None and not policy.may_manage(child, involvement):
            return None  # a sensitive service this recipient may not see: not even that it exists
        shown = next((i for i in record.get("involvements", ()) if i["id"] == involvement.id), None)
        service = None if shown is None else {key: shown[key] for key in (
            "practitioner_name", "role", "phone", "email", "start_date")} | {
            "organisation": shown["organisation"]["name"] if shown["organisation"] else None}
        return {**notice, "service": service}
    postcode = None if record["redacted"] else (record.get("address") or {}).get("postcode")
    return {**notice, "from_authority": _authority(session, old_la_id), "to_authority": _authority(session, new_la_id),
            "postcode": postcode}


def as_text(notice: dict) -> str:
    """The notice as plain text (the email's body), from the same fields the page shows."""
    lines = [notice["title"] + ".", "",
             f"Child: {notice['given_name']} {notice['family_name']}, born {govuk_date(notice['date_of_birth'])}, "
             f"ContactPoint ID {notice['cp_id']}"]
    if notice["kind"] == "involvement_started":
        service = notice.get("service")
        if service:
            lines.append(f"Service: {service['organisation']} ({service['role']}), from {govuk_date(service['start_date'])}")
            lines += [f"{label}: {service[key]}" for label, key in (("Practitioner", "practitioner_name"),
                                                                    ("Phone", "phone"), ("Email", "email"))
                      if service.get(key)]
        elif notice["redacted"]:
            lines.append("The details are withheld: this child's record is shielded.")
        else:
            lines.append("That service is no longer recorded.")
    else:
        lines.append(f"Moved from {notice['from_authority'] or 'an unknown authority'} "
                     f"to {notice['to_authority'] or 'an unknown authority'}"
                     + (f" (postcode {notice['postcode']})" if notice.get("postcode") else ""))
    team = notice.get("local_authority")
    if team:
        contact = ", ".join(part for part in (team.get("phone"), team.get("email")) if part)
        lines.append(f"Local authority team: {team['name']}" + (f" ({contact})" if contact else ""))
    lines += ["", "Sign in to ContactPoint to see the child's record. This email holds no case information."]
    return "\n".join(lines)
