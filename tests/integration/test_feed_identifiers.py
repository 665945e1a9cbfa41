"""Feeds carry the optional strong identifiers: valid ones are stored on the child, a failing check rejects the row."""
import io
import json

from sqlalchemy import select

from analyzers import clock
from registry.feeds import load_feed
from registry.models import ChangeLog, Child, ChildName, SourceRecord

from .helpers import count

DOB = clock.today().replace(year=clock.today().year - 7, day=1).isoformat()
HEADER = "source_record_id,given_name,family_name,date_of_birth,nhs_number,upn\n"


def _load(sessions, text: str, fmt: str = "csv"):
    results = []
    load_feed(sessions, "health-visiting", io.BytesIO(text.encode()), fmt, on_result=results.append)
    return results


def test_valid_identifiers_are_stored_on_the_child_in_their_normal_form(sessions):
    results = _load(sessions, HEADER + f"N1,Amara,Okafor,{DOB},943 476 5919,b801-2000-05001\n"
                                       f"N2,Kwame,Mensah,{DOB},,M80120000500A\n")
    assert [(r.outcome, r.errors) for r in results] == [("created", {}), ("created", {})]
    with sessions() as session:
        stored = {c.cp_id: (c.nhs_number, c.upn) for c in session.scalars(select(Child))}
    assert stored == {results[0].cp_id: ("9434765919", "B801200005001"), results[1].cp_id: (None, "M80120000500A")}


def test_a_failing_check_rejects_the_row_naming_the_field_and_writes_nothing(sessions):
    results = _load(sessions, HEADER + f"B1,Amara,Okafor,{DOB},9434765918,\n"
                                       f"B2,Amara,Okafor,{DOB},,A801200005001\n"
                                       f"B3,Amara,Okafor,{DOB},94347659,\n"
                                       f"B4,Amara,Okafor,{DOB},9434765918,A801200005001\n"
                                       f"G1,Kwame,Mensah,{DOB},4000000020,\n")
    assert [r.outcome for r in results] == ["rejected"] * 4 + ["created"]
    assert results[0].errors == {"nhs_number": ["fails its modulus-11 check digit"]}
    assert results[1].errors == {"upn": ["fails its check letter"]}
    assert results[2].errors == {"nhs_number": ["must be 10 digits"]}
    assert results[3].errors == {"nhs_number": ["fails its modulus-11 check digit"],
                                 "upn": ["fails its check letter"]}
    # The rejected rows left nothing behind: one child, from the good row alone.
    assert count(sessions, Child) == 1 and count(sessions, SourceRecord) == 1
    with sessions() as session:
        child = session.scalar(select(Child))
        assert (child.cp_id, child.nhs_number) == (results[4].cp_id, "4000000020")
        assert session.scalar(select(SourceRecord.source_record_id)) == "G1"
        assert set(session.scalars(select(ChildName.child_id))) == {child.id}
        assert set(session.scalars(select(ChangeLog.child_id))) == {child.id}


def test_json_lines_identifiers_are_validated_the_same_way(sessions):
    lines = [json.dumps({"source_record_id": "J1", "given_name": "Łukasz", "family_name": "Wójcik",
                         "date_of_birth": DOB, "nhs_number": "628-194-8211"}),
             json.dumps({"source_record_id": "J2", "given_name": "Ana", "family_name": "Silva",
                         "date_of_birth": DOB, "upn": "B8012000A5001"})]
    results = _load(sessions, "\n".join(lines) + "\n", fmt="jsonl")
    assert [r.outcome for r in results] == ["created", "rejected"]
    assert results[1].errors == {"upn": ["must be a check letter, 11 digits, then a digit or (temporary UPN) a letter"]}
    assert count(sessions, Child) == 1
    with sessions() as session:
        assert session.scalar(select(Child.nhs_number)) == "6281948211"
