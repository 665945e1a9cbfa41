"""Merge and unmerge in the registry, on SQLite and PostgreSQL, and the index following them."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from analyzers import clock
from indexing import rebuild, sync_until_current
from indexing.verify import verify
from registry import merging, retention, review, writes
from registry.models import ChangeLog, Child, ChildAddress, ChildMerge, ReviewCandidate, ReviewItem, SourceRecord

from .helpers import ALIAS, CHECKPOINT, load_new_child

HEADER = ("source_record_id,given_name,family_name,date_of_birth,gender,address_line_1,postcode,la_code,"
          "carer_given_name,carer_family_name,carer_relationship,service_code,practitioner_role,involvement_start\n")
START = (clock.today() - dt.timedelta(days=200)).isoformat()
# Two children who look nothing alike, so linkage keeps them apart until a person merges them.
OLDER = (f"S1,Amara,Okafor,{clock.today().year - 6}-03-14,F,1 Hyde Park Road,LS6 2AB,E08000035,"
         f"Ngozi,Okafor,mother,HV1,Health visitor,{START}")
NEWER = (f"G7,Kwame,Mensah,{clock.today().year - 9}-11-02,M,22 Deansgate,M3 4LZ,E08000003,"
         f"Ama,Mensah,grandmother,CAMHS1,Therapist,{START}")


def _load(sessions, source, row, at):
    return load_new_child(sessions, HEADER, source, row, at)


@pytest.fixture
def pair(sessions):
    """(older cp_id, newer cp_id): two children, each made by its own source record, an hour apart."""
    now = clock.now()
    older = _load(sessions, "school-census", OLDER, now - dt.timedelta(hours=2))
    newer = _load(sessions, "gp-registrations", NEWER, now - dt.timedelta(hours=1))
    return older, newer


def _child(session, cp_id) -> Child:
    return session.scalar(select(Child).where(Child.cp_id == cp_id))


def _merge(sessions, first, second, actor="admin.one"):
    with sessions.begin() as session:
        record = merging.merge(session, _child(session, first), _child(session, second), actor)
        return record.survivor_id, record.merged_id


def _unmerge(sessions, cp_id, actor="admin.two"):
    with sessions.begin() as session:
        return merging.unmerge(session, _child(session, cp_id), actor)


def _changes(session, cp_id) -> list[str]:
    return list(session.scalars(select(ChangeLog.change).where(ChangeLog.cp_id == cp_id).order_by(ChangeLog.seq)))


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_merge_keeps_the_older_id_whatever_the_order(sessions, pair, order):
    older, newer = pair
    _merge(sessions, *(pair if order == "older first" else pair[::-1]))
    with sessions() as session:
        survivor, merged = _child(session, older), _child(session, newer)
        assert (survivor.status, survivor.merged_into_id) == ("active", None)
        assert (merged.status, merged.merged_into_id) == ("merged", survivor.id)
        assert merging.resolve(session, merged) is survivor
        assert merging.resolve(session, survivor) is survivor
        assert _changes(session, older)[-1] == "merged"
        assert _changes(session, newer)[-1] == "merged_away"
        assert session.scalar(select(ChildMerge.merged_by)) == "admin.one"


def test_a_child_merged_twice_resolves_to_the_last_survivor(sessions, pair):
    older, newer = pair
    with clock.pinned(clock.now() - dt.timedelta(days=1)), sessions.begin() as session:
        oldest = writes.create_child(session, given_name="Zainab", family_name="Hussain",
                                     date_of_birth=dt.date(clock.today().year - 4, 5, 5)).cp_id
    _merge(sessions, newer, older)
    _merge(sessions, older, oldest)
    with sessions() as session:
        assert merging.resolve(session, _child(session, newer)).cp_id == oldest


def test_merge_moves_records_names_carers_involvements_and_addresses_to_the_survivor(sessions, pair):
    older, newer = pair
    survivor_id, merged_id = _merge(sessions, newer, older)
    with sessions() as session:
        survivor = _child(session, older)
        records = session.scalars(select(SourceRecord).order_by(SourceRecord.id)).all()
        assert [(r.source_record_id, r.child_id, r.link_decision) for r in records] == [
            ("S1", survivor_id, "created"), ("G7", survivor_id, "manual")]
        assert records[1].origin_child_id == merged_id  # where unmerge gives it back
        names = {(n.kind, n.given_name, n.family_name) for n in survivor.names}
        # Every name either source used stays searchable; the merged child's own name is a previous name.
        assert {("source", "Amara", "Okafor"), ("source", "Kwame", "Mensah"),
                ("previous", "Kwame", "Mensah")} <= names
        assert sorted(c.relationship_to_child for c in survivor.carers) == ["grandmother", "mother"]
        assert sorted(i.role for i in survivor.involvements) == ["Health visitor", "Therapist"]
        addresses = session.scalars(select(ChildAddress.postcode).where(ChildAddress.child_id == survivor_id))
        assert sorted(addresses) == ["LS6 2AB", "M3 4LZ"]
        merged = _child(session, newer)
        # The merged child keeps its own row and primary name, and nothing else.
        assert [(n.kind, n.given_name) for n in merged.names] == [("primary", "Kwame")]
        assert merged.carers == [] and merged.involvements == []
        assert session.scalar(select(func.count()).select_from(ChildAddress)
                              .where(ChildAddress.child_id == merged_id)) == 0


@pytest.mark.parametrize("shielded", ["older", "newer"])
def test_the_merged_child_is_shielded_if_either_was_and_unmerge_gives_each_its_own_shielding(sessions, pair, shielded):
    older, newer = pair
    reason = {"older": "court_order", "newer": "domestic_abuse"}[shielded]
    with sessions.begin() as session:
        writes.set_shielded(session, _child(session, pair[shielded == "newer"]), True, reason)
    _merge(sessions, older, newer)
    with sessions() as session:
        for cp_id in pair:
            child = _child(session, cp_id)
            assert (child.shielded, child.shielding_reason) == (True, reason)
    _unmerge(sessions, newer)
    with sessions() as session:
        for cp_id in pair:
            child = _child(session, cp_id)
            expected = (True, reason) if cp_id == pair[shielded == "newer"] else (False, None)
            assert (child.shielded, child.shielding_reason) == expected


def test_the_survivors_own_shielding_reason_wins(sessions, pair):
    older, newer = pair
    with sessions.begin() as session:
        writes.set_shielded(session, _child(session, older), True, "adoption")
        writes.set_shielded(session, _child(session, newer), True, "domestic_abuse")
    _merge(sessions, newer, older)
    with sessions() as session:
        assert _child(session, older).shielding_reason == "adoption"


def test_shielding_changed_after_the_merge_is_kept_by_unmerge(sessions, pair):
    older, newer = pair
    with sessions.begin() as session:
        writes.set_shielded(session, _child(session, newer), True, "domestic_abuse")
    _merge(sessions, older, newer)
    with sessions.begin() as session:  # a decision about the survivor taken after the merge
        writes.set_shielded(session, _child(session, older), True, "witness_protection")
    _unmerge(sessions, newer)
    with sessions() as session:
        assert (_child(session, older).shielded, _child(session, older).shielding_reason) == (
            True, "witness_protection")
        assert (_child(session, newer).shielded, _child(session, newer).shielding_reason) == (True, "domestic_abuse")


def test_unmerge_restores_both_children_from_their_own_records_with_their_ids(sessions, pair):
    older, newer = pair
    with sessions() as session:
        before = {cp_id: (c.id, c.given_name, c.family_name, c.date_of_birth, c.postcode, c.local_authority_id)
                  for cp_id in pair for c in [_child(session, cp_id)]}
    _merge(sessions, older, newer)
    with sessions.begin() as session:  # a practitioner registers involvement with the survivor after the merge
        survivor = _child(session, older)
        org = writes.get_or_create_organisation(session, "service", "YOS9", "Youth justice")
        writes.add_involvement(session, survivor, org, role="Youth justice worker", start_date=clock.today(),
                               registered_by="practitioner.one")
    record = _unmerge(sessions, newer)
    assert (record.unmerged_by, record.unmerged_at is not None) == ("admin.two", True)
    with sessions() as session:
        after = {cp_id: (c.id, c.given_name, c.family_name, c.date_of_birth, c.postcode, c.local_authority_id)
                 for cp_id in pair for c in [_child(session, cp_id)]}
        assert after == before
        survivor, restored = _child(session, older), _child(session, newer)
        assert (restored.status, restored.merged_into_id) == ("active", None)
        records = session.scalars(select(SourceRecord).order_by(SourceRecord.id)).all()
        assert [(r.source_record_id, r.child_id, r.link_decision) for r in records] == [
            ("S1", survivor.id, "created"), ("G7", restored.id, "created")]
        assert sorted(i.role for i in survivor.involvements) == ["Health visitor", "Youth justice worker"]
        assert [i.role for i in restored.involvements] == ["Therapist"]
        assert [c.relationship_to_child for c in restored.carers] == ["grandmother"]
        assert {(n.kind, n.given_name) for n in survivor.names} == {("primary", "Amara"), ("source", "Amara")}
        assert {(n.kind, n.given_name) for n in restored.names} == {("primary", "Kwame"), ("source", "Kwame")}
        addresses = session.scalars(select(ChildAddress.postcode).where(ChildAddress.child_id == restored.id))
        assert list(addresses) == ["M3 4LZ"]
        assert _changes(session, older)[-1] == "unmerged" and _changes(session, newer)[-1] == "unmerged"


def test_a_child_can_be_merged_again_after_an_unmerge(sessions, pair):
    older, newer = pair
    _merge(sessions, older, newer)
    _unmerge(sessions, newer)
    _merge(sessions, newer, older)
    with sessions() as session:
        assert _child(session, newer).merged_into_id == _child(session, older).id
        assert session.scalar(select(func.count()).select_from(ChildMerge)) == 2
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 2


def test_refusals_name_the_problem(sessions, pair):
    older, newer = pair
    with sessions() as session:
        with pytest.raises(writes.RegistryError, match="cannot merge a child into itself"):
            merging.merge(session, _child(session, older), _child(session, older), "admin.one")
    with sessions() as session:
        with pytest.raises(writes.RegistryError, match=f"{newer} was never merged") as refused:
            merging.unmerge(session, _child(session, newer), "admin.one")
        assert refused.value.field == "cp_id"
    _merge(sessions, older, newer)
    with sessions.begin() as session:
        third = writes.create_child(session, given_name="Zainab", family_name="Hussain",
                                    date_of_birth=dt.date(clock.today().year - 4, 5, 5)).cp_id
    with sessions() as session:
        with pytest.raises(writes.RegistryError, match=f"{newer} was merged into {older}") as refused:
            merging.merge(session, _child(session, third), _child(session, newer), "admin.one")
        assert refused.value.field == "other_cp_id"
    _unmerge(sessions, newer)
    with sessions() as session:
        with pytest.raises(writes.RegistryError, match=f"{newer} is not merged"):
            merging.unmerge(session, _child(session, newer), "admin.one")
        with pytest.raises(writes.RegistryError, match=f"{older} was never merged"):
            merging.unmerge(session, _child(session, older), "admin.one")


def test_unmerge_waits_for_the_survivors_own_merge_to_be_undone(sessions, pair):
    older, newer = pair
    with clock.pinned(clock.now() - dt.timedelta(days=1)), sessions.begin() as session:
        oldest = writes.create_child(session, given_name="Zainab", family_name="Hussain",
                                     date_of_birth=dt.date(clock.today().year - 4, 5, 5)).cp_id
    _merge(sessions, older, newer)
    _merge(sessions, older, oldest)
    with sessions() as session:
        with pytest.raises(writes.RegistryError, match=f"has since been merged into {oldest}: unmerge that first"):
            merging.unmerge(session, _child(session, newer), "admin.one")
    _unmerge(sessions, older)
    _unmerge(sessions, newer)
    with sessions() as session:
        assert [_child(session, cp_id).status for cp_id in (oldest, older, newer)] == ["active"] * 3
        assert session.scalar(select(func.count()).select_from(SourceRecord).where(
            SourceRecord.child_id == _child(session, newer).id)) == 1


def test_open_review_items_follow_the_merge_and_come_back_on_unmerge(sessions, pair):
    older, newer = pair
    with sessions.begin() as session:
        old, new = _child(session, older), _child(session, newer)
        third = writes.create_child(session, given_name="Zainab", family_name="Hussain",
                                    date_of_birth=dt.date(clock.today().year - 4, 5, 5))
        session.flush()
        # One item asks whether the survivor is the newer child (the merge answers it); another offers the
        # newer child as a candidate for a third child (it now offers the survivor).
        answered = ReviewItem(child_id=old.id, candidates=[ReviewCandidate(child_id=new.id, match_weight=9.5,
                                                                          contributions={})])
        other = ReviewItem(child_id=third.id, candidates=[ReviewCandidate(child_id=new.id, match_weight=7.0,
                                                                         contributions={})])
        session.add_all([answered, other])
        session.flush()
        ids = answered.id, other.id
    survivor_id, merged_id = _merge(sessions, older, newer)
    with sessions() as session:
        answered, other = session.get(ReviewItem, ids[0]), session.get(ReviewItem, ids[1])
        assert (answered.status, answered.merged_with_id, answered.candidates) == ("merged", survivor_id, [])
        assert (other.status, [c.child_id for c in other.candidates]) == ("open", [survivor_id])
        assert list(review.labelled_pairs(session)) == []  # closed by a merge, not decided: no label
    _unmerge(sessions, newer)
    with sessions() as session:
        answered, other = session.get(ReviewItem, ids[0]), session.get(ReviewItem, ids[1])
        assert (answered.status, [c.child_id for c in answered.candidates]) == ("open", [merged_id])
        assert (answered.decided_by, answered.merged_with_id) == (None, None)
        assert [c.child_id for c in other.candidates] == [merged_id]


def test_the_index_follows_merge_and_unmerge(es, sessions, pair):
    older, newer = pair
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    _merge(sessions, older, newer)
    sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    es.indices.refresh(index=ALIAS)
    assert not es.exists(index=ALIAS, id=newer)
    survivor = es.get(index=ALIAS, id=older)["_source"]
    assert "mensah" in survivor["family_exact"]  # found by the merged child's name too
    assert verify(es, sessions, ALIAS).drift == []
    rebuild(es, sessions, ALIAS, CHECKPOINT)  # a rebuild leaves the merged child out as well
    assert not es.exists(index=ALIAS, id=newer)
    assert verify(es, sessions, ALIAS).drift == []
    _unmerge(sessions, newer)
    sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    es.indices.refresh(index=ALIAS)
    restored = es.get(index=ALIAS, id=newer)["_source"]
    assert (restored["given_name"], restored["status"]) == ("Kwame", "active")
    assert "mensah" not in es.get(index=ALIAS, id=older)["_source"]["family_exact"]
    assert verify(es, sessions, ALIAS).drift == []


def test_verify_reports_a_merged_childs_leftover_document(es, sessions, pair):
    older, newer = pair
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    _merge(sessions, older, newer)  # not synced: the merged child's document is still there
    report = verify(es, sessions, ALIAS, repair=True)
    assert [(d.cp_id, d.problem) for d in report.drift if d.cp_id == newer] == [
        (newer, "in the index but not in the database")]
    assert not es.exists(index=ALIAS, id=newer)


def test_retention_purges_a_survivor_that_a_merge_and_review_items_refer_to(sessions, pair):
    older, newer = pair
    with sessions.begin() as session:
        third = writes.create_child(session, given_name="Zainab", family_name="Hussain",
                                    date_of_birth=dt.date(clock.today().year - 4, 5, 5))
        session.flush()
        session.add(ReviewItem(child_id=third.id, candidates=[
            ReviewCandidate(child_id=_child(session, older).id, match_weight=7.0, contributions={})]))
    _merge(sessions, older, newer)
    with sessions() as session:
        survivor_dob = _child(session, older).date_of_birth
    purge_day = retention.purge_date(survivor_dob, 6)
    with sessions.begin() as session:
        retention.archive_adults(session, purge_day)
    with sessions.begin() as session:
        purged = retention.purge_expired(session, purge_day, 6)
    assert older in purged and newer in purged
    with sessions() as session:
        assert _child(session, older) is None
        assert _child(session, newer) is None  # the merged record is the same child: it goes with the survivor
        assert session.scalar(select(func.count()).select_from(ChildMerge)) == 0
        # The item that offered only the purged child has nothing left to ask.
        assert session.scalar(select(func.count()).select_from(ReviewCandidate)) == 0
        assert session.scalar(select(func.count()).select_from(ReviewItem)) == 0
