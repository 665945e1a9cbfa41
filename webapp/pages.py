"""HTML pages for practitioners: search (for themselves or on behalf of a requester) and a child's record."""
from __future__ import annotations

import dataclasses

from flask import Blueprint, render_template, request, session
from marshmallow import ValidationError

from access_control import PURPOSES, InvalidInput

from .auth import ACTING_FOR, Refused, require
from .limiting import search_limited, view_limited
from .schemas import PurposeSchema, SearchSchema
from .services import RecordNotFound, search_children, view_child

bp = Blueprint("pages", __name__)

FORM_FIELDS = ("given_name", "family_name", "date_of_birth", "birth_year", "gender", "postcode", "cp_id")


def _page(template: str, status: int = 200, **context):
    return render_template(template, notice=session.pop("notice", None), **context), status


@bp.get("/")
def search_form():
    viewer, policy = require("search")
    return _page("search.html", viewer=viewer, form={}, errors={}, outcome=None,
                 mediated=policy.may("mediated_search"))


@bp.post("/search")
@search_limited
def search():
    viewer, policy = require("search")
    form = {name: request.form.get(name, "").strip() for name in (*FORM_FIELDS, "on_behalf_of")}
    errors = {}
    requester = form.pop("on_behalf_of")
    if requester:
        if not policy.may("mediated_search"):
            raise Refused(403, "your role may not search on behalf of someone else", "role_may_not_mediated_search")
        if not ACTING_FOR.fullmatch(requester):
            errors["on_behalf_of"] = ["must be 2 to 200 characters: the requester's name and organisation"]
        viewer = dataclasses.replace(viewer, on_behalf_of=requester)
    try:
        data = SearchSchema().load({k: v for k, v in form.items() if v})
    except ValidationError as exc:
        errors = {**exc.messages, **errors}
    form["on_behalf_of"] = requester
    if errors:
        return _page("search.html", 400, viewer=viewer, form=form, errors=errors, outcome=None,
                     mediated=policy.may("mediated_search"))
    outcome = search_children(viewer, data, channel="page")
    return _page("search.html", viewer=viewer, form=form, errors={}, outcome=outcome,
                 mediated=policy.may("mediated_search"))


@bp.get("/children/<cp_id>")
def purpose_prompt(cp_id: str):
    viewer, _ = require("view_record")
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
        return _page("error.html", 404, viewer=viewer, status=404,
                     message="There is no record with that ContactPoint ID that you can open.")
    return _page("record.html", viewer=viewer, child=child, purpose=PURPOSES[purpose])
