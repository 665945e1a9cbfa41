"""Relevance profile pages: versions, editing (a new version), offline evaluation, comparison, activation.

These do what ``contactpoint relevance show|import|evaluate|activate`` do, through the same
service (webapp.relevance_service), and are audited the same way (under the signed-in administrator's
name).
"""
from __future__ import annotations

from pathlib import Path

from elasticsearch import ApiError, TransportError
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from access_control import audit
from registry.models import RelevanceProfileRow
from search_service import EngineError
from search_service.evaluation import METRIC_NAMES, MAX_REGRESSIONS_LISTED, read_judgments, regressions
from search_service.profiles import THRESHOLD_NAMES, WEIGHT_NAMES, ProfileError, default_profile
from search_service.queries import GROUPS, REASONS

from .. import relevance_service
from ..auth import Refused, require
from ..extensions import es_client, sessions
from .versions import chosen_versions, listed_versions, metric_row, number_text, parse_number

bp = Blueprint("relevance_admin", __name__, url_prefix="/admin/relevance")

WEIGHT_GROUPS = (("family", "Family name"), ("given", "Given name"), ("dob", "Date of birth"),
                 ("gender", "Gender"), ("location", "Postcode"), ("identifier", "NHS number or UPN"))
WEIGHT_LABELS = {name: REASONS[name][0].upper() + REASONS[name][1:] for name in WEIGHT_NAMES} | {
    "family_exact": "The same family name", "given_exact": "The same given name",
    "dob_exact": "The same date of birth", "gender": "The same gender", "postcode": "The same postcode"}
THRESHOLD_LABELS = {
    "certain": "Certain match: share of the best possible score",
    "probable": "Probable match: share of the best possible score",
    "minimum": "Shown at all: share of the best possible score",
    "indistinct": "Too many to tell apart: when the first child cut scores this share of the top child",
    "contradicting_gender": "Recorded gender contradicts the one given: share of its score a child keeps",
}
assert {w for group, _ in WEIGHT_GROUPS for w in GROUPS[group]} == set(WEIGHT_NAMES)
assert set(THRESHOLD_LABELS) == set(THRESHOLD_NAMES)
MAX_WEIGHT = 1000
MAX_DESCRIPTION = 1000


def weight_field(name: str) -> str:
    return f"weight_{name}"


def threshold_field(name: str) -> str:
    return f"threshold_{name}"


def _versions() -> list[dict]:
    """Every stored version, newest first within each name, with the shipped default if never stored."""
    # With no version activated, searches use the shipped default (relevance_service.active_profile).
    return listed_versions(RelevanceProfileRow, default_profile().to_dict(),
                           lambda body: {"description": body.get("description", "")})


def _list_page(viewer, form: dict, errors: dict | None = None, status: int | None = None):
    return render_template("relevance.html", viewer=viewer, versions=_versions(), form=form, errors=errors or {},
                           notice=session.pop("notice", None)), status or (400 if errors else 200)


@bp.get("")
def profiles():
    viewer, _ = require("manage_relevance")
    with sessions()() as db:
        active = relevance_service.active_profile(db)
    return _list_page(viewer, {"profile": f"{active.name}:{active.version}", "against": "", "judgments": ""})


@bp.post("/<name>/<int:version>/activate")
def activate(name: str, version: int):
    viewer, _ = require("manage_relevance")
    try:
        with sessions().begin() as db:
            profile = relevance_service.activate(db, name, version, audit.recorder_for(viewer))
    except ProfileError:
        raise Refused(404, f"there is no profile {name} version {version}", "not_found") from None
    session["notice"] = f"{profile.name} version {profile.version} is now used by every search."
    return redirect(url_for("relevance_admin.profiles"))


# --- editing -------------------------------------------------------------------------------------

def _form_of(profile) -> dict:
    form = {"name": profile.name, "description": profile.description}
    form.update({weight_field(n): number_text(v) for n, v in profile.weights.items()})
    form.update({threshold_field(n): number_text(v) for n, v in profile.thresholds.items()})
    return form


def _profile_from_form(form: dict) -> tuple[dict, dict]:
    """(profile data for save_profile, errors by field)."""
    errors: dict[str, list[str]] = {}
    weights, thresholds = {}, {}
    for name in WEIGHT_NAMES:
        weights[name], problem = parse_number(form[weight_field(name)], 0, MAX_WEIGHT)
        if problem:
            errors[weight_field(name)] = [problem]
    for name in THRESHOLD_NAMES:
        thresholds[name], problem = parse_number(form[threshold_field(name)], 0, 1, low_included=False)
        if problem:
            errors[threshold_field(name)] = [problem]
    if not any(threshold_field(n) in errors for n in ("minimum", "probable", "certain")) and not (
            thresholds["minimum"] <= thresholds["probable"] <= thresholds["certain"]):
        errors[threshold_field("probable")] = ["must be at least the minimum and at most the certain threshold"]
    if len(form["description"]) > MAX_DESCRIPTION:
        errors["description"] = [f"must be {MAX_DESCRIPTION} characters or fewer"]
    data = {"name": form["name"], "description": form["description"], "weights": weights, "thresholds": thresholds}
    return data, errors


def _field_of(message: str) -> str:
    """The form field a ProfileError message names ("weights.gender: ..." -> "weight_gender")."""
    where = message.partition(":")[0]
    group, _, name = where.partition(".")
    if group == "weights" and name in WEIGHT_NAMES:
        return weight_field(name)
    if group == "thresholds":
        return threshold_field(name if name in THRESHOLD_NAMES else "probable")
    return "name"


@bp.route("/<name>/<int:version>", methods=["GET", "POST"])
def edit(name: str, version: int):
    viewer, _ = require("manage_relevance")
    try:
        with sessions()() as db:
            base = relevance_service.get_profile(db, name, version)
    except ProfileError:
        raise Refused(404, f"there is no profile {name} version {version}", "not_found") from None
    errors: dict[str, list[str]] = {}
    form = _form_of(base)
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in form}
        data, errors = _profile_from_form(form)
        if not errors:
            try:
                with sessions().begin() as db:
                    saved = relevance_service.save_version(db, data, viewer.username, audit.recorder_for(viewer),
                                                           based_on=base)
            except ProfileError as exc:
                message = str(exc)
                errors = {_field_of(message): [message.partition(": ")[2] or message]}
            else:
                session["notice"] = (f"Saved {saved.name} version {saved.version}. It is not used by searches until "
                                     "you activate it: evaluate it first.")
                return redirect(url_for("relevance_admin.profiles"))
    return render_template("relevance_edit.html", viewer=viewer, base=base, form=form, errors=errors,
                           weight_groups=[(label, GROUPS[group]) for group, label in WEIGHT_GROUPS],
                           weight_labels=WEIGHT_LABELS, threshold_names=THRESHOLD_NAMES,
                           threshold_labels=THRESHOLD_LABELS, max_weight=MAX_WEIGHT, notice=None), \
        400 if errors else 200


# --- evaluation and comparison --------------------------------------------------------------------

def _judgments(text: str, errors: dict) -> tuple[Path | None, list]:
    if not text:
        errors["judgments"] = ["enter the path of a judgment set (a .jsonl file) on the server"]
        return None, []
    path = Path(text)
    if path.suffix != ".jsonl":
        errors["judgments"] = ["must name a JSON Lines file ending .jsonl"]
        return None, []
    if not path.exists():
        errors["judgments"] = [f"there is no file {text} on the server"]
        return None, []
    if not path.is_file():
        errors["judgments"] = [f"{text} is not a file"]
        return None, []
    try:
        judgments = read_judgments(path)
    except OSError as exc:
        errors["judgments"] = [f"{text} cannot be read: {exc.strerror or exc}"]
        return None, []
    except ValueError as exc:  # names the line and field
        errors["judgments"] = [str(exc)]
        return None, []
    if not judgments:
        errors["judgments"] = [f"{text} holds no judgments"]
        return None, []
    return path, judgments


def _rank_text(rank: int | None) -> str:
    return "miss" if rank is None else str(rank)


def _changes(items, synthetic: bool) -> dict:
    """Changed queries as the page lists them: what was searched for only when every child is synthetic."""
    shown = [{"id": j.id, "criteria": j.criteria if synthetic else None,
              "corruptions": ", ".join(j.corruptions) or "none", "a": a, "b": b} for j, a, b in items]
    return {"total": len(items), "shown": shown[:MAX_REGRESSIONS_LISTED]}


@bp.post("/evaluate")
def evaluation():
    viewer, _ = require("manage_relevance")
    form = {key: request.form.get(key, "").strip() for key in ("profile", "against", "judgments")}
    errors: dict[str, list[str]] = {}
    profiles = chosen_versions(form, "profile", "profile", errors, relevance_service.get_profile, (ProfileError,))
    path, judgments = _judgments(form["judgments"], errors)
    if errors:
        return _list_page(viewer, form, errors)
    try:
        evaluation = relevance_service.evaluate_profiles(es_client(), current_app.config["SETTINGS"], sessions(),
                                                         profiles, judgments, str(path), audit.recorder_for(viewer))
    except (EngineError, ApiError, TransportError) as exc:
        current_app.logger.warning("relevance evaluation failed: %s", exc)
        return _list_page(viewer, form, {"evaluation": [
            f"the search engine could not run the queries ({type(exc).__name__}): check the index status"]}, 503)
    reports, synthetic = evaluation.reports, evaluation.synthetic
    rows = [metric_row(display, [getattr(r.metrics, name) for r in reports], whole=name == "queries")
            for name, display in METRIC_NAMES]
    worse = better = None
    if len(reports) == 2:
        before, after = reports[0].outcomes, reports[1].outcomes
        worse = _changes(regressions(before, after), synthetic)
        # Worse in the first means better in the second: (judgment, rank in second, rank in first).
        better = _changes([(j, a, b) for j, b, a in regressions(after, before)], synthetic)
    return render_template("relevance_compare.html", viewer=viewer, labels_of=[r.label for r in reports],
                           rows=rows, worse=worse, better=better, judgments=str(path), queries=len(judgments),
                           synthetic=synthetic, rank_text=_rank_text, form=form, errors={}, notice=None)
