"""Reading the audit trail back: scoped filters, the unusual-usage report and the review pages."""
import datetime as dt
import json

import pytest
from sqlalchemy import event, select, update

from access_control import Viewer, audit
from access_control.models import AuditEvent
from access_control.review import EventFilter, UsageRules, find_events, unusual_usage
import webapp.pages.search

from ..support.accounts import add_user, csrf_token, sign_in
from .helpers import add_child

REPORT_DAY = dt.date(2026, 11, 18)  # a Wednesday
LONDON_NOON = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.timezone.utc)  # GMT in November


def _viewer(name, la):
    return Viewer(username=name, display_name=name, role="practitioner", organisation="HV", la_code=la)


def _event(sessions, viewer, action, when, **details):
    with sessions.begin() as session:
        seq = audit.record(session, viewer, action, details).seq
        session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(occurred_at=when))


def test_an_la_team_sees_its_own_users_and_views_of_its_own_children_only(sessions):
    ours, theirs = _viewer("ours", "E09000001"), _viewer("theirs", "E09000002")
    _event(sessions, ours, "search", LONDON_NOON, returned=[])
    _event(sessions, theirs, "record_view", LONDON_NOON, cp_id="1000000001", child_la="E09000001")
    _event(sessions, theirs, "record_view", LONDON_NOON, cp_id="1000000002", child_la="E09000002")
    with sessions() as session:
        scoped, more = find_events(session, "E09000001", EventFilter())
        assert [e.actor for e in scoped] == ["theirs", "ours"] and not more
        assert len(find_events(session, None, EventFilter())[0]) == 3
        assert [json.loads(e.details)["cp_id"] for e in find_events(session, None, EventFilter(cp_id="1000000002"))[0]] \
            == ["1000000002"]
        assert [e.actor for e in find_events(session, None, EventFilter(user="ours"))[0]] == ["ours"]
        assert find_events(session, None, EventFilter(date_from=REPORT_DAY + dt.timedelta(days=1)))[0] == []
        assert len(find_events(session, None, EventFilter(date_from=REPORT_DAY, date_to=REPORT_DAY))[0]) == 3


def test_the_unusual_usage_report_flags_spikes_shielded_views_out_of_area_and_out_of_hours(sessions):
    busy, steady, roamer = _viewer("busy", "E09000001"), _viewer("steady", "E09000001"), _viewer("roamer", "E09000001")
    for day in range(1, 29):  # a usual day: one search each
        for viewer in (busy, steady):
            _event(sessions, viewer, "search", LONDON_NOON - dt.timedelta(days=day))
    for minute in range(25):
        _event(sessions, busy, "search", LONDON_NOON + dt.timedelta(minutes=minute))
    for minute in range(3):
        _event(sessions, steady, "search", LONDON_NOON + dt.timedelta(minutes=minute))
    for minute in range(10):
        _event(sessions, roamer, "record_view", LONDON_NOON + dt.timedelta(minutes=minute), cp_id=f"10000000{minute:02d}",
               child_la="E09000002", shielded=minute == 0, access="shielded_redacted")
    _event(sessions, steady, "record_view", dt.datetime(2026, 11, 18, 23, 30, tzinfo=dt.timezone.utc),
           cp_id="2000000000", child_la="E09000001")
    with sessions() as session:
        report = unusual_usage(session, None, REPORT_DAY, REPORT_DAY, UsageRules())
        scoped = unusual_usage(session, "E09000002", REPORT_DAY, REPORT_DAY, UsageRules())
    assert report.spikes == [{"actor": "busy", "day": "2026-11-18", "count": 25, "usual_per_day": 1.0}]
    assert [(v["actor"], v["cp_id"], v["access"]) for v in report.shielded_views] == \
        [("roamer", "1000000000", "shielded_redacted")]
    assert report.out_of_area == [{"actor": "roamer", "day": "2026-11-18", "count": 10, "authorities": ["E09000002"]}]
    assert [(e["actor"], e["when"]) for e in report.out_of_hours] == [("steady", "2026-11-18 23:30")]
    assert [v["actor"] for v in scoped.shielded_views] == ["roamer"] and scoped.spikes == []
    with pytest.raises(ValueError):
        unusual_usage(session, None, REPORT_DAY, REPORT_DAY - dt.timedelta(days=1))


def test_the_unusual_usage_report_counts_in_the_database_and_reads_only_the_events_it_lists(sessions):
    busy, night = _viewer("busy", "E09000001"), _viewer("night", "E09000001")
    with sessions.begin() as session:  # a working day's ordinary searches: counted, never read whole
        for minute in range(120):
            seq = audit.record(session, busy, "search", {"returned": []}).seq
            session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(
                occurred_at=LONDON_NOON + dt.timedelta(minutes=minute)))
    _event(sessions, night, "record_view", dt.datetime(2026, 11, 18, 22, 15, tzinfo=dt.timezone.utc),
           cp_id="1000000001", child_la="E09000001")
    _event(sessions, night, "record_view", LONDON_NOON, cp_id="1000000027", child_la="E09000001", shielded=True,
           access="shielded_redacted")
    read = []

    def loaded(target, _context):
        read.append(target.actor)

    event.listen(AuditEvent, "load", loaded)
    try:
        with sessions() as session:
            report = unusual_usage(session, None, REPORT_DAY, REPORT_DAY, UsageRules(spike_minimum=100))
    finally:
        event.remove(AuditEvent, "load", loaded)
    assert report.spikes == [{"actor": "busy", "day": "2026-11-18", "count": 120, "usual_per_day": 0.0}]
    assert [(e["actor"], e["when"]) for e in report.out_of_hours] == [("night", "2026-11-18 22:15")]
    assert [(v["actor"], v["cp_id"]) for v in report.shielded_views] == [("night", "1000000027")]
    assert read == ["night", "night"]  # the two listed events, not the 120 it only counted


def test_the_review_pages_show_events_to_an_auditor_and_record_the_review(anonymous, sessions):
    add_child(sessions, given="Amara", family="Okafor")
    _event(sessions, _viewer("pat.jones", "E09000001"), "search", LONDON_NOON, returned=["1234567881"])
    sign_in(anonymous, sessions, add_user(sessions, "audrey.auditor", role="auditor", la_code=None))
    page = anonymous.get("/audit?user=pat.jones")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "pat.jones" in html and "1234567881" in html
    assert anonymous.get("/audit?date_from=yesterday").status_code == 400
    report = anonymous.get(f"/audit/unusual?date_from={REPORT_DAY}&date_to={REPORT_DAY}")
    assert report.status_code == 200 and "Out-of-hours access" in report.get_data(as_text=True)
    assert anonymous.get("/audit/unusual?date_from=2026-01-01&date_to=2026-12-31").status_code == 400
    with sessions() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "audrey.auditor")).all()
    assert actions == ["login", "audit_reviewed", "request_refused", "unusual_usage_reviewed", "request_refused"]


def test_a_record_view_stays_on_record_when_the_page_then_fails(anonymous, sessions, app, monkeypatch):
    cp_id = add_child(sessions, given="Amara", family="Okafor")
    sign_in(anonymous, sessions, add_user(sessions, "pat.jones"))
    token = csrf_token(anonymous, f"/children/{cp_id}")
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(template, **context):
        raise RuntimeError("the page failed after the record was read")
    monkeypatch.setattr(webapp.pages.search, "render_template", broken)
    response = anonymous.post(f"/children/{cp_id}", data={"purpose": "safeguarding_concern", "csrf_token": token})
    assert response.status_code == 500
    with sessions() as session:
        views = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "record_view")).all()
    assert [(json.loads(v)["cp_id"], json.loads(v)["purpose"]) for v in views] == [(cp_id, "safeguarding_concern")]
