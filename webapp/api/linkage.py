"""JSON API for record linkage review: the queue, an item, decisions, merge and unmerge.

For people only -- LA management teams (items and children touching their authority) and national
administrators -- signed in, with the CSRF token as for every session call. API clients (case-management
systems) may not: deciding that two records are one child is a person's call, so they get 403.
"""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import ValidationError

from ..auth import Refused, require
from ..review_service import (
    LinkageConflict, ReviewItemNotFound, decide, merge_children, review_item, review_queue, unmerge_child,
)
from ..schemas import MergeSchema, ReviewDecisionSchema, ReviewQueueSchema
from .views import _json_body, bp, error_body


@bp.errorhandler(LinkageConflict)
def conflict(exc: LinkageConflict):
    return error_body(409, str(exc))


@bp.errorhandler(ReviewItemNotFound)
def no_such_item(exc: ReviewItemNotFound):
    return error_body(404, "there is no review item with that id")


@bp.get("/linkage/review")
def linkage_queue():
    """The linkage review queue.
    ---
    get:
      operationId: linkageReviewQueue
      summary: Open linkage review items the caller decides
      description: >-
        Items whose new child or any candidate belongs to the caller's local authority (national
        administrators: all), 25 a page, with ContactPoint IDs and authorities only: names are on the
        item. For LA management teams and national administrators signed in (with X-CSRFToken); API
        clients get 403.
      parameters:
      - in: query
        schema: ReviewQueueSchema
      responses:
        200:
          description: One page of the queue
          content:
            application/json:
              schema: ReviewQueue
    """
    viewer, _ = require("review_linkage")
    try:
        page = ReviewQueueSchema().load(request.args.to_dict())["page"]
    except ValidationError as exc:
        raise Refused(400, "the request is not valid", "invalid_input", exc.messages) from None
    items, more = review_queue(viewer, page, channel="api")
    return jsonify({"items": items, "page": page, "more": more})


@bp.get("/linkage/review/<int:item_id>")
def linkage_item(item_id: int):
    """One linkage review item, both records side by side.
    ---
    get:
      operationId: linkageReviewItem
      summary: A review item with its candidates and each field's level and weight
      description: >-
        Each child as the caller may see it: a shielded child of another authority is redacted (no
        address or identifiers), and for such a pair the level and weight of every location field, and
        the total, are withheld. Reading an item is audited as a view of every child on it.
      responses:
        200:
          description: The item
          content:
            application/json:
              schema: ReviewItem
        404: NotFound
    """
    viewer, _ = require("review_linkage")
    return jsonify(review_item(viewer, item_id, channel="api"))


@bp.post("/linkage/review/<int:item_id>/decision")
def linkage_decision(item_id: int):
    """Decide a linkage review item.
    ---
    post:
      operationId: decideLinkageReviewItem
      summary: Same child (merge), different children, or skip
      description: >-
        `expected_version` is the item's version as read; when someone else decided it since, the
        answer is 409 and nothing changes. Every decision is audited.
      requestBody:
        required: true
        content:
          application/json:
            schema: ReviewDecision
      responses:
        200:
          description: The item after the decision
          content:
            application/json:
              schema: ReviewDecisionOutcome
        404: NotFound
        409: Conflict
    """
    viewer, _ = require("review_linkage")
    data = _json_body(ReviewDecisionSchema())
    return jsonify(decide(viewer, item_id, data["decision"], data["expected_version"], data.get("candidate_cp_id"),
                          channel="api"))


@bp.post("/children/<cp_id>/merge")
def merge(cp_id: str):
    """Merge two children found to be one.
    ---
    post:
      operationId: mergeChildren
      summary: Merge this child with another (the older ContactPoint ID survives)
      description: >-
        For national administrators, and LA management teams when either child is their
        authority's (403 otherwise). The newer record becomes `merged` and its ID leads to the
        survivor; a child merged already, or not active, is a 409; merging a child with itself a 400.
      requestBody:
        required: true
        content:
          application/json:
            schema: Merge
      responses:
        200:
          description: Which child survived and which was merged into it
          content:
            application/json:
              schema: MergeOutcome
        404: NotFound
        409: Conflict
    """
    viewer, _ = require("merge_children")
    data = _json_body(MergeSchema())
    return jsonify(merge_children(viewer, cp_id, data["other_cp_id"], channel="api"))


@bp.post("/children/<cp_id>/unmerge")
def unmerge(cp_id: str):
    """Undo a merge.
    ---
    post:
      operationId: unmergeChild
      summary: Unmerge a merged child (its own ContactPoint ID) from the child it was merged into
      description: >-
        Both children get back their own source records, names, carers and services, and the
        shielding each had. A child that is not merged is a 409. No request body.
      responses:
        200:
          description: The merge, undone
          content:
            application/json:
              schema: MergeOutcome
        404: NotFound
        409: Conflict
    """
    viewer, _ = require("merge_children")
    if request.get_data():
        raise Refused(400, "this call takes no request body", "invalid_input", {"_schema": ["must be empty"]})
    return jsonify(unmerge_child(viewer, cp_id, channel="api"))

