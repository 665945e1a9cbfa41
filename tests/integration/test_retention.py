"""Record retention: archive at 18, purge after the retention period, on SQLite and PostgreSQL."""
import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from access_control import audit
from access_control.models import AuditEvent
from indexing import rebuild, sync_until_current
from registry import retention, writes
from registry.models import (
    Carer, ChangeLog, Child, ChildName, Involvement, SourceRecord,
)
from webapp.config import Settings

from .helpers import ALIAS, CHECKPOINT, add_child, change_child, years_ago

D = dt.date


# --- helpers ----------------------------------------------------------------------------

def _status(sessions, cp_id):
    with sessions() as session:
        return session.scalar(select(Child.status).where(Child.cp_id == cp_id))


def _set_status(sessions, cp_id, status, merged_into=None):
    def act(session, child):
        child.status = status
        if merged_into:
            child.merged_into_id = session.scalar(select(Child.id).where(Child.cp_id == merged_into))
        writes.log_change(session, child, status)
    change_child(sessions, cp_id, act)


def _child_id(sessions, cp_id):
    with sessions() as session:
        return session.scalar(select(Child.id).where(Child.cp_id == cp_id))


def _changes(sessions, change=None):
    """(cp_id, change) of every change-log row, oldest first (only ``change`` when given)."""
    query = select(ChangeLog.cp_id, ChangeLog.change).order_by(ChangeLog.seq)
    if change:
        query = query.where(ChangeLog.change == change)
    with sessions() as session:
        return [tuple(row) for row in session.execute(query)]


def _audit_events(sessions):
    with sessions() as session:
        return [(e.actor, e.action, json.loads(e.details))
                for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


def _archive(sessions, today):
    with sessions.begin() as session:
        return retention.archive_adults(session, today)


def _purge(sessions, today, years=6):
    with sessions.begin() as session:
        return retention.purge_expired(session, today, years)


def _add_details(sessions, cp_id, key):
    """A source record with the alias, carer and involvement it contributed, plus a carer of its own."""
    with sessions.begin() as session:
        child = session.scalar(select(Child).where(Child.cp_id == cp_id))
        record = SourceRecord(source="school-census", source_record_id=key, child_id=child.id,
                              content_hash="0" * 64, payload={"source_record_id": key})
        session.add(record)
        session.flush()
        school = writes.get_or_create_organisation(session, "school", f"SCH{key}", "Park Primary")
        writes.add_name(session, child, "source", "Amy", "Bello", source_record=record)
        writes.add_carer(session, child, source_record=record, given_name="Grace", family_name="Okafor",
                         relationship_to_child="mother", parental_responsibility=True)
        writes.add_carer(session, child, given_name="Femi", family_name="Okafor", relationship_to_child="father")
        writes.add_involvement(session, child, school, source_record=record, role="school",
                               start_date=child.date_of_birth.replace(year=child.date_of_birth.year + 5))


def _rows_of(sessions, child_id):
    """How many rows each child table holds for ``child_id``."""
    with sessions() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model)
                                               .where((model.id if model is Child else model.child_id) == child_id))
                for model in (Child, ChildName, Carer, Involvement, SourceRecord)}


# --- birthdays (no database) ----------------------------------------------------------------

@pytest.mark.parametrize("dob, expected", [
    (D(2008, 6, 15), D(2026, 6, 15)),
    (D(2008, 2, 29), D(2026, 3, 1)),    # no 29 February in 2026
    (D(2010, 2, 28), D(2028, 2, 28)),
    (D(2010, 3, 1), D(2028, 3, 1)),
    (D(2008, 12, 31), D(2026, 12, 31)),
])
def test_eighteenth_birthday(dob, expected):
    assert retention.eighteenth_birthday(dob) == expected


@pytest.mark.parametrize("value, error", [
    ("0", "CONTACTPOINT_RETENTION_YEARS must be between 1 and 100, got 0"),
    ("101", "CONTACTPOINT_RETENTION_YEARS must be between 1 and 100, got 101"),
    ("six", "CONTACTPOINT_RETENTION_YEARS must be a whole number, got 'six'"),
    ("2.5", "CONTACTPOINT_RETENTION_YEARS must be a whole number, got '2.5'"),
])
def test_retention_years_setting_is_validated(value, error):
    assert Settings.from_env({}).retention_years == 6
    assert Settings.from_env({"CONTACTPOINT_RETENTION_YEARS": "25"}).retention_years == 25
    with pytest.raises(ValueError) as raised:
        Settings.from_env({"CONTACTPOINT_RETENTION_YEARS": value})
    assert str(raised.value) == error


# --- archiving ------------------------------------------------------------------------------

def test_a_child_is_archived_on_the_18th_birthday_not_the_day_before(sessions):
    adult = add_child(sessions, given="Amara", dob=D(2008, 6, 15))
    younger = add_child(sessions, given="Kwame", dob=D(2008, 6, 16))
    assert _archive(sessions, D(2026, 6, 14)) == []
    assert (_status(sessions, adult), _status(sessions, younger)) == ("active", "active")
    assert _changes(sessions, "archived") == []

    assert _archive(sessions, D(2026, 6, 15)) == [adult]
    assert (_status(sessions, adult), _status(sessions, younger)) == ("archived", "active")
    assert _changes(sessions, "archived") == [(adult, "archived")]
    # Already archived: the next day's run does not archive (or log) it again.
    assert _archive(sessions, D(2026, 6, 16)) == [younger]
    assert _changes(sessions, "archived") == [(adult, "archived"), (younger, "archived")]


def test_a_29_february_birthday_is_archived_on_1_march_in_a_non_leap_year(sessions):
    leapling = add_child(sessions, dob=D(2008, 2, 29))
    assert _archive(sessions, D(2026, 2, 28)) == []
    assert _status(sessions, leapling) == "active"
    assert _archive(sessions, D(2026, 3, 1)) == [leapling]
    assert _status(sessions, leapling) == "archived"


def test_archiving_on_a_29_february(sessions):
    born_28 = add_child(sessions, given="Amara", dob=D(2010, 2, 28))
    born_1_march = add_child(sessions, given="Kwame", dob=D(2010, 3, 1))
    assert _archive(sessions, D(2028, 2, 29)) == [born_28]
    assert (_status(sessions, born_28), _status(sessions, born_1_march)) == ("archived", "active")


def test_archiving_works_in_batches_and_leaves_other_statuses_alone(sessions, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    adults = [add_child(sessions, given=f"Child{i}", dob=D(2000, 1, 1 + i)) for i in range(5)]
    young = add_child(sessions, given="Young", dob=D(2015, 1, 1))
    merged = add_child(sessions, given="Merged", dob=D(2000, 1, 1))
    deleted = add_child(sessions, given="Deleted", dob=D(2000, 1, 1))
    _set_status(sessions, merged, "merged", merged_into=adults[0])
    _set_status(sessions, deleted, "deleted")
    assert _archive(sessions, D(2026, 1, 1)) == adults
    assert [_status(sessions, c) for c in adults] == ["archived"] * 5
    assert [_status(sessions, c) for c in (young, merged, deleted)] == ["active", "merged", "deleted"]
    assert _changes(sessions, "archived") == [(c, "archived") for c in adults]


def test_an_archived_child_is_not_found_by_search(client, es, sessions):
    dob = years_ago(17, day=1)
    turning = add_child(sessions, given="Amara", family="Okafor", dob=dob)
    other = add_child(sessions, given="Amara", family="Okafor", dob=years_ago(6, day=1))
    rebuild(es, sessions, ALIAS, CHECKPOINT)

    def found(**criteria):
        response = client.post("/api/v1/search", json=criteria)
        assert response.status_code == 200, response.get_json()
        return [r["cp_id"] for r in response.get_json()["results"]]

    # The other Amara Okafor is a weaker match on date of birth, but is found too.
    assert found(given_name="Amara", family_name="Okafor", date_of_birth=dob.isoformat()) == [turning, other]
    assert found(cp_id=turning) == [turning]
    assert _archive(sessions, retention.eighteenth_birthday(dob)) == [turning]
    sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    es.indices.refresh(index=ALIAS)

    assert es.get(index=ALIAS, id=turning)["_source"]["status"] == "archived"
    assert found(given_name="Amara", family_name="Okafor", date_of_birth=dob.isoformat()) == [other]
    assert found(cp_id=turning) == []
    assert found(given_name="Amara", family_name="Okafor") == [other]


# --- purging --------------------------------------------------------------------------------

def test_an_archived_child_is_purged_after_the_retention_years_with_everything_it_holds(es, sessions):
    expired = add_child(sessions, given="Amara", dob=D(2000, 5, 10), aliases=[("Amy", "Okafor")])
    kept = add_child(sessions, given="Kwame", dob=D(2000, 5, 11), aliases=[("Kofi", "Mensah")])
    _add_details(sessions, expired, "S1")
    _add_details(sessions, kept, "S2")
    assert _archive(sessions, D(2018, 5, 11)) == [expired, kept]
    expired_id, kept_id = _child_id(sessions, expired), _child_id(sessions, kept)
    full = {"Child": 1, "ChildName": 3, "Carer": 2, "Involvement": 1, "SourceRecord": 1}
    assert _rows_of(sessions, expired_id) == _rows_of(sessions, kept_id) == full
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert es.exists(index=ALIAS, id=expired)

    # 18th birthday 2018-05-10 + 6 years = 2024-05-10.
    assert _purge(sessions, D(2024, 5, 9)) == []
    assert _rows_of(sessions, expired_id) == full
    assert _purge(sessions, D(2024, 5, 10)) == [expired]
    assert _rows_of(sessions, expired_id) == {"Child": 0, "ChildName": 0, "Carer": 0, "Involvement": 0,
                                              "SourceRecord": 0}
    assert _rows_of(sessions, kept_id) == full
    assert _changes(sessions, "purged") == [(expired, "purged")]

    result = sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    assert result.dead_letters == 0
    es.indices.refresh(index=ALIAS)
    assert not es.exists(index=ALIAS, id=expired)
    assert es.get(index=ALIAS, id=kept)["_source"]["status"] == "archived"

    assert _purge(sessions, D(2024, 5, 11)) == [kept]
    assert _rows_of(sessions, kept_id)["Child"] == 0


def test_purge_respects_retention_years_and_29_february(sessions):
    leapling = add_child(sessions, dob=D(2000, 2, 29))
    assert _archive(sessions, D(2018, 3, 1)) == [leapling]
    # 18th birthday 2018-03-01; + 10 years = 2028-03-01, even though 2028 has a 29 February.
    assert _purge(sessions, D(2028, 2, 29), years=10) == []
    assert _purge(sessions, D(2028, 2, 29), years=9) == [leapling]
    assert _status(sessions, leapling) is None


def test_purge_takes_the_children_merged_into_a_purged_one_and_leaves_others_alone(sessions):
    archived = add_child(sessions, given="Archived", dob=D(1990, 1, 1))
    active = add_child(sessions, given="Active", dob=D(1990, 1, 1))
    merged = add_child(sessions, given="Merged", dob=D(1990, 1, 1))
    merged_earlier = add_child(sessions, given="Earlier", dob=D(1990, 1, 1))
    deleted = add_child(sessions, given="Deleted", dob=D(1990, 1, 1))
    _set_status(sessions, archived, "archived")
    _set_status(sessions, merged, "merged", merged_into=archived)
    _set_status(sessions, merged_earlier, "merged", merged_into=merged)  # a chain of merges
    _set_status(sessions, deleted, "deleted")
    # A merged record is the same child as the one it leads to: its data goes when that child's does.
    assert _purge(sessions, D(2026, 1, 1)) == [archived, merged, merged_earlier]
    assert [_status(sessions, c) for c in (archived, active, merged, merged_earlier, deleted)] == [
        None, "active", None, None, "deleted"]
    assert _changes(sessions)[-3:] == [(archived, "purged"), (merged, "purged"), (merged_earlier, "purged")]


def test_purge_works_in_batches(sessions, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    old = [add_child(sessions, given=f"Old{i}", dob=D(1990, 1, 1 + i)) for i in range(5)]
    recent = add_child(sessions, given="Recent", dob=D(2006, 1, 1))
    assert _archive(sessions, D(2026, 1, 1)) == old + [recent]
    assert _purge(sessions, D(2026, 1, 1)) == old
    assert [_status(sessions, c) for c in old + [recent]] == [None] * 5 + ["archived"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChildName)) == 1


# --- the whole run --------------------------------------------------------------------------

TODAY = D(2026, 6, 15)


def _population(sessions):
    turning = add_child(sessions, given="Turning", dob=D(2008, 6, 15))     # 18 today: archived
    young = add_child(sessions, given="Young", dob=D(2008, 6, 16))         # 18 tomorrow
    expired = add_child(sessions, given="Expired", dob=D(2002, 6, 15))     # archived, 6 years after 18 today
    retained = add_child(sessions, given="Retained", dob=D(2002, 6, 16))   # archived, purge due tomorrow
    forgotten = add_child(sessions, given="Forgotten", dob=D(1990, 1, 1))  # never archived: archived and purged
    _set_status(sessions, expired, "archived")
    _set_status(sessions, retained, "archived")
    return turning, young, expired, retained, forgotten


def test_run_retention_archives_purges_and_audits_each_step(sessions):
    turning, young, expired, retained, forgotten = _population(sessions)
    before = len(_changes(sessions))

    result = retention.run_retention(sessions, TODAY, 6, record=audit.recorder("scheduler"))
    assert result.archived == [turning, forgotten]
    assert result.purged == [expired, forgotten]
    assert [_status(sessions, c) for c in (turning, young, expired, retained, forgotten)] == [
        "archived", "active", None, "archived", None]
    assert _changes(sessions)[before:] == [(turning, "archived"), (forgotten, "archived"),
                                           (expired, "purged"), (forgotten, "purged")]
    assert _audit_events(sessions) == [
        ("scheduler", "retention_archive", {"today": "2026-06-15", "count": 2, "cp_ids": [turning, forgotten],
                                            "retention_years": 6}),
        ("scheduler", "retention_purge", {"today": "2026-06-15", "count": 2, "cp_ids": [expired, forgotten],
                                          "retention_years": 6}),
    ]
    with sessions() as session:
        assert audit.verify(session) == []

    # Nothing left to do: no changes and no audit events.
    again = retention.run_retention(sessions, TODAY, 6, record=audit.recorder("scheduler"))
    assert (again.archived, again.purged) == ([], [])
    assert len(_audit_events(sessions)) == 2
    assert len(_changes(sessions)) == before + 4

    # The next day only the purge step has work: one event.
    tomorrow = retention.run_retention(sessions, TODAY + dt.timedelta(days=1), 6,
                                        record=audit.recorder("scheduler"))
    assert (tomorrow.archived, tomorrow.purged) == ([young], [retained])
    assert [a for _, a, _ in _audit_events(sessions)] == ["retention_archive", "retention_purge",
                                                          "retention_archive", "retention_purge"]
    with sessions() as session:
        assert audit.verify(session) == []


def test_a_dry_run_reports_the_same_outcome_and_writes_nothing(sessions):
    children = _population(sessions)
    turning, young, expired, retained, forgotten = children
    changes, statuses = _changes(sessions), [_status(sessions, c) for c in children]

    dry = retention.run_retention(sessions, TODAY, 6, record=audit.recorder("scheduler"), dry_run=True)
    assert (dry.archived, dry.purged) == ([turning, forgotten], [expired, forgotten])
    assert _changes(sessions) == changes
    assert [_status(sessions, c) for c in children] == statuses
    assert _audit_events(sessions) == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChildName)) == 5

    real = retention.run_retention(sessions, TODAY, 6, record=audit.recorder("scheduler"))
    assert (real.archived, real.purged) == (dry.archived, dry.purged)


# --- the command line -------------------------------------------------------------------------

def test_cli_retention_run(run, sessions):
    turning, young, expired, retained, forgotten = _population(sessions)

    dry = run("retention", "run", "--today", "2026-06-15", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output == "would archive 2 children at 18; would purge 2 children after 6 years\n"
    assert _audit_events(sessions) == [] and _status(sessions, turning) == "active"

    done = run("retention", "run", "--today", "2026-06-15", "--verbose")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == ["archived 2 children at 18; purged 2 children after 6 years",
                                        f"archived: {turning}", f"archived: {forgotten}",
                                        f"purged: {expired}", f"purged: {forgotten}"]
    assert [a for _, a, _ in _audit_events(sessions)] == ["retention_archive", "retention_purge"]
    assert _audit_events(sessions)[0][0].startswith("cli:")
    assert [_status(sessions, c) for c in (turning, young, expired, retained, forgotten)] == [
        "archived", "active", None, "archived", None]


def test_cli_retention_years_from_the_environment(run, sessions):
    retained = add_child(sessions, dob=D(2010, 6, 15))
    _set_status(sessions, retained, "archived")
    # 18th birthday 2028-06-15.
    kept = run("retention", "run", "--today", "2029-06-15", CONTACTPOINT_RETENTION_YEARS="2")
    assert kept.exit_code == 0, kept.output
    assert kept.output == "archived 0 children at 18; purged 0 children after 2 years\n"
    gone = run("retention", "run", "--today", "2029-06-15", CONTACTPOINT_RETENTION_YEARS="1")
    assert gone.exit_code == 0, gone.output
    assert gone.output == "archived 0 children at 18; purged 1 child after 1 year\n"
    assert _status(sessions, retained) is None


def test_cli_retention_refuses_a_bad_date_and_a_bad_setting(run, sessions):
    adult = add_child(sessions, dob=D(1990, 1, 1))
    bad = run("retention", "run", "--today", "2026-13-01")
    assert bad.exit_code == 2
    assert "Invalid value for '--today'" in bad.output
    assert "'2026-13-01' is not a date such as 2027-03-31" in bad.output  # the same message as every date option
    setting = run("retention", "run", "--today", "2026-01-01", CONTACTPOINT_RETENTION_YEARS="0")
    assert setting.exit_code == 1
    assert "CONTACTPOINT_RETENTION_YEARS must be between 1 and 100, got 0" in setting.output
    assert _status(sessions, adult) == "active"
    assert _changes(sessions, "archived") == []
