"""Feed loading on SQLite and PostgreSQL: validation, idempotence, updates, nothing half-applied."""
import datetime as dt
import io
import json

import pytest
from sqlalchemy import select

from registry.feeds import FeedError, load_feed
from registry.models import Carer, ChangeLog, Child, ChildName, Involvement, SourceRecord

from .helpers import count

DOB = dt.date.today().replace(year=dt.date.today().year - 7, day=1).isoformat()
START = dt.date.today().replace(year=dt.date.today().year - 1, day=1).isoformat()
HEADER = ("source_record_id,given_name,family_name,date_of_birth,gender,postcode,la_code,school_code,school_name,"
          "carer_given_name,carer_family_name,carer_relationship,service_code,practitioner_role,involvement_start,"
          "lead_professional\n")


def _csv(*rows):
    return io.BytesIO((HEADER + "".join(r + "\n" for r in rows)).encode())


GOOD = f"R1,Siobhán,O'Connor,{DOB},F,ls62ab,E08000035,107000,Leeds Primary,Aoife,O'Connor,mother,HV1,Health visitor,{START},yes"
SECOND = f"R2,Kwame,Mensah,{DOB},M,,,,,,,,,,,"


def _load(sessions, stream, fmt="csv", **kwargs):
    results = []
    summary = load_feed(sessions, "school-census", stream, fmt, on_result=results.append, **kwargs)
    return summary, results


def test_a_csv_row_creates_a_child_with_its_details(sessions):
    summary, results = _load(sessions, _csv(GOOD))
    assert summary.counts["created"] == 1
    assert results[0].outcome == "created" and results[0].errors == {}
    with sessions() as session:
        child = session.scalar(select(Child))
        assert child.cp_id == results[0].cp_id
        assert (child.given_name, child.family_name, child.gender, child.postcode) == ("Siobhán", "O'Connor",
                                                                                      "female", "LS6 2AB")
        assert child.local_authority.code == "E08000035"
        assert child.school.name == "Leeds Primary"
        assert [(c.given_name, c.relationship_to_child) for c in child.carers] == [("Aoife", "mother")]
        assert [(i.role, i.lead_professional) for i in child.involvements] == [("Health visitor", True)]
        # The source record and its name are kept as an alias of the child.
        assert sorted(n.kind for n in child.names) == ["primary", "source"]
        assert session.scalar(select(SourceRecord.source_record_id)) == "R1"


def test_loading_the_same_file_twice_changes_nothing(sessions):
    _load(sessions, _csv(GOOD, SECOND))
    before = (count(sessions, Child), count(sessions, ChangeLog), count(sessions, ChildName),
              count(sessions, Carer), count(sessions, Involvement))
    summary, results = _load(sessions, _csv(GOOD, SECOND))
    assert summary.counts["unchanged"] == 2
    assert [r.outcome for r in results] == ["unchanged", "unchanged"]
    assert (count(sessions, Child), count(sessions, ChangeLog), count(sessions, ChildName),
            count(sessions, Carer), count(sessions, Involvement)) == before


def test_a_changed_row_updates_its_child_and_replaces_its_details(sessions):
    _, first = _load(sessions, _csv(GOOD))
    changed = GOOD.replace("ls62ab", "M1 1AE").replace("Health visitor", "School nurse")
    summary, results = _load(sessions, _csv(changed))
    assert results[0].outcome == "updated" and results[0].cp_id == first[0].cp_id
    with sessions() as session:
        child = session.scalar(select(Child))
        assert child.postcode == "M1 1AE"
        assert [i.role for i in child.involvements] == ["School nurse"]
        assert len(child.carers) == 1 and sorted(n.kind for n in child.names) == ["primary", "source"]
    assert count(sessions, Child) == 1


def test_bad_rows_are_rejected_with_precise_errors_and_leave_nothing_behind(sessions):
    rows = [
        f"B1,,Smith,{DOB},,,,,,,,,,,,",  # missing given name
        "B2,Kate,Smith,2023-02-30,,,,,,,,,,,,",  # impossible date
        f"B3,Kate,Smith,{DOB},,nowhere,,,,,,,,,,",  # bad postcode
        f"B4,Kate,Smith,{DOB},,,,,,Jo,,,,,,",  # half a carer
        GOOD,
    ]
    summary, results = _load(sessions, _csv(*rows))
    assert [r.outcome for r in results] == ["rejected"] * 4 + ["created"]
    assert results[0].errors == {"given_name": ["Missing data for required field."]}
    assert results[1].errors == {"date_of_birth": ["Not a valid date."]}
    assert results[2].errors == {"postcode": ["is not a UK postcode (for example LS6 2AB)"]}
    assert set(results[3].errors) == {"carer_family_name", "carer_relationship"}
    assert [r.source_record_id for r in results] == ["B1", "B2", "B3", "B4", "R1"]
    assert count(sessions, Child) == 1 and count(sessions, SourceRecord) == 1


def test_a_row_refused_by_the_registry_is_rolled_back_whole(sessions, monkeypatch):
    # The registry refuses the involvement (its own rule, beyond the feed schema's): nothing of the row is written.
    import registry.feeds as feeds

    def refuse(*args, **kwargs):
        raise feeds.writes.RegistryError("involvement_start", "refused for the test")

    monkeypatch.setattr(feeds.writes, "check_involvement", refuse)
    header = "source_record_id,given_name,family_name,date_of_birth,service_code,practitioner_role,involvement_start\n"
    stream = io.BytesIO((header + f"X1,Kate,Smith,{DOB},HV1,Health visitor,{DOB}\n").encode())
    _, results = _load(sessions, stream)
    assert results[0].outcome == "rejected"
    assert results[0].errors == {"involvement_start": ["refused for the test"]}
    assert count(sessions, Child) == 0 and count(sessions, ChangeLog) == 0 and count(sessions, SourceRecord) == 0


def test_unknown_columns_refuse_the_whole_file(sessions):
    stream = io.BytesIO(f"source_record_id,given_name,family_name,date_of_birth,case_notes\nR1,A,B,{DOB},x\n".encode())
    with pytest.raises(FeedError, match="unknown column.*'case_notes'"):
        _load(sessions, stream)
    assert count(sessions, Child) == 0


def test_missing_required_columns_refuse_the_whole_file(sessions):
    with pytest.raises(FeedError, match="required column.*date_of_birth"):
        _load(sessions, io.BytesIO(b"source_record_id,given_name,family_name\nR1,A,B\n"))


def test_json_lines_rows_load_and_bad_lines_are_rejected(sessions):
    lines = [
        json.dumps({"source_record_id": "J1", "given_name": "Łukasz", "family_name": "Wójcik", "date_of_birth": DOB,
                    "caf_held": True, "service_code": "FS1", "practitioner_role": "Family support worker",
                    "involvement_start": START}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"source_record_id": "J4", "given_name": "A", "family_name": "B", "date_of_birth": DOB,
                    "assessment_notes": "smuggled"}),
        "",
    ]
    summary, results = _load(sessions, io.BytesIO("\n".join(lines).encode()), fmt="jsonl")
    assert [r.outcome for r in results] == ["created", "rejected", "rejected", "rejected"]
    assert results[1].errors["_row"][0].startswith("the line is not valid JSON")
    assert results[2].errors == {"_schema": ["each row must be an object of column: value"]}
    assert results[3].errors == {"assessment_notes": ["Unknown field."]}
    with sessions() as session:
        assert session.scalar(select(Involvement.caf_held)) is True


def test_invalid_utf8_is_a_row_error_not_a_crash(sessions):
    stream = io.BytesIO(HEADER.encode() + f"U1,Kate,Sm\xffith,{DOB},,,,,,,,,,,,\n".encode("latin-1") +
                        (SECOND + "\n").encode())
    _, results = _load(sessions, stream)
    assert [r.outcome for r in results] == ["rejected", "created"]
    assert results[0].errors == {"_row": ["the row is not valid UTF-8"]}


def test_results_are_reported_only_after_their_batch_commits(sessions):
    rows = [f"R{i},Kate,Smith,{DOB},,,,,,,,,,,," for i in range(5)]
    committed_when_reported = []

    def on_result(result):
        committed_when_reported.append(count(sessions, SourceRecord))

    load_feed(sessions, "school-census", _csv(*rows), "csv", on_result=on_result, batch_size=2)
    assert committed_when_reported == [2, 2, 4, 4, 5]


def test_a_bad_source_name_is_refused(sessions):
    with pytest.raises(FeedError, match="source"):
        load_feed(sessions, "bad source!", _csv(GOOD), "csv")
