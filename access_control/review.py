"""Reading the audit trail back: filtered event lists and the unusual-usage report.

A local authority team sees events by its own users, views of its own children, linkage decisions, merges
and unmerges touching its children (either of the two) and searches that found its shielded children;
auditors and national administrators see everything. Every list is paged: there is no unbounded read.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from .audit import AUTHORITY_KEYS
from .models import AuditEvent, AuditSubject

PAGE_SIZE = 50
MAX_REPORT_DAYS = 31
BASELINE_DAYS = 28
LONDON = ZoneInfo("Europe/London")
ACCESS_ACTIONS = ("search", "record_view")


@dataclass(frozen=True)
class UsageRules:
    spike_factor: float = 3.0     # a day this many times the user's own daily average...
    spike_minimum: int = 20       # ...and at least this many accesses
    out_of_area_minimum: int = 10  # views of other authorities' children in one day
    working_hours: tuple[int, int] = (7, 20)  # local time; outside these, or at weekends, is flagged


def _about(kinds: tuple[str, ...], value: str):
    """Events whose details name this child or authority, through the review index (access_control.audit.subjects)."""
    return AuditEvent.seq.in_(select(AuditSubject.seq).where(AuditSubject.kind.in_(kinds), AuditSubject.value == value))


def _scoped(query, scope_la: str | None):
    # An authority is named by its users (actor_la) and its children (child_la; other_child_la is the second
    # child of a linkage decision, merge or unmerge), at any depth (a search's shielded_returned).
    return query if scope_la is None else query.where(_about(AUTHORITY_KEYS, scope_la))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


@dataclass
class EventFilter:
    user: str | None = None
    cp_id: str | None = None
    organisation: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = 1


def find_events(session: Session, scope_la: str | None, f: EventFilter) -> tuple[list[AuditEvent], bool]:
    """One page of events, newest first, and whether there is another page."""
    query = _scoped(select(AuditEvent), scope_la)
    if f.user:
        query = query.where(AuditEvent.actor == f.user)
    if f.organisation:
        query = query.where(AuditEvent.organisation == f.organisation)
    if f.cp_id:
        query = query.where(_about(("child",), f.cp_id))
    if f.date_from:
        query = query.where(AuditEvent.occurred_at >= _day_start(f.date_from))
    if f.date_to:
        query = query.where(AuditEvent.occurred_at < _day_start(f.date_to + dt.timedelta(days=1)))
    rows = list(session.scalars(query.order_by(AuditEvent.seq.desc())
                                .offset((max(f.page, 1) - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def _shielded_found(summary: dict, details: dict, scope_la: str | None) -> list[dict]:
    """A search's shielded results, one entry each: for an LA team, those of its children or found by its users."""
    return [{**summary, "cp_id": found.get("cp_id"), "access": "found by search"}
            for found in details.get("shielded_returned") or []
            if scope_la is None or scope_la in (details.get("actor_la"), found.get("child_la"))]


@dataclass
class UsageReport:
    start: dt.date
    end: dt.date
    spikes: list[dict] = field(default_factory=list)
    shielded_views: list[dict] = field(default_factory=list)
    out_of_area: list[dict] = field(default_factory=list)
    out_of_hours: list[dict] = field(default_factory=list)


def _local_midnight(day: dt.date) -> dt.datetime:
    # In UTC: SQLite compares stored timestamps by their UTC fields, whatever the zone of the bound value.
    return dt.datetime.combine(day, dt.time.min, tzinfo=LONDON).astimezone(dt.timezone.utc)


def _utc_hour(session: Session):
    """An event's hour as hours since the epoch: a London day is whole UTC hours, so counting by hour in the
    database and adding the hours up by local day in Python gives per-day counts from a few rows."""
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(func.extract("epoch", AuditEvent.occurred_at) / 3600).cast(Integer)
    return cast(func.strftime("%s", AuditEvent.occurred_at), Integer) // 3600


def _local(hour: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(hour) * 3600, tz=dt.timezone.utc).astimezone(LONDON)


def _out_of_hours(start: dt.date, end: dt.date, rules: UsageRules):
    """The stretches of the report's days outside working hours (nights, and weekends whole), as a condition."""
    opens, closes = rules.working_hours
    stretches, day = [], start
    while day <= end:
        midnight = dt.datetime.combine(day, dt.time.min, tzinfo=LONDON)
        if day.weekday() >= 5:
            stretches.append((midnight, midnight + dt.timedelta(days=1)))
        else:
            stretches += [(midnight, midnight.replace(hour=opens)), (midnight.replace(hour=closes),
                                                                   midnight + dt.timedelta(days=1))]
        day += dt.timedelta(days=1)
    return or_(*(and_(AuditEvent.occurred_at >= a.astimezone(dt.timezone.utc),
                      AuditEvent.occurred_at < b.astimezone(dt.timezone.utc)) for a, b in stretches))


def unusual_usage(session: Session, scope_la: str | None, start: dt.date, end: dt.date,
                  rules: UsageRules = UsageRules()) -> UsageReport:
    """Accesses between ``start`` and ``end`` (inclusive, London days) that deserve a second look.

    Counting happens in the database (per user and hour, through the indexes on time and on
    ``audit_subjects``); only the events the report lists are read whole."""
    if end < start:
        raise ValueError("the report's end date is before its start date")
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        raise ValueError(f"a report covers at most {MAX_REPORT_DAYS} days")
    begins, ends = _local_midnight(start), _local_midnight(end + dt.timedelta(days=1))
    accesses = AuditEvent.action.in_(ACCESS_ACTIONS)
    in_window = and_(AuditEvent.occurred_at >= begins, AuditEvent.occurred_at < ends)
    report = UsageReport(start, end)

    baseline = dict(session.execute(_scoped(select(AuditEvent.actor, func.count()).where(
        accesses, AuditEvent.occurred_at >= _local_midnight(start - dt.timedelta(days=BASELINE_DAYS)),
        AuditEvent.occurred_at < begins), scope_la).group_by(AuditEvent.actor)).all())
    hour = _utc_hour(session)
    daily: Counter = Counter()
    for actor, at, count in session.execute(_scoped(select(AuditEvent.actor, hour, func.count()).where(
            accesses, in_window), scope_la).group_by(AuditEvent.actor, hour)):
        daily[(actor, _local(at).date())] += count
    for (actor, day), count in sorted(daily.items()):
        norm = baseline.get(actor, 0) / BASELINE_DAYS
        if count >= rules.spike_minimum and count >= rules.spike_factor * norm:
            report.spikes.append({"actor": actor, "day": day.isoformat(), "count": count,
                                  "usual_per_day": round(norm, 1)})

    user_la, child_la = aliased(AuditSubject), aliased(AuditSubject)
    out_of_area: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    views_elsewhere = _scoped(
        select(AuditEvent.actor, hour, child_la.value, func.count())
        .join(user_la, and_(user_la.seq == AuditEvent.seq, user_la.kind == "actor_la"))
        .join(child_la, and_(child_la.seq == AuditEvent.seq, child_la.kind == "child_la"))
        .where(AuditEvent.action == "record_view", in_window, user_la.value != child_la.value), scope_la)
    for actor, at, authority, count in session.execute(views_elsewhere.group_by(AuditEvent.actor, hour,
                                                                                child_la.value)):
        out_of_area[(actor, _local(at).date())] += [authority] * count
    for (actor, day), authorities in sorted(out_of_area.items()):
        if len(authorities) >= rules.out_of_area_minimum:
            report.out_of_area.append({"actor": actor, "day": day.isoformat(), "count": len(authorities),
                                       "authorities": sorted(set(authorities))})

    shielded = AuditEvent.seq.in_(select(AuditSubject.seq).where(AuditSubject.kind == "shielded"))
    listed = _scoped(select(AuditEvent).where(accesses, in_window, or_(shielded, _out_of_hours(start, end, rules))),
                     scope_la).order_by(AuditEvent.seq)
    opens, closes = rules.working_hours
    for event in session.scalars(listed).yield_per(1000):
        local = event.occurred_at.astimezone(LONDON)
        details = json.loads(event.details)
        summary = {"seq": event.seq, "actor": event.actor, "organisation": event.organisation,
                   "action": event.action, "when": local.strftime("%Y-%m-%d %H:%M"),
                   "cp_id": details.get("cp_id"), "on_behalf_of": details.get("on_behalf_of")}
        if event.action == "search":
            report.shielded_views += _shielded_found(summary, details, scope_la)
        elif details.get("shielded"):
            report.shielded_views.append({**summary, "access": details.get("access")})
        if local.weekday() >= 5 or not opens <= local.hour < closes:
            report.out_of_hours.append(summary)
    return report
