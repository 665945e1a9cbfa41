"""HTML pages: a plain search form and its results."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from .auth import current_viewer
from .schemas import SearchSchema
from .services import search_children

bp = Blueprint("pages", __name__)

FORM_FIELDS = ("given_name", "family_name", "date_of_birth", "birth_year", "gender", "postcode", "cp_id")


@bp.get("/")
def search_form():
    return render_template("search.html", viewer=current_viewer(), form={}, errors={}, outcome=None)


@bp.post("/search")
def search():
    viewer = current_viewer()
    if viewer is None:
        return render_template("search.html", viewer=None, form={}, errors={}, outcome=None), 401
    form = {name: request.form.get(name, "").strip() for name in FORM_FIELDS}
    try:
        data = SearchSchema().load({k: v for k, v in form.items() if v})
    except ValidationError as exc:
        return render_template("search.html", viewer=viewer, form=form, errors=exc.messages, outcome=None), 400
    outcome = search_children(viewer, data, channel="page")
    return render_template("search.html", viewer=viewer, form=form, errors={}, outcome=outcome)
