"""Audit review pages: the filtered event list and the unusual-usage report (reviewing is audited too)."""
from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, render_template, request

from access_control import allowed, audit
from access_control.review import PAGE_SIZE, EventFilter, find_events, unusual_usage
from analyzers import clock
from analyzers.dates import parse_iso_date
from registry import cpid

from ..auth import Refused, require
from ..extensions import sessions

bp = Blueprint("review", __name__, url_prefix="/audit")


def _date(name: str, default: dt.date | None = None) -> dt.date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        return parse_iso_date(text)
    except ValueError:
        raise Refused(400, f"{name.replace('_', ' ')} must be a date such as 2026-11-21", "invalid_input",
                      {name: ["must be a date such as 2026-11-21"]}) from None


def _scope(viewer) -> str | None:
    """None means every authority: auditors and national administrators."""
    if not allowed(viewer.role, "review_every_authority"):
        if not viewer.la_code:
            raise Refused(403, "your account is not linked to a local authority", "no_local_authority")
        return viewer.la_code
    return None


@bp.get("")
def events():
    viewer, _ = require("review_audit")
    page = request.args.get("page", "1")
    child = request.args.get("child", "").strip()
    if child and not cpid.is_valid(cpid.normalise(child)):
        raise Refused(400, "child must be a ContactPoint ID", "invalid_input", {"child": ["must be a ContactPoint ID"]})
    if not page.isdigit() or not 1 <= int(page) <= 10_000:
        raise Refused(400, "page must be a number from 1", "invalid_input", {"page": ["must be a number from 1"]})
    filters = EventFilter(user=request.args.get("user", "").strip().lower() or None,
                          cp_id=cpid.normalise(child) if child else None,
                          organisation=request.args.get("organisation", "").strip() or None,
                          date_from=_date("date_from"), date_to=_date("date_to"), page=int(page))
    scope = _scope(viewer)
    with sessions().begin() as db:
        rows, more = find_events(db, scope, filters)
        shown = [{"seq": e.seq, "occurred_at": e.occurred_at, "actor": e.actor, "organisation": e.organisation,
                  "action": e.action, "details": json.loads(e.details)} for e in rows]
        audit.record(db, viewer, "audit_reviewed", {"scope": scope or "all", "filters": {
            k: v for k, v in vars(filters).items() if v}})
    return render_template("audit.html", viewer=viewer, events=shown, more=more, filters=filters, scope=scope,
                           args=request.args.to_dict(), page_size=PAGE_SIZE, errors={})


@bp.get("/unusual")
def unusual():
    viewer, _ = require("review_audit")
    today = clock.today()
    start, end = _date("date_from", today - dt.timedelta(days=6)), _date("date_to", today)
    scope = _scope(viewer)
    with sessions().begin() as db:
        try:
            report = unusual_usage(db, scope, start, end)
        except ValueError as exc:
            raise Refused(400, str(exc), "invalid_input", {"date_to": [str(exc)]}) from None
        audit.record(db, viewer, "unusual_usage_reviewed", {"scope": scope or "all", "from": start, "to": end})
    return render_template("unusual.html", viewer=viewer, report=report, scope=scope)
