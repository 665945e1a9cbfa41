"""Administration pages: shielding (here), index status; users and relevance profiles in their own modules."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session

from access_control import InvalidInput, NotAllowed
from indexing import CHECKPOINT, index_status
from registry.models import SHIELDING_REASONS

from .auth import Refused, require
from .extensions import es_client, sessions
from .services import RecordNotFound, change_shielding

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
