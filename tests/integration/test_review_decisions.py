"""Review decisions in the registry (merge, different, skip), their conflicts, and the labels they leave,
on SQLite and PostgreSQL."""
import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from analyzers import clock
from registry import merging, review, writes
from registry.models import Child, ChildMerge, NonMatch, Organisation, ReviewCandidate, ReviewItem, SourceRecord

from .helpers import load_new_child

HEADER = "source_record_id,given_name,family_name,date_of_birth,gender,postcode,la_code\n"
YEAR = clock.today().year
LA1, LA2, LA3 = "E08000035", "E08000003", "E09000001"
CONTRIBUTIONS = {"family_name": {"level": "exact", "weight": 4.1}, "date_of_birth": {"level": "exact", "weight": 5.2}}


def _load(sessions, source, row, at):
    return load_new_child(sessions, HEADER, source, row, at)


def _child(session, cp_id) -> Child:
    return session.scalar(select(Child).where(Child.cp_id == cp_id))


def _add_child(sessions, given, family, years, la_code=LA1, days_ago=0) -> str:
    with clock.pinned(clock.now() - dt.timedelta(days=days_ago)), sessions.begin() as session:
        return writes.create_child(session, given_name=given, family_name=family, la_code=la_code,
                                   date_of_birth=dt.date(YEAR - years, 6, 1)).cp_id


def _item(sessions, cp_id, *candidates, source_record_id=None) -> int:
    """A review item for ``cp_id`` offering ``candidates`` ((cp_id, weight)...), as linkage would leave one."""
    with sessions.begin() as session:
        record = session.scalar(select(SourceRecord.id).where(SourceRecord.source_record_id == source_record_id))
        item = ReviewItem(child_id=_child(session, cp_id).id, source_record_id=record, candidates=[
            ReviewCandidate(child_id=_child(session, other).id, match_weight=weight, contributions=CONTRIBUTIONS)
            for other, weight in candidates])
        session.add(item)
        session.flush()
        return item.id


@pytest.fixture
def queued(sessions):
    """(known, newcomer, other, item id): a known child, a newer one a feed row made, and a review item asking
    whether the newcomer is the known child (best, 8.2) or another child (3.0)."""
    now = clock.now()
    known = _load(sessions, "school-census", f"S1,Amara,Okafor,{YEAR - 6}-03-14,F,LS6 2AB,{LA1}",
                  now - dt.timedelta(hours=3))
    other = _add_child(sessions, "Kwame", "Mensah", 9, LA2, days_ago=1)
    newcomer = _load(sessions, "gp-registrations", f"G7,Amarah,Okafor,{YEAR - 6}-03-14,F,LS6 2AD,{LA1}",
                     now - dt.timedelta(hours=1))
    item_id = _item(sessions, newcomer, (known, 8.2), (other, 3.0), source_record_id="G7")
    return known, newcomer, other, item_id


def _decide(sessions, item_id, decision, version=1, actor="la.manager", **kwargs):
    with sessions.begin() as session:
        item = review.decide(session, item_id, decision, actor, version, **kwargs)
        return item.status, item.version


def _authority(session, code) -> int:
    return session.scalar(select(Organisation.id).where(Organisation.kind == "local_authority",
                                                        Organisation.code == code))


def test_open_items_are_those_touching_the_callers_authorities(sessions):
    a1, a2, a3 = (_add_child(sessions, name, "Okafor", years, la) for name, years, la in
                  (("Amara", 6, LA1), ("Kwame", 9, LA2), ("Zainab", 4, LA3)))
    b1, b3 = _add_child(sessions, "Ada", "Obi", 7, LA1), _add_child(sessions, "Ola", "Ade", 8, LA3)
    touching_la1 = _item(sessions, a2, (a1, 8.0))   # its candidate is LA1's
    la3_only = _item(sessions, a3, (b3, 7.0))
    decided = _item(sessions, b1, (a2, 7.5))        # LA1's child, but decided already
    _decide(sessions, decided, "different")
    with sessions() as session:
        la1, la2, la3 = (_authority(session, code) for code in (LA1, LA2, LA3))
        assert [i.id for i in review.open_items(session, {la1}, 50, 0)] == [touching_la1]
        assert [i.id for i in review.open_items(session, {la2}, 50, 0)] == [touching_la1]
        assert [i.id for i in review.open_items(session, {la3}, 50, 0)] == [la3_only]
        assert [i.id for i in review.open_items(session, None, 50, 0)] == [touching_la1, la3_only]
        assert [i.id for i in review.open_items(session, None, 1, 1)] == [la3_only]
        assert review.open_items(session, set(), 50, 0) == []


def test_merge_joins_the_newcomer_to_the_best_candidate_as_a_reviewed_link(sessions, queued):
    known, newcomer, other, item_id = queued
    status, version = _decide(sessions, item_id, "merge")
    assert (status, version) == ("merged", 2)
    with sessions() as session:
        item = session.get(ReviewItem, item_id)
        survivor, merged = _child(session, known), _child(session, newcomer)
        assert (item.merged_with_id, item.decided_by, item.decided_at is not None) == (survivor.id, "la.manager", True)
        assert (merged.status, merged.merged_into_id) == ("merged", survivor.id)
        record = session.scalar(select(SourceRecord).where(SourceRecord.source_record_id == "G7"))
        # The link says who decided and why: the reviewed candidate's weight and contributions.
        assert (record.child_id, record.link_decision, record.match_weight, record.link_contributions) == (
            survivor.id, "reviewed", 8.2, CONTRIBUTIONS)
        assert session.scalar(select(ChildMerge.review_item_id)) == item_id
        assert _child(session, other).status == "active"


def test_merge_with_a_chosen_candidate(sessions, queued):
    known, newcomer, other, item_id = queued
    with sessions() as session:
        other_id = _child(session, other).id
    _decide(sessions, item_id, "merge", candidate_child_id=other_id)
    with sessions() as session:
        # The other child is older (made a day ago), so the newcomer joins it; the known child is untouched.
        assert _child(session, newcomer).merged_into_id == other_id
        assert session.get(ReviewItem, item_id).merged_with_id == other_id
        assert _child(session, known).status == "active"


def test_different_remembers_every_candidate_as_another_child(sessions, queued):
    known, newcomer, other, item_id = queued
    assert _decide(sessions, item_id, "different") == ("different", 2)
    with sessions() as session:
        k, n, o = (_child(session, cp_id).id for cp_id in (known, newcomer, other))
        pairs = set(session.execute(select(NonMatch.low_child_id, NonMatch.high_child_id)).tuples())
        assert pairs == {(min(n, k), max(n, k)), (min(n, o), max(n, o))}
        assert review.is_non_match(session, n, k) and review.is_non_match(session, k, n)
        assert not review.is_non_match(session, k, o)
        assert review.non_matches_among(session, n, [k, o]) == {k, o}
        assert session.scalar(select(func.count()).select_from(ChildMerge)) == 0


def test_different_about_one_candidate_remembers_that_pair_only(sessions, queued):
    known, newcomer, other, item_id = queued
    with sessions() as session:
        other_id = _child(session, other).id
    _decide(sessions, item_id, "different", candidate_child_id=other_id)
    with sessions() as session:
        n, k = _child(session, newcomer).id, _child(session, known).id
        assert review.non_matches_among(session, n, [k, other_id]) == {other_id}


def test_a_non_match_holds_for_the_child_a_candidate_was_merged_into(sessions, queued):
    known, newcomer, other, item_id = queued
    _decide(sessions, item_id, "different")
    oldest = _add_child(sessions, "Amara", "Okafor", 6, LA1, days_ago=30)
    with sessions.begin() as session:
        merging.merge(session, _child(session, known), _child(session, oldest), "admin.one")
    with sessions() as session:
        n, o = _child(session, newcomer).id, _child(session, oldest).id
        assert review.non_matches_among(session, n, [o]) == {o}
        assert review.is_non_match(session, o, n)


def test_skip_writes_nothing_and_leaves_the_item_open(sessions, queued):
    *_, item_id = queued
    assert _decide(sessions, item_id, "skip") == ("open", 1)
    with sessions() as session:
        assert session.get(ReviewItem, item_id).decided_by is None
        assert session.scalar(select(func.count()).select_from(NonMatch)) == 0
        assert session.scalar(select(func.count()).select_from(ChildMerge)) == 0
        assert [i.id for i in review.open_items(session, None, 10, 0)] == [item_id]


def test_a_stale_or_decided_item_is_a_conflict(sessions, queued):
    *_, item_id = queued
    with sessions() as session:
        with pytest.raises(review.ReviewConflict) as conflict:
            review.decide(session, item_id, "merge", "la.manager", expected_version=7)
        assert conflict.value.field == "version" and isinstance(conflict.value, writes.RegistryError)
    _decide(sessions, item_id, "different")
    with sessions() as session:
        for decision in ("merge", "different", "skip"):  # even at the version it has now
            with pytest.raises(review.ReviewConflict, match="someone else decided"):
                review.decide(session, item_id, decision, "la.other", expected_version=2)


def test_bad_decisions_and_candidates_are_refused_by_field(sessions, queued):
    known, *_, item_id = queued
    with sessions() as session:
        refusals = {}
        for kwargs in ({"decision": "maybe"}, {"decision": "merge", "candidate_child_id": -1},
                       {"decision": "merge", "item_id": 999999}):
            kwargs = {"item_id": item_id, **kwargs}
            with pytest.raises(writes.RegistryError) as refused:
                review.decide(session, kwargs.pop("item_id"), kwargs.pop("decision"), "la.manager", 1, **kwargs)
            refusals[refused.value.field] = refused.value.message
            session.rollback()
        assert set(refusals) == {"decision", "candidate_child_id", "item_id"}
        assert refusals["candidate_child_id"] == "is not one of this item's candidates"


def test_two_people_deciding_at_once_get_one_winner_and_one_conflict(sessions, queued):
    *_, item_id = queued
    start = threading.Barrier(2)
    outcomes = {}

    def decide(decision):
        start.wait()
        try:
            with sessions.begin() as session:
                review.decide(session, item_id, decision, f"reviewer.{decision}", expected_version=1)
            outcomes[decision] = "won"
        except review.ReviewConflict:
            outcomes[decision] = "conflict"

    threads = [threading.Thread(target=decide, args=(d,)) for d in ("merge", "different")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["conflict", "won"]
    winner = next(d for d, outcome in outcomes.items() if outcome == "won")
    with sessions() as session:
        item = session.get(ReviewItem, item_id)
        assert (item.status, item.decided_by, item.version) == (
            {"merge": "merged", "different": "different"}[winner], f"reviewer.{winner}", 2)
        # Only the winner's decision left anything behind.
        assert session.scalar(select(func.count()).select_from(ChildMerge)) == (winner == "merge")
        assert session.scalar(select(func.count()).select_from(NonMatch)) == (2 if winner == "different" else 0)


def test_decided_items_are_labelled_pairs_and_an_undone_merge_is_no_label(sessions, queued):
    known, newcomer, other, item_id = queued
    third = _add_child(sessions, "Zainab", "Hussain", 4, LA3)
    second = _item(sessions, third, (other, 4.0))
    _decide(sessions, item_id, "merge")
    _decide(sessions, second, "different")
    with sessions() as session:
        pairs = list(review.labelled_pairs(session))
    assert [(p["item"], p["match"]) for p in pairs] == [(item_id, True), (second, False)]
    merged = pairs[0]
    # Left: the row the item was made for; right: the known child by its own records (not the row it absorbed).
    assert merged["left"] == {"given_name": "Amarah", "middle_names": None, "family_name": "Okafor",
                              "date_of_birth": f"{YEAR - 6}-03-14", "gender": "female", "postcode": "LS6 2AD",
                              "address_line_1": None, "nhs_number": None, "upn": None}
    assert (merged["right"]["given_name"], merged["right"]["postcode"]) == ("Amara", "LS6 2AB")
    assert (pairs[1]["left"]["given_name"], pairs[1]["right"]["given_name"]) == ("Zainab", "Kwame")
    assert pairs[1]["right"]["date_of_birth"] == f"{YEAR - 9}-06-01"
    with sessions.begin() as session:
        merging.unmerge(session, _child(session, newcomer), "admin.one")
    with sessions() as session:
        assert [p["item"] for p in review.labelled_pairs(session)] == [second]
