"""HTML pages for practitioners: search (for themselves or on behalf of a requester) and a child's record."""
from __future__ import annotations

import dataclasses

from flask import Blueprint, redirect, render_template, request, session, url_for
from marshmallow import ValidationError

from access_control import PURPOSES, InvalidInput, VisibilityPolicy
from analyzers import clock

from ..auth import ACTING_FOR, Refused, current_viewer, require
from ..limiting import search_limited, view_limited
from ..schemas import InvolvementSchema, PurposeSchema, SearchSchema
from ..review_service import merged_records
from ..services import (
    RecordNotFound, end_involvement, flag_info_to_share, register_involvement, search_children, survivor_of,
    view_child,
)

bp = Blueprint("pages", __name__)

FORM_FIELDS = ("given_name", "family_name", "dob-day", "dob-month", "dob-year", "gender", "postcode", "cp_id",
               "nhs_number", "on_behalf_of")
HOMES = (("search", "pages.search_form"), ("review_audit", "review.events"),
         ("manage_relevance", "relevance_admin.profiles"))


def criteria_from_form(form: dict) -> tuple[dict, dict]:
    """Search criteria from the form (date of birth as day, month, year; or a year, or a month and year)."""
    data = {name: form[name] for name in ("given_name", "family_name", "gender", "postcode", "cp_id", "nhs_number")
            if form[name]}
    day, month, year = form["dob-day"], form["dob-month"], form["dob-year"]
    if not (day or month or year):
        return data, {}
    if not all(part.isdigit() for part in (day, month, year) if part):
        return data, {"date_of_birth": ["must be numbers, for example 27 3 2019"]}
    if day and month and year:
        data["date_of_birth"] = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    elif year and not day:
        data["birth_year"] = year
        if month:
            data["birth_month"] = month
    else:
        return data, {"date_of_birth": ["must include a year (a day needs a month and year too)"]}
    return data, {}


def _page(template: str, code: int = 200, **context):
    return render_template(template, notice=session.pop("notice", None), **context), code


@bp.get("/")
def search_form():
    viewer = current_viewer()
    if viewer is not None and not VisibilityPolicy(viewer).may("search"):
        home = next((endpoint for permission, endpoint in HOMES if VisibilityPolicy(viewer).may(permission)), None)
        if home is not None:
            return redirect(url_for(home))
    viewer, policy = require("search")
    return _page("search.html", viewer=viewer, form={}, errors={}, outcome=None,
                 mediated=policy.may("mediated_search"))


@bp.post("/search")
@search_limited
def search():
    viewer, policy = require("search")
    form = {name: request.form.get(name, "").strip() for name in FORM_FIELDS}
    data, errors = criteria_from_form(form)
    requester = form["on_behalf_of"]
    if requester:
        if not policy.may("mediated_search"):
            raise Refused(403, "your role may not search on behalf of someone else", "role_may_not_mediated_search")
        if not ACTING_FOR.fullmatch(requester):
            errors["on_behalf_of"] = ["must be 2 to 200 characters: the requester's name and organisation"]
        viewer = dataclasses.replace(viewer, on_behalf_of=requester)
    try:
        data = SearchSchema().load(data)
    except ValidationError as exc:
        errors = {**exc.messages, **errors}
    if errors:
        return _page("search.html", 400, viewer=viewer, form=form, errors=errors, outcome=None,
                     mediated=policy.may("mediated_search"))
    outcome = search_children(viewer, data, channel="page")
    return _page("search.html", viewer=viewer, form=form, errors={}, outcome=outcome,
                 mediated=policy.may("mediated_search"))


@bp.get("/children/<cp_id>")
def purpose_prompt(cp_id: str):
    viewer, _ = require("view_record")
    survivor = survivor_of(viewer, cp_id, channel="page")
    if survivor is not None:  # a merged child's ID leads to the child it was merged into
        session["notice"] = f"{cp_id} was merged into {survivor}: this is that child's record."
        return redirect(url_for("pages.purpose_prompt", cp_id=survivor, **request.args))
    return _page("purpose.html", viewer=viewer, cp_id=cp_id, purposes=PURPOSES, errors={},
                 on_behalf_of=request.args.get("on_behalf_of", ""))


@bp.post("/children/<cp_id>")
@view_limited
def record(cp_id: str):
    viewer, policy = require("view_record")
    requester = request.form.get("on_behalf_of", "").strip()
    errors = {}
    if requester:
        if not policy.may("mediated_search") or not ACTING_FOR.fullmatch(requester):
            errors["on_behalf_of"] = ["must be 2 to 200 characters: the requester's name and organisation"]
        viewer = dataclasses.replace(viewer, on_behalf_of=requester)
    try:
        purpose = PurposeSchema().load({"purpose": request.form.get("purpose", "")})["purpose"]
    except ValidationError as exc:
        errors.update(exc.messages)
    if errors:
        return _page("purpose.html", 400, viewer=viewer, cp_id=cp_id, purposes=PURPOSES, errors=errors,
                     on_behalf_of=requester)
    try:
        child = view_child(viewer, cp_id, purpose, channel="page")
    except InvalidInput as exc:
        raise Refused(400, exc.message, "invalid_input", {exc.field: [exc.message]}) from None
    except RecordNotFound:
        return _not_found(viewer)
    owner = (child["local_authority"] or {}).get("code")
    can_shield = policy.may("set_shielding") and policy.acts_for_authority(owner)
    can_merge = policy.may("merge_children") and policy.acts_for_authority(owner) and child["status"] == "active"
    if child.get("merged_from"):
        session["notice"] = f"{child['merged_from']} was merged into {child['cp_id']}: this is that child's record."
    return _page("record.html", viewer=viewer, child=child, purpose=PURPOSES[purpose], can_shield=can_shield,
                 can_merge=can_merge, merged=merged_records(viewer, child["cp_id"]) if can_merge else [])


INVOLVEMENT_FIELDS = ("role", "phone", "email", "start-day", "start-month", "start-year", "sensitive_category")
FLAGS = ("lead_professional", "caf_held", "info_to_share", "assessment_undertaken")


def _involvement_data(form: dict, flags: list[str], consent: bool) -> tuple[dict, dict]:
    data = {k: form[k] for k in ("role", "phone", "email", "sensitive_category") if form[k]}
    data.update({flag: flag in flags for flag in FLAGS}, consent_recorded=consent)
    day, month, year = form["start-day"], form["start-month"], form["start-year"]
    if day or month or year:
        if not (day.isdigit() and month.isdigit() and year.isdigit()):
            return data, {"start_date": ["must be a real date, for example 1 9 2026"]}
        data["start_date"] = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    try:
        return InvolvementSchema().load(data), {}
    except ValidationError as exc:
        return data, exc.messages


@bp.get("/children/<cp_id>/involvements/new")
def involvement_form(cp_id: str):
    viewer, _ = require("register_involvement")
    return _page("involvement.html", viewer=viewer, cp_id=cp_id, form={}, flags=[], consent=False, errors={})


@bp.post("/children/<cp_id>/involvements")
def involvement_register(cp_id: str):
    viewer, _ = require("register_involvement")
    form = {name: request.form.get(name, "").strip() for name in INVOLVEMENT_FIELDS}
    flags, consent = request.form.getlist("flags"), request.form.get("consent_recorded") == "yes"
    data, errors = _involvement_data(form, flags, consent)
    if not errors:
        try:
            involvement = register_involvement(viewer, cp_id, data)
        except InvalidInput as exc:
            errors = {exc.field: [exc.message]}
        except RecordNotFound:
            return _not_found(viewer)
    if errors:  # everything typed comes back, so nothing being entered is lost
        return _page("involvement.html", 400, viewer=viewer, cp_id=cp_id, form=form, flags=flags, consent=consent,
                     errors=errors)
    return _page("done.html", viewer=viewer, cp_id=cp_id, title="Involvement registered",
                 message=f"You are recorded as working with this child ({involvement['role']}), from "
                         f"{involvement['start_date']}.")


def _not_found(viewer):
    return _page("error.html", 404, viewer=viewer, status=404,
                 message="There is no record with that ContactPoint ID that you can open.")


@bp.post("/children/<cp_id>/involvements/<int:involvement_id>/end")
def involvement_end(cp_id: str, involvement_id: int):
    viewer, _ = require("register_involvement")
    try:
        ended = end_involvement(viewer, cp_id, involvement_id, clock.today())
    except InvalidInput as exc:
        raise Refused(400, exc.message, "invalid_input", {exc.field: [exc.message]}) from None
    except RecordNotFound:
        return _not_found(viewer)
    return _page("done.html", viewer=viewer, cp_id=cp_id, title="Involvement ended",
                 message=f"The involvement ({ended['role']}) is recorded as ended on {ended['end_date']}.")


@bp.post("/children/<cp_id>/involvements/<int:involvement_id>/info-to-share")
def involvement_info_to_share(cp_id: str, involvement_id: int):
    viewer, _ = require("register_involvement")
    flag = request.form.get("info_to_share") == "yes"
    try:
        flag_info_to_share(viewer, cp_id, involvement_id, flag)
    except RecordNotFound:
        return _not_found(viewer)
    return _page("done.html", viewer=viewer, cp_id=cp_id, title="Information to share updated",
                 message="Other practitioners now see that you have information to share." if flag
                 else "Other practitioners no longer see an information-to-share flag from you.")
