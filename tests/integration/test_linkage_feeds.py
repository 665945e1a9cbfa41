"""Feeds from several sources make one child: linkage through the real CLI, index and database."""
import json

import pytest

from sqlalchemy import select

from registry.models import Child, ChildAddress, ChildName, ReviewItem, SourceRecord

from .helpers import count, years_ago

HEADER = "source_record_id,given_name,middle_names,family_name,date_of_birth,gender,address_line_1,postcode,la_code\n"
DOB = years_ago(7, day=14).isoformat()
TWIN_DOB = years_ago(5, day=9).isoformat()


def _load(run, tmp_path, source, *rows, name=None):
    feed = tmp_path / f"{name or source}.csv"
    feed.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    report = tmp_path / f"{name or source}.jsonl"
    result = run("feed", "load", "--source", source, "--report", str(report), str(feed))
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in report.read_text().splitlines()]


def test_a_second_source_joins_the_child_the_first_made(run, tmp_path, sessions):
    first = _load(run, tmp_path, "gp-registrations",
                  f"G1,Olivia,Grace,Smith,{DOB},female,12 Oak Road,LS6 2AB,E08000035")
    assert [r["outcome"] for r in first] == ["created"]
    # The school spells her surname differently and has no middle name for her.
    second = _load(run, tmp_path, "school-census",
                   f"S1,Olivia,,Smyth,{DOB},female,12 Oak Road,LS6 2AB,E08000035")
    assert second[0]["outcome"] == "linked", second
    assert second[0]["cp_id"] == first[0]["cp_id"]
    assert second[0]["match_weight"] > 0
    assert count(sessions, Child) == 1
    with sessions() as session:
        child = session.scalar(select(Child))
        record = session.scalar(select(SourceRecord).where(SourceRecord.source == "school-census"))
        names = {(n.given_name, n.family_name) for n in child.names}
        postcodes = set(session.scalars(select(ChildAddress.postcode).where(ChildAddress.child_id == child.id)))
    assert record.link_decision == "auto" and record.linkage_model == "default:1"
    assert record.link_contributions["date_of_birth"]["level"] == "exact"   # the link explains itself
    assert {("Olivia", "Smith"), ("Olivia", "Smyth")} <= names               # every name any source used
    assert postcodes == {"LS6 2AB"}
    assert child.family_name == "Smyth"                                      # the most recent name wins


def test_rows_of_one_file_about_the_same_child_link_to_each_other(run, tmp_path, sessions):
    rows = _load(run, tmp_path, "la-social-care",
                 f"C1,Mohammed,,Khan,{DOB},male,3 Mill Lane,BD1 4QT,E08000032",
                 f"C2,Muhammad,,Khan,{DOB},male,3 Mill Lane,BD1 4QT,E08000032")
    assert [r["outcome"] for r in rows] == ["created", "linked"]
    assert rows[0]["cp_id"] == rows[1]["cp_id"]


def test_twins_stay_two_children(run, tmp_path, sessions):
    rows = _load(run, tmp_path, "gp-registrations",
                 f"T1,Amelia,,Nowak,{TWIN_DOB},female,9 Park View,M14 5RT,E08000003",
                 f"T2,Isla,,Nowak,{TWIN_DOB},female,9 Park View,M14 5RT,E08000003")
    assert [r["outcome"] for r in rows] == ["created", "created"]
    assert rows[0]["cp_id"] != rows[1]["cp_id"]


def test_a_doubtful_row_makes_a_child_and_a_review_item_naming_the_candidate(run, tmp_path, sessions):
    first = _load(run, tmp_path, "gp-registrations", f"G1,Kacper,,Wisniewski,{DOB},male,,B12 9QP,E08000025")
    # Same name, a date of birth one digit away, another city and no address: perhaps him, perhaps not.
    near = DOB[:-1] + ("5" if DOB[-1] != "5" else "6")
    second = _load(run, tmp_path, "school-census", f"S9,Kacper,,Wisniewski,{near},,,NE4 7YH,E08000021")
    assert second[0]["outcome"] == "review", second
    assert second[0]["cp_id"] != first[0]["cp_id"]
    assert [c["cp_id"] for c in second[0]["candidates"]] == [first[0]["cp_id"]]
    with sessions() as session:
        item = session.scalar(select(ReviewItem))
        assert item.status == "open" and item.candidates[0].contributions["date_of_birth"]["level"] == "near"


@pytest.mark.parametrize("middle, outcome", [("Tomasz", "linked"), ("Zbigniew", "created")])
def test_the_same_middle_name_settles_a_doubtful_row_and_a_different_one_keeps_it_apart(run, tmp_path, sessions,
                                                                                        middle, outcome):
    """As above (a one-digit date of birth, another city), but both sources give middle names: the same one
    links without a review, a different one makes a child of its own without a review."""
    first = _load(run, tmp_path, "gp-registrations", f"G1,Kacper,Tomasz,Wisniewski,{DOB},male,,B12 9QP,E08000025")
    near = DOB[:-1] + ("5" if DOB[-1] != "5" else "6")
    rows = _load(run, tmp_path, "school-census", f"S9,Kacper,{middle},Wisniewski,{near},,,NE4 7YH,E08000021")
    assert rows[0]["outcome"] == outcome, rows
    assert (rows[0]["cp_id"] == first[0]["cp_id"]) is (outcome == "linked")
    assert count(sessions, ReviewItem) == 0
    with sessions() as session:
        record = session.scalar(select(SourceRecord).where(SourceRecord.source_record_id == "S9"))
    if outcome == "linked":
        assert record.link_contributions["middle_names"]["level"] == "exact"   # the waterfall says why


def test_two_different_nhs_numbers_never_link(run, tmp_path, sessions):
    rows = _load(run, tmp_path, "gp-registrations",
                 f"N1,Ruby,,Clarke,{DOB},female,5 Hill Top,S10 2TN,E08000019",
                 name="first")
    feed = tmp_path / "second.csv"
    feed.write_text("source_record_id,given_name,family_name,date_of_birth,gender,postcode,nhs_number\n"
                    f"N2,Ruby,Clarke,{DOB},female,S10 2TN,9434765919\n", encoding="utf-8")
    with sessions.begin() as session:
        session.scalar(select(Child)).nhs_number = "4010232137"
    report = tmp_path / "second.jsonl"
    assert run("feed", "load", "--source", "school-census", "--report", str(report), str(feed)).exit_code == 0
    outcome = json.loads(report.read_text())
    assert outcome["outcome"] != "linked" and outcome["cp_id"] != rows[0]["cp_id"]


def test_a_source_that_changes_a_name_keeps_the_old_one_searchable(run, tmp_path, sessions):
    _load(run, tmp_path, "gp-registrations", f"G1,Ella,,Brown,{DOB},female,,LS6 2AB,E08000035", name="before")
    rows = _load(run, tmp_path, "gp-registrations", f"G1,Ella,,Green,{DOB},female,,LS6 2AB,E08000035",
                 name="after")
    assert rows[0]["outcome"] == "updated"
    with sessions() as session:
        kinds = {(n.kind, n.family_name) for n in session.scalars(select(ChildName))}
    assert ("previous", "Brown") in kinds and ("primary", "Green") in kinds


def test_the_trust_order_decides_which_source_a_field_comes_from(run, tmp_path, sessions):
    _load(run, tmp_path, "gp-registrations", f"G1,Noah,,Patel,{DOB},male,1 Low Road,LS6 2AB,E08000035")
    _load(run, tmp_path, "school-census", f"S1,Noah,,Patel,{DOB},male,2 High Road,LS6 2AB,E08000035")
    with sessions() as session:
        assert session.scalar(select(Child.address_line_1)) == "2 High Road"   # the most recent, untrusted
    # The GP's address is trusted first: a change to any record re-derives the child by that order.
    trusted = {"CONTACTPOINT_SOURCE_TRUST": "address=gp-registrations"}
    feed = tmp_path / "again.csv"
    feed.write_text(HEADER + f"S1,Noah,,Patel,{DOB},male,2 High Road,LS6 2AB,E08000036\n", encoding="utf-8")
    assert run("feed", "load", "--source", "school-census", str(feed), **trusted).exit_code == 0
    with sessions() as session:
        assert session.scalar(select(Child.address_line_1)) == "1 Low Road"
    assert count(sessions, Child) == 1


def test_a_move_keeps_the_address_history(run, tmp_path, sessions):
    _load(run, tmp_path, "gp-registrations", f"G1,Ava,,Jones,{DOB},female,1 Low Road,LS6 2AB,E08000035",
          name="before")
    _load(run, tmp_path, "gp-registrations", f"G1,Ava,,Jones,{DOB},female,8 New Road,LS7 3CD,E08000035",
          name="after")
    with sessions() as session:
        child = session.scalar(select(Child))
        history = set(session.scalars(select(ChildAddress.postcode).where(ChildAddress.child_id == child.id)))
    assert child.postcode == "LS7 3CD" and history == {"LS6 2AB", "LS7 3CD"}


def test_a_row_that_could_join_either_of_two_children_goes_to_a_person(run, tmp_path, sessions):
    # Twins Henry and Harrison; the school knows one of them as "Harry", the short form of both names.
    twins = _load(run, tmp_path, "gp-registrations",
                  f"G1,Henry,,Vanderberg,{TWIN_DOB},male,36 Strand,WC2 1GR,E09000033",
                  f"G2,Harrison,,Vanderberg,{TWIN_DOB},male,36 Strand,WC2 1GR,E09000033")
    assert [r["outcome"] for r in twins] == ["created", "created"]
    harry = _load(run, tmp_path, "school-census", f"S1,Harry,,Vanderberg,{TWIN_DOB},male,36 Strand,WC2 1GR,E09000033")
    assert harry[0]["outcome"] == "review", harry
    assert {c["cp_id"] for c in harry[0]["candidates"]} == {r["cp_id"] for r in twins}
