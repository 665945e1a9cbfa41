"""Linkage model pages: versions, one version's levels and weights, editing the thresholds (a new version),
comparison on the reviewers' decisions, activation, and training (national administrators only).

These do what ``contactpoint linkage show|evaluate|activate|train`` do, through the same service
(webapp.linkage_training), audited under the signed-in user's name. Nothing here shows a child: the
comparison gives figures only, and a model's term frequencies (names from the directory) are never listed.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from access_control import audit
from registry.linkage import store
from registry.linkage.model import LEVELS, LinkageModelError
from registry.models import LinkageModelRow

from .. import linkage_training
from ..auth import Refused, require
from ..extensions import sessions
from .versions import chosen_versions, listed_versions, metric_row, number_text, parse_number, version_ref

bp = Blueprint("linkage_models", __name__, url_prefix="/admin/linkage/models")

FIELD_LABELS = {"given_name": "Given name", "family_name": "Family name", "middle_names": "Middle names",
                "date_of_birth": "Date of birth",
                "postcode": "Postcode", "address": "Address line", "gender": "Gender", "nhs_number": "NHS number",
                "upn": "Unique pupil number"}
TWIN_DECISIONS = {"create": "Create a child of their own, with no review item",
                  "review": "Create a child of their own and a review item"}
METRICS = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"), ("review_rate", "Review rate"))
COUNTS = (("true_links", "Same child, linked"), ("missed", "Same child, not linked"),
          ("false_links", "Different children, linked"), ("true_separate", "Different children, kept apart"),
          ("review_matches", "Same child, sent to review"),
          ("review_non_matches", "Different children, sent to review"))
MAX_BITS = 100  # the model's own bounds on a threshold (registry.linkage.model)
MAX_SEED = 2**31 - 1
PAGE_SAMPLE_MAX = 200_000  # training runs inside the request: larger samples belong to the console
assert set(FIELD_LABELS) == set(LEVELS)


def _summary(body: dict) -> dict:
    return {"upper": body["upper"], "lower": body["lower"], "trained": body.get("trained")}


def _versions() -> list[dict]:
    """Stored versions beside the shipped default, which every load uses until a version is activated."""
    return listed_versions(LinkageModelRow, store.default_model().to_body(), _summary)


def _model(name: str, version: int):
    try:
        with sessions()() as db:
            return store.find_model(db, name, version)
    except (store.ModelError, LinkageModelError):
        raise Refused(404, f"there is no linkage model {name} version {version}", "not_found") from None


def _list_page(viewer, policy, form: dict, errors: dict | None = None, status: int | None = None):
    return render_template("linkage_models.html", viewer=viewer, versions=_versions(), form=form,
                           errors=errors or {}, may_train=policy.may("train_linkage"),
                           page_sample_max=PAGE_SAMPLE_MAX, notice=session.pop("notice", None)), \
        status or (400 if errors else 200)


def _blank_form(active_ref: str) -> dict:
    return {"model": active_ref, "against": "", "base": active_ref,
            "sample": str(min(linkage_training.SAMPLE_DEFAULT, PAGE_SAMPLE_MAX)), "seed": "0"}


@bp.get("")
def models():
    viewer, policy = require("tune_linkage")
    with sessions()() as db:
        active = store.active_model(db)
    return _list_page(viewer, policy, _blank_form(active.label))


@bp.get("/<name>/<int:version>")
def show(name: str, version: int):
    viewer, _ = require("tune_linkage")
    model = _model(name, version)
    rows = [{"field": FIELD_LABELS[field], "level": level, "m": model.m[field][level], "u": model.u[field][level],
             "weight": model.weights[field][level]} for field in LEVELS for level in LEVELS[field]]
    body = model.to_body()
    return render_template("linkage_model.html", viewer=viewer, model=model, rows=rows,
                           trained=body.get("trained"), twin_decisions=TWIN_DECISIONS,
                           names_counted={kind: len(table) for kind, table in body["term_frequencies"].items()},
                           notice=session.pop("notice", None))


@bp.post("/<name>/<int:version>/activate")
def activate(name: str, version: int):
    viewer, _ = require("tune_linkage")
    try:
        with sessions().begin() as db:
            model = linkage_training.activate(db, name, version, viewer.username, audit.recorder_for(viewer))
    except (store.ModelError, LinkageModelError):
        raise Refused(404, f"there is no linkage model {name} version {version}", "not_found") from None
    session["notice"] = f"{model.label} is now used by every feed load."
    return redirect(url_for("linkage_models.models"))


# --- editing the thresholds ------------------------------------------------------------------------------------

def _changes_from_form(form: dict) -> tuple[dict, dict]:
    """(the changes for save_version, errors by field)."""
    errors: dict[str, list[str]] = {}
    changes = {}
    for key in ("upper", "lower"):
        changes[key], problem = parse_number(form[key], -MAX_BITS, MAX_BITS)
        if problem:
            errors[key] = [problem]
    if not errors and changes["lower"] > changes["upper"]:
        errors["lower"] = ["must not be above the link threshold"]
    if form["twin_decision"] not in TWIN_DECISIONS:
        errors["twin_decision"] = ["choose what happens to a pair that looks like twins"]
    changes["twin_decision"] = form["twin_decision"]
    return changes, errors


@bp.route("/<name>/<int:version>/edit", methods=["GET", "POST"])
def edit(name: str, version: int):
    viewer, _ = require("tune_linkage")
    base = _model(name, version)
    form = {"upper": number_text(base.upper), "lower": number_text(base.lower), "twin_decision": base.twin_decision}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in form}
        changes, errors = _changes_from_form(form)
        if not errors:
            try:
                with sessions().begin() as db:
                    saved = linkage_training.save_version(db, base, changes, viewer.username,
                                                          audit.recorder_for(viewer))
            except LinkageModelError as exc:  # "key: problem"
                key, _, problem = str(exc).partition(": ")
                errors = {key if key in form else "upper": [problem or str(exc)]}
            else:
                session["notice"] = (f"Saved {saved.label}. Feed loads do not use it until you activate it: "
                                     "compare it first.")
                return redirect(url_for("linkage_models.show", name=saved.name, version=saved.version))
    return render_template("linkage_model_edit.html", viewer=viewer, base=base, form=form, errors=errors,
                           twin_decisions=TWIN_DECISIONS, max_bits=MAX_BITS, notice=None), 400 if errors else 200


# --- comparison on the reviewers' decisions ---------------------------------------------------------------------

def _rows(reports: list[dict]) -> tuple[list[dict], list[dict]]:
    """(metrics, counts) as the comparison table shows them: figures only."""
    metrics = [metric_row(label, [r[key] for r in reports]) for key, label in METRICS]
    counts = [metric_row(label, [r["counts"][key] for r in reports], whole=True) for key, label in COUNTS]
    return metrics, counts


@bp.post("/compare")
def compare():
    viewer, policy = require("tune_linkage")
    form = {**_blank_form(""), **{key: request.form.get(key, "").strip() for key in ("model", "against")}}
    errors: dict[str, list[str]] = {}
    models = chosen_versions(form, "model", "linkage model", errors, store.find_model,
                             (store.ModelError, LinkageModelError))
    if errors:
        return _list_page(viewer, policy, form, errors)
    with sessions().begin() as db:
        reports = linkage_training.evaluate_on_reviews(db, models, audit.recorder_for(viewer))
    labels = [model.label for model in models]
    metrics, counts = _rows(reports) if reports else ([], [])
    return render_template("linkage_models_compare.html", viewer=viewer, labels_of=labels, metrics=metrics,
                           counts=counts, pairs=reports[0]["pairs"] if reports else 0, notice=None)


# --- training (a bulk read of the directory: national administrators) --------------------------------------------

def _whole(text: str, low: int, high: int) -> tuple[int | None, str | None]:
    if not text.isdigit() or not low <= int(text) <= high:
        return None, f"must be a whole number from {low:,} to {high:,}"
    return int(text), None


@bp.post("/train")
def train():
    viewer, policy = require("train_linkage")
    form = {**_blank_form(""), **{key: request.form.get(key, "").strip() for key in ("base", "sample", "seed")}}
    errors: dict[str, list[str]] = {}
    sample, problem = _whole(form["sample"], linkage_training.SAMPLE_MIN, PAGE_SAMPLE_MAX)
    if problem:
        errors["sample"] = [problem]
    seed, problem = _whole(form["seed"], 0, MAX_SEED)
    if problem:
        errors["seed"] = [problem]
    ref = version_ref(form["base"])
    if ref is None:
        errors["base"] = ["choose the version to start from"]
    if errors:
        return _list_page(viewer, policy, form, errors)
    try:
        with sessions().begin() as db:
            model, _ = linkage_training.train(db, store.find_model(db, *ref), sample, seed, viewer.username,
                                              audit.recorder_for(viewer))
    except (store.ModelError, LinkageModelError):
        return _list_page(viewer, policy, form, {"base": [f"there is no linkage model {ref[0]} version {ref[1]}"]})
    except ValueError as exc:  # the directory gave too little to learn from
        return _list_page(viewer, policy, form, {"sample": [f"nothing could be learnt from this sample ({exc})"]}, 409)
    session["notice"] = f"Trained {model.label}. Feed loads do not use it until you activate it: compare it first."
    return redirect(url_for("linkage_models.show", name=model.name, version=model.version))
