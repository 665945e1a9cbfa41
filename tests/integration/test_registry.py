"""The authoritative database on SQLite and PostgreSQL: schema, constraints and the change log."""
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from registry import cpid, writes
from registry.db import current_revision, head_revision
from registry.models import ChangeLog, Child, Involvement

DOB = dt.date.today().replace(year=dt.date.today().year - 6, day=1)


def _child(session, **extra):
    return writes.create_child(session, given_name="Amara", family_name="Okafor", date_of_birth=DOB,
                               gender="female", la_code="E08000035", **extra)


def test_migrations_reach_head(db_engine):
    assert current_revision(db_engine) == head_revision()


def test_every_write_appends_to_the_change_log_in_the_same_transaction(sessions):
    with sessions.begin() as session:
        child = _child(session)
        service = writes.get_or_create_organisation(session, "service", "HV01", "Health visiting")
        writes.add_involvement(session, child, service, role="Health visitor", start_date=DOB)
        writes.add_carer(session, child, given_name="Ngozi", family_name="Okafor", relationship_to_child="mother")
        writes.add_name(session, child, "alias", "Amy", "Okafor")
        writes.set_shielded(session, child, True)
        writes.update_child(session, child, postcode="LS6 2AB")
        child_id = child.id
    with sessions() as session:
        changes = session.scalars(select(ChangeLog.change).where(ChangeLog.child_id == child_id)
                                  .order_by(ChangeLog.seq)).all()
        assert changes == ["created", "involvement_added", "carer_added", "name_added", "shielded", "updated"]
        stored = session.get(Child, child_id)
        assert cpid.is_valid(stored.cp_id)
        assert [n.kind for n in stored.names] == ["primary", "alias"]
        assert stored.local_authority.code == "E08000035"


def test_a_rolled_back_write_leaves_no_change_log_row(sessions):
    with pytest.raises(RuntimeError):
        with sessions.begin() as session:
            _child(session)
            raise RuntimeError("the request failed")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChangeLog)) == 0
        assert session.scalar(select(func.count()).select_from(Child)) == 0


def test_an_unchanged_update_is_not_logged(sessions):
    with sessions.begin() as session:
        child = _child(session)
        assert writes.update_child(session, child, given_name="Amara") is False
        child_id = child.id
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChangeLog).where(ChangeLog.child_id == child_id)) == 1


def test_a_sensitive_service_without_consent_is_refused_by_the_api(sessions):
    with sessions.begin() as session:
        child = _child(session)
        clinic = writes.get_or_create_organisation(session, "service", "SH01", "Sexual health clinic")
        with pytest.raises(writes.RegistryError) as refused:
            writes.add_involvement(session, child, clinic, role="Nurse", start_date=DOB,
                                   sensitive_category="sexual_health")
        assert refused.value.field == "consent_recorded_by"
        writes.add_involvement(session, child, clinic, role="Nurse", start_date=DOB,
                               sensitive_category="sexual_health", consent_recorded_by="Dr A Patel",
                               consent_recorded_at=dt.datetime.now(dt.timezone.utc))


def test_the_database_itself_refuses_a_sensitive_service_without_consent(sessions):
    with sessions() as session:
        child = _child(session)
        clinic = writes.get_or_create_organisation(session, "service", "SH01", "Sexual health clinic")
        session.add(Involvement(child_id=child.id, organisation_id=clinic.id, role="Nurse", start_date=DOB,
                                sensitive_category="mental_health"))
        with pytest.raises(IntegrityError):
            session.flush()


def test_unknown_child_fields_are_refused(sessions):
    with sessions() as session:
        with pytest.raises(writes.RegistryError) as refused:
            _child(session, case_notes="anything")
        assert refused.value.field == "case_notes"


def test_change_log_order_is_commit_order_under_concurrent_writers(sessions, database_url):
    """A transaction that appended first but commits last must not end up behind the indexer."""
    import threading

    first_appended = threading.Event()
    finish_first = threading.Event()
    order = []

    def slow_writer():
        with sessions.begin() as session:
            _child(session)
            session.flush()
            first_appended.set()
            finish_first.wait(timeout=10)
            order.append("slow committed")

    def fast_writer():
        first_appended.wait(timeout=10)
        with sessions.begin() as session:
            _child(session)
            session.flush()
        order.append("fast committed")

    slow, fast = threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)
    slow.start(), fast.start()
    fast.join(timeout=1.0)  # the fast writer must wait for the slow one's commit
    finish_first.set()
    slow.join(timeout=10), fast.join(timeout=10)
    assert order == ["slow committed", "fast committed"]
    with sessions() as session:
        rows = session.execute(select(ChangeLog.seq, ChangeLog.child_id).order_by(ChangeLog.seq)).all()
    # sequence order follows commit order: the slow writer's change comes first
    assert [child_id for _, child_id in rows] == sorted(child_id for _, child_id in rows)
