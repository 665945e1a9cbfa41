"""Record linkage review pages: the queue, an item (both records side by side, the weights field by field, the
decision), and merging or unmerging children from a record page. LA management teams and national
administrators; the rules and the audit trail are in webapp/review_service.py."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from access_control import InvalidInput, NotAllowed

from ..auth import Refused, require
from ..review_service import (
    LinkageConflict, ReviewItemNotFound, decide, merge_children, review_item, review_queue, unmerge_child,
)
from ..services import RecordNotFound

bp = Blueprint("linkage_review", __name__, url_prefix="/admin/linkage")

CHOICES = {"different": "Different children", "skip": "Skip: leave it for someone else"}


def _page_number() -> int:
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 10_000:
        raise Refused(400, "page must be a number from 1", "invalid_input", {"page": ["must be a number from 1"]})
    return int(page)


@bp.get("/review")
def queue():
    viewer, _ = require("review_linkage")
    page = _page_number()
    try:
        items, more = review_queue(viewer, page, channel="page")
    except NotAllowed as exc:
        raise Refused(403, str(exc), "not_allowed") from None
    return render_template("linkage_queue.html", viewer=viewer, items=items, page=page, more=more,
                           notice=session.pop("notice", None))


def _item_page(viewer, item_id: int, status: int = 200, errors: dict | None = None, chosen: str = ""):
    try:
        item = review_item(viewer, item_id, channel="page")
    except NotAllowed as exc:
        raise Refused(403, str(exc), "not_allowed") from None
    except ReviewItemNotFound:
        raise Refused(404, "There is no review item with that number.", "not_found") from None
    return render_template("linkage_item.html", viewer=viewer, item=item, errors=errors or {}, chosen=chosen,
                           choices=CHOICES, notice=session.pop("notice", None)), status


@bp.get("/review/<int:item_id>")
def item(item_id: int):
    viewer, _ = require("review_linkage")
    return _item_page(viewer, item_id)


@bp.post("/review/<int:item_id>")
def decision(item_id: int):
    """The decision form: "merge:<cp_id>" (same child as that candidate), "different" or "skip"."""
    viewer, _ = require("review_linkage")
    chosen = request.form.get("decision", "")
    kind, _, candidate = chosen.partition(":")
    version = request.form.get("expected_version", "")
    if kind not in ("merge", "different", "skip") or (kind == "merge") != bool(candidate):
        return _item_page(viewer, item_id, 400, {"decision": ["choose whether these are the same child"]}, chosen)
    if not version.isdigit():
        raise Refused(400, "the form is out of date: open the item again", "invalid_input",
                      {"expected_version": ["must be a number"]})
    try:
        outcome = decide(viewer, item_id, kind, int(version), candidate or None, channel="page")
    except LinkageConflict:
        session["notice"] = "Someone else decided this item since you opened it. Here it is as it is now."
        return _item_page(viewer, item_id, 409)
    except InvalidInput as exc:
        return _item_page(viewer, item_id, 400, {exc.field: [exc.message]}, chosen)
    except NotAllowed as exc:
        raise Refused(403, str(exc), "not_allowed") from None
    except ReviewItemNotFound:
        raise Refused(404, "There is no review item with that number.", "not_found") from None
    session["notice"] = _decided(outcome)
    return redirect(url_for("linkage_review.queue"))


def _decided(outcome: dict) -> str:
    if outcome["decision"] == "merge":
        merged = outcome["cp_id"] if outcome["survivor_cp_id"] != outcome["cp_id"] else outcome["other_cp_id"]
        return f"Item {outcome['id']}: {merged} was merged into {outcome['survivor_cp_id']}."
    if outcome["decision"] == "different":
        return f"Item {outcome['id']}: recorded as different children. They will not be proposed again."
    return f"Item {outcome['id']} skipped."


def _refusal(exc: Exception):
    """A merge or unmerge the registry or the rules refuse: the status and a message a person can act on."""
    if isinstance(exc, InvalidInput):
        return Refused(400, exc.message, "invalid_input", {exc.field: [exc.message]})
    if isinstance(exc, NotAllowed):
        return Refused(403, str(exc), "not_allowed")
    if isinstance(exc, RecordNotFound):
        return Refused(404, "There is no record with that ContactPoint ID.", "not_found")
    return Refused(409, str(exc), "conflict")


@bp.post("/children/<cp_id>/merge")
def merge(cp_id: str):
    viewer, _ = require("merge_children")
    try:
        done = merge_children(viewer, cp_id, request.form.get("other_cp_id", "").strip(), channel="page")
    except (InvalidInput, NotAllowed, RecordNotFound, LinkageConflict) as exc:
        raise _refusal(exc) from None
    return render_template("done.html", viewer=viewer, cp_id=done["survivor_cp_id"], notice=None,
                           title="Records merged",
                           message=f"{done['merged_cp_id']} was merged into {done['survivor_cp_id']}. Its ID now "
                                   f"leads to {done['survivor_cp_id']}; unmerge it from that record if this was "
                                   "a mistake.")


@bp.post("/children/<cp_id>/unmerge")
def unmerge(cp_id: str):
    viewer, _ = require("merge_children")
    try:
        done = unmerge_child(viewer, cp_id, channel="page")
    except (InvalidInput, NotAllowed, RecordNotFound, LinkageConflict) as exc:
        raise _refusal(exc) from None
    return render_template("done.html", viewer=viewer, cp_id=done["merged_cp_id"], notice=None,
                           title="Merge undone",
                           message=f"{done['merged_cp_id']} and {done['survivor_cp_id']} are separate records "
                                   "again, each with what was its own.")
