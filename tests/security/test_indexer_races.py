"""The indexer's race windows, driven through the real rebuild and sync against a real node.

A shielding must never be lost between the old and the new index of a rebuild, nor become
unprotected while a dead-lettered document is retried. In every window two things are checked:
the indexer's own promise (a child shielded in the database is either listed by
``shielded_since_indexed`` or shielded in what a search of the live index sees), and the
shielding-leak matrix's (a search by someone who may not locate the child does not move with
its postcode). Interleavings are forced by wrapping the real Elasticsearch client (a hook runs at
the chosen call, then the call goes through) and by a follower thread held at its bulk write:
no sleeps, no patched results.
"""
from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select

from analyzers import clock
from indexing import IndexingError, rebuild, sync_once, sync_until_current, verify
from registry import checkpoints, writes
from registry.checkpoints import LeaseLost
from registry.models import Child

from ..integration.helpers import ALIAS, CHECKPOINT, change_child
from .conftest import report
from .test_shielding_leaks import WRONG_POSTCODE, _district_neighbour, _entries, _postcode_invariance, _search

WAIT = 60  # seconds a thread may take to reach its meeting point before the test gives up


class Hooked:
    """The real client, with ``hooks`` run at "bulk" (which may rewrite the operations), "swap" and
    "swapped" (just before and just after the alias moves)."""

    def __init__(self, real, **hooks):
        self._real, self._hooks = real, hooks

    def __getattr__(self, name):
        return getattr(self._real, name)

    def options(self, **kwargs):  # the bulk helpers call this: keep the hooks on the copy
        return Hooked(self._real.options(**kwargs), **self._hooks)

    def bulk(self, *args, **kwargs):
        if "bulk" in self._hooks:
            kwargs["operations"] = self._hooks["bulk"](kwargs["operations"]) or kwargs["operations"]
        return self._real.bulk(*args, **kwargs)

    @property
    def indices(self):
        return _HookedIndices(self._real.indices, self._hooks)


class _HookedIndices:
    def __init__(self, real, hooks):
        self._real, self._hooks = real, hooks

    def __getattr__(self, name):
        return getattr(self._real, name)

    def update_aliases(self, *args, **kwargs):
        if "swap" in self._hooks:
            self._hooks["swap"]()
        answer = self._real.update_aliases(*args, **kwargs)
        if "swapped" in self._hooks:
            self._hooks["swapped"]()
        return answer


def _once(hook):
    """A hook that runs at the first call only (the rebuild's load, not its catch-up)."""
    done = []

    def run(*args):
        if not done:
            done.append(True)
            return hook(*args)
    return run


def _refusing(cp_id: str):
    """A bulk hook giving ``cp_id``'s document a field the strict mapping lacks: Elasticsearch refuses it."""
    def hook(operations):
        lines = [json.loads(line) for line in operations]
        for n, line in enumerate(lines[:-1]):
            if line.get("index", {}).get("_id") == cp_id:
                lines[n + 1] = {**lines[n + 1], "not_in_the_mapping": 1}
        return [json.dumps(line) for line in lines]
    return hook


def _shield(world, cp_id: str) -> None:
    change_child(world.sessions, cp_id, lambda s, c: writes.set_shielded(s, c, True, "witness_protection"))


def _unprotected(world, es, stage: str) -> list:
    """The indexer's promise: shielded in the database means pending, or shielded in the searchable index."""
    cp_id = world.ids["pending"]
    with world.sessions() as session:
        shielded = session.scalar(select(Child.shielded).where(Child.cp_id == cp_id))
        pending = checkpoints.shielded_since_indexed(session, CHECKPOINT)
    if not shielded or cp_id in pending:
        return []
    seen = [hit["_source"]["shielded"] for hit in
            es.search(index=ALIAS, query={"term": {"cp_id": cp_id}})["hits"]["hits"]]
    return [] if seen == [True] else [(stage, "shielded, not pending, yet searchable as", seen)]


def _checks(world, es, stage: str) -> list:
    return _unprotected(world, es, stage) + _leaks(world, stage)


def _leaks(world, stage: str) -> list:
    """Searches by those who may not locate the "pending" child that move with its postcode, or miss its marker."""
    spec, cp_id = world.specs["pending"], world.ids["pending"]
    criteria = {"given_name": spec.given, "family_name": spec.family, "date_of_birth": spec.dob.isoformat()}
    variants = [spec.postcode, _district_neighbour(spec.postcode), WRONG_POSTCODE]
    found = []
    for label in ("practitioner", "api", "la2"):
        found += [(stage, *m) for m in _postcode_invariance(world, label, criteria, ("pending",), variants)]
        entry = _entries(_search(world.caller(label), criteria)).get(cp_id)
        if entry is None or entry[4] is not True:
            found.append((stage, label, "result should say shielded", entry))
    return found


def _settled(world, es) -> list:
    """What must hold once the race is over: the live document shielded, nothing pending, no drift."""
    cp_id = world.ids["pending"]
    problems = []
    if es.get(index=ALIAS, id=cp_id)["_source"]["shielded"] is not True:
        problems.append(("live document", "should say shielded"))
    with world.sessions() as session:
        checkpoint, last = checkpoints.get_checkpoint(session, CHECKPOINT), checkpoints.last_change_seq(session)
        pending = checkpoints.shielded_since_indexed(session, CHECKPOINT)
    drift = verify(es, world.sessions, ALIAS).drift
    if drift:
        problems.append(("index verify", drift))
    if pending and not drift:
        problems.append(("still pending although indexed", pending, checkpoint, last))
    return problems


def _take_lease(world, owner: str) -> None:
    with world.sessions.begin() as session:
        assert checkpoints.acquire_lease(session, CHECKPOINT, owner, seconds=60)


def test_a_shielding_a_follower_writes_across_a_rebuild_swap_is_not_stranded(world, es):
    """The follower read the shielding and picked the old index before the swap, and writes after it."""
    world.index()
    cp_id = world.ids["pending"]
    _take_lease(world, "follower")
    at_bulk, rebuild_done, outcome = threading.Event(), threading.Event(), {}

    def held_at_bulk(operations):
        at_bulk.set()
        assert rebuild_done.wait(WAIT)

    def follower():
        try:
            outcome["result"] = sync_once(Hooked(es, bulk=held_at_bulk), world.sessions, ALIAS, CHECKPOINT,
                                          owner="follower")
        except Exception as exc:  # reported below
            outcome["error"] = exc

    thread = threading.Thread(target=follower)

    def while_loading(operations):  # the new index's documents are built; now the child is shielded
        _shield(world, cp_id)
        thread.start()
        assert at_bulk.wait(WAIT), "the follower never reached its bulk write"

    mismatches = []
    try:
        rebuild(Hooked(es, bulk=_once(while_loading), swapped=lambda: mismatches.extend(_checks(world, es, "swap"))),
                world.sessions, ALIAS, CHECKPOINT)
    finally:
        rebuild_done.set()
        thread.join(WAIT)
    mismatches += _checks(world, es, "after the rebuild") + _settled(world, es)
    assert mismatches == [], report(mismatches)
    # The follower was fenced: its batch could not move the checkpoint the rebuild had set.
    assert isinstance(outcome.get("error"), LeaseLost), outcome


def test_a_shielding_a_follower_applied_to_the_old_index_during_the_load_is_in_the_new_one_at_the_swap(world, es):
    """Searches in the moment after the swap (before the rebuild records its checkpoint) must not leak."""
    world.index()
    cp_id = world.ids["pending"]
    _take_lease(world, "follower")
    mismatches = []

    def while_loading(operations):  # built from before: a follower applies the shielding to the old index
        _shield(world, cp_id)
        sync_until_current(es, world.sessions, ALIAS, CHECKPOINT, owner="follower")
        mismatches.extend(_checks(world, es, "while the new index loads"))

    rebuild(Hooked(es, bulk=_once(while_loading), swapped=lambda: mismatches.extend(_checks(world, es, "swap"))),
            world.sessions, ALIAS, CHECKPOINT)
    mismatches += _checks(world, es, "after the rebuild") + _settled(world, es)
    assert mismatches == [], report(mismatches)


def test_while_a_rebuild_swaps_followers_stand_by_and_a_one_shot_sync_cannot_move_the_checkpoint(world, es):
    world.index()
    cp_id = world.ids["pending"]
    seen = {}

    def at_the_swap():
        with world.sessions() as session:
            seen["checkpoint"] = checkpoints.get_checkpoint(session, CHECKPOINT)
        with world.sessions.begin() as session:
            seen["follower leads"] = checkpoints.acquire_lease(session, CHECKPOINT, "follower", seconds=60)
        _shield(world, cp_id)
        try:
            sync_until_current(es, world.sessions, ALIAS, CHECKPOINT)
        except IndexingError as exc:
            seen["one-shot sync"] = str(exc)
        with world.sessions() as session:
            seen["checkpoint after"] = checkpoints.get_checkpoint(session, CHECKPOINT)

    rebuild(Hooked(es, swapped=at_the_swap), world.sessions, ALIAS, CHECKPOINT)
    assert seen["follower leads"] is False
    assert "holds the lease" in seen.get("one-shot sync", "")
    assert seen["checkpoint after"] == seen["checkpoint"]
    # Released afterwards: a follower leads again and applies the shielding made during the swap.
    _take_lease(world, "follower")
    sync_until_current(es, world.sessions, ALIAS, CHECKPOINT, owner="follower")
    mismatches = _checks(world, es, "after the follower caught up") + _settled(world, es)
    assert mismatches == [], report(mismatches)


def test_a_rebuild_that_stalls_past_its_lease_before_the_swap_applies_what_a_follower_did_meanwhile(world, es):
    """Its lease lapsed, a follower took over and applied a shielding to the old index just before the swap."""
    world.index()
    cp_id = world.ids["pending"]

    def stalled_before_the_swap():
        with clock.pinned(clock.now() + dt.timedelta(hours=1)):  # the rebuild's lease has lapsed by then
            _take_lease(world, "follower")
            _shield(world, cp_id)
            sync_until_current(es, world.sessions, ALIAS, CHECKPOINT, owner="follower")

    rebuild(Hooked(es, swap=stalled_before_the_swap), world.sessions, ALIAS, CHECKPOINT)
    mismatches = _checks(world, es, "after the rebuild") + _settled(world, es)
    assert mismatches == [], report(mismatches)


def test_a_second_rebuild_is_refused_while_one_holds_the_lease(world, es):
    world.index()

    def second():
        with pytest.raises(IndexingError, match="another rebuild"):
            rebuild(es, world.sessions, ALIAS, CHECKPOINT)

    live, _ = rebuild(Hooked(es, swapped=second), world.sessions, ALIAS, CHECKPOINT)
    assert sorted(es.indices.get(index=f"{ALIAS}-*").body) == [live]  # the refused one left nothing behind
    assert verify(es, world.sessions, ALIAS).drift == []


def test_a_dead_lettered_shielding_counts_until_its_retry_is_searchable(world, es):
    """While the shielding is a dead letter searches treat the child as shielded; its retry is searchable
    before the dead letter is cleared, even with the index's periodic refresh turned off."""
    world.index()
    cp_id = world.ids["pending"]
    _shield(world, cp_id)
    first = sync_until_current(Hooked(es, bulk=_refusing(cp_id)), world.sessions, ALIAS, CHECKPOINT)
    assert first.dead_letters == 1
    with world.sessions() as session:
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == checkpoints.last_change_seq(session)
        assert [d.cp_id for d in checkpoints.dead_letters(session)] == [cp_id]
        assert checkpoints.shielded_since_indexed(session, CHECKPOINT) == [cp_id]
    es.indices.refresh(index=ALIAS)
    assert es.get(index=ALIAS, id=cp_id)["_source"]["shielded"] is False  # the index has not heard of it
    mismatches = _checks(world, es, "dead letter")
    # Nothing becomes searchable by itself now: only a refresh someone asks for makes it so.
    es.indices.put_settings(index=ALIAS, settings={"index": {"refresh_interval": "-1"}})
    retried = sync_until_current(es, world.sessions, ALIAS, CHECKPOINT)
    assert retried.dead_letters == 0
    with world.sessions() as session:
        assert checkpoints.dead_letter_count(session) == 0
    mismatches += _checks(world, es, "dead letter cleared") + _settled(world, es)
    assert mismatches == [], report(mismatches)
