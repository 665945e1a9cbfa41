"""Administration pages: shielding, organisations' contact details, index status (users and relevance
profiles have their own modules)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session

from marshmallow import ValidationError
from sqlalchemy import select

from access_control import InvalidInput, NotAllowed, allowed, audit
from indexing import CHECKPOINT, index_status
from registry.models import ORG_KINDS, SHIELDING_REASONS, Organisation
from registry.writes import RegistryError, set_organisation_authority, update_organisation_contact

from ..auth import Refused, require
from ..extensions import es_client, sessions
from ..schemas import OrganisationContactSchema
from ..services import RecordNotFound, change_shielding

bp = Blueprint("admin", __name__, url_prefix="/admin")

REASON_LABELS = {
    "risk_of_harm": "Risk of significant harm", "domestic_abuse": "Domestic abuse", "adoption": "Adoption",
    "witness_protection": "Witness protection", "court_order": "Court order", "other": "Another reason",
}
assert set(REASON_LABELS) == set(SHIELDING_REASONS)


@bp.route("/shielding/<cp_id>", methods=["GET", "POST"])
def shielding(cp_id: str):
    """Set or lift shielding with a reason category: the owning LA team and national administrators."""
    viewer, _ = require("set_shielding")
    form = {"shielded": request.form.get("shielded", ""), "reason_category": request.form.get("reason_category", "")}
    errors = {}
    if request.method == "POST":
        if form["shielded"] not in ("yes", "no"):
            errors["shielded"] = ["choose whether the record is shielded"]
        if form["reason_category"] not in SHIELDING_REASONS:
            errors["reason_category"] = ["choose a reason"]
        if not errors:
            try:
                record = change_shielding(viewer, cp_id, form["shielded"] == "yes", form["reason_category"])
            except InvalidInput as exc:
                errors = {exc.field: [exc.message]}
            except NotAllowed as exc:
                raise Refused(403, str(exc), "not_allowed") from None
            except RecordNotFound:
                raise Refused(404, "There is no active record with that ContactPoint ID.", "not_found") from None
            else:
                return render_template("done.html", viewer=viewer, cp_id=cp_id, notice=None,
                                       title="Record shielded" if record["shielded"] else "Shielding lifted",
                                       message="This takes effect for every search and record view at once.")
    return render_template("shielding.html", viewer=viewer, cp_id=cp_id, form=form, errors=errors,
                           reasons=REASON_LABELS, notice=session.pop("notice", None)), 400 if errors else 200


@bp.get("/index")
def index():
    viewer, _ = require("view_index_status")
    status = index_status(es_client(), sessions(), current_app.config["SETTINGS"].es_alias, CHECKPOINT)
    return render_template("index_status.html", viewer=viewer, status=status, notice=None)


@bp.route("/organisations", methods=["GET", "POST"])
def organisations():
    """Contact details of an organisation: what practitioners see, e.g. the LA team on shielded records.

    LA teams edit their own authority; national administrators any organisation (by kind and code), and
    which local authority it belongs to (none: a national organisation) -- what an LA team may administer.
    """
    viewer, _ = require("administer_users")
    own_la = not allowed(viewer.role, "act_in_every_authority")
    source = request.form if request.method == "POST" else request.args
    kind = "local_authority" if own_la else source.get("kind", "local_authority")
    code = viewer.la_code if own_la else source.get("code", "").strip()
    errors, saved, org = {}, False, None
    if kind not in ORG_KINDS:
        errors["kind"] = ["choose a kind of organisation"]
    with sessions().begin() as db:
        if code and not errors:
            org = db.scalar(select(Organisation).where(Organisation.kind == kind, Organisation.code == code))
            if org is None:
                errors["code"] = [f"there is no {kind.replace('_', ' ')} with the code {code}"]
        form = {"name": org.name if org else "", "phone": (org.phone or "") if org else "",
                "email": (org.email or "") if org else "",
                "local_authority": (org.local_authority.code if org and org.local_authority else "")}
        assigns_authority = not own_la and kind != "local_authority"
        if request.method == "POST" and org is not None:
            form = {k: request.form.get(k, "").strip() for k in ("name", "phone", "email", "local_authority")}
            try:
                data = OrganisationContactSchema().load({k: v for k, v in form.items() if v and k != "local_authority"})
            except ValidationError as exc:
                errors.update(exc.messages)
            else:
                try:  # the authority first: when it is refused, nothing is saved
                    if assigns_authority and set_organisation_authority(db, org, form["local_authority"] or None):
                        audit.record(db, viewer, "organisation_authority_set", {
                            "organisation": f"{kind}:{code}", "local_authority": form["local_authority"] or None})
                    if update_organisation_contact(db, org, name=data.get("name", ""), phone=data.get("phone"),
                                                   email=data.get("email")):
                        audit.record(db, viewer, "organisation_updated", {"organisation": f"{kind}:{code}", **data})
                    saved = True
                except RegistryError as exc:
                    errors[exc.field] = [exc.message]
    status = 400 if errors and request.method == "POST" else 200
    return render_template("organisations.html", viewer=viewer, own_la=own_la, kind=kind, code=code, org_found=org
                           is not None, form=form, errors=errors, kinds=ORG_KINDS, assigns_authority=assigns_authority,
                           notice="Contact details saved." if saved else None), status
