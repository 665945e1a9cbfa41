"""The registry's notification outbox (SQLite and PostgreSQL): an event only when a child already on record gains
another service or moves to another local authority, written in the same transaction as the change."""
import io

from sqlalchemy import select

from registry import writes
from registry.feeds import load_feed
from registry.models import Child, Involvement, NotificationEvent, Organisation

from .helpers import add_child, change_child, years_ago

DOB = years_ago(7, day=3).isoformat()
START = years_ago(1).isoformat()
NHS = "4010232137"
HEADER = "source_record_id,given_name,family_name,date_of_birth,nhs_number,postcode,la_code,service_code,practitioner_role,involvement_start\n"


def _load(sessions, source, *rows):
    results = []
    load_feed(sessions, source, io.BytesIO((HEADER + "".join(r + "\n" for r in rows)).encode()), "csv",
              on_result=results.append)
    return [r.outcome for r in results]


def _events(sessions):
    with sessions() as session:
        return [(e.kind, e.child_id, e.involvement_id, e.old_la_id, e.new_la_id)
                for e in session.scalars(select(NotificationEvent).order_by(NotificationEvent.id))]


def _service(session, code):
    return writes.get_or_create_organisation(session, "service", code, f"Service {code}")


def test_a_second_service_with_a_child_on_record_is_an_event_the_first_is_not(sessions):
    cp_id = add_child(sessions)
    change_child(sessions, cp_id, lambda s, c: writes.add_involvement(s, c, _service(s, "HV1"), role="Health visitor",
                                                                         start_date=years_ago(1)))
    assert _events(sessions) == []  # nobody else works with the child: nobody to tell
    change_child(sessions, cp_id, lambda s, c: writes.add_involvement(s, c, _service(s, "YJ1"), role="Youth worker",
                                                                         start_date=years_ago(0)))
    with sessions() as session:
        child = session.scalar(select(Child).where(Child.cp_id == cp_id))
        second = session.scalar(select(Involvement.id).where(Involvement.role == "Youth worker"))
    assert _events(sessions) == [("involvement_started", child.id, second, None, None)]


def test_a_child_made_with_two_services_in_one_transaction_is_no_event(sessions):
    with sessions.begin() as session:
        child = writes.create_child(session, given_name="Ana", family_name="Silva", date_of_birth=years_ago(5))
        for code in ("HV1", "YJ1"):
            writes.add_involvement(session, child, _service(session, code), role="Worker", start_date=years_ago(1))
    assert _events(sessions) == []


def test_a_failed_write_leaves_no_event(sessions):
    cp_id = add_child(sessions)
    change_child(sessions, cp_id, lambda s, c: writes.add_involvement(s, c, _service(s, "HV1"), role="Health visitor",
                                                                         start_date=years_ago(1)))

    def add_then_fail(session, child):
        writes.add_involvement(session, child, _service(session, "YJ1"), role="Youth worker", start_date=years_ago(0))
        raise RuntimeError("the transaction fails after the write")

    try:
        change_child(sessions, cp_id, add_then_fail)
    except RuntimeError:
        pass
    assert _events(sessions) == []


def test_feeds_announce_a_service_joining_a_known_child_and_a_move_but_not_a_first_load(sessions):
    assert _load(sessions, "gp-registrations", f"G1,Olivia,Smith,{DOB},{NHS},LS6 2AB,E08000035,HV1,Health visitor,{START}",
                 # a second row of the same load joining the child it made: still its first load
                 f"G2,Olivia,Smith,{DOB},{NHS},LS6 2AB,E08000036,GP1,GP,{START}") == ["created", "linked"]
    assert _events(sessions) == []
    # Another source's row joins the child (the batch path) and brings another service.
    assert _load(sessions, "school-census",
                 f"S1,Olivia,Smith,{DOB},{NHS},LS6 2AB,E08000036,SN1,School nurse,{START}") == ["linked"]
    with sessions() as session:
        child = session.scalar(select(Child))
        nurse = session.scalar(select(Involvement.id).where(Involvement.role == "School nurse"))
    assert _events(sessions) == [("involvement_started", child.id, nurse, None, None)]
    # The same record re-sent with its service unchanged is no news; a move to another authority is.
    assert _load(sessions, "school-census",
                 f"S1,Olivia,Smith,{DOB},{NHS},LS7 1AA,E08000035,SN1,School nurse,{START}") == ["updated"]
    with sessions() as session:
        leeds, kirklees = (session.scalar(select(Organisation.id).where(Organisation.code == code))
                           for code in ("E08000035", "E08000036"))
    assert _events(sessions)[1:] == [("authority_changed", child.id, None, kirklees, leeds)]
    # The same record now naming another service is news.
    assert _load(sessions, "school-census",
                 f"S1,Olivia,Smith,{DOB},{NHS},LS7 1AA,E08000035,CAMHS1,Counsellor,{START}") == ["updated"]
    assert [e[0] for e in _events(sessions)] == ["involvement_started", "authority_changed", "involvement_started"]
