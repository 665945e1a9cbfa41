"""Change-log compaction against a real Elasticsearch node, on SQLite and PostgreSQL."""
from sqlalchemy import select

from indexing import rebuild, sync_until_current, verify
from registry import checkpoints, writes
from registry.compaction import compact
from registry.models import ChangeLog, Child

from .helpers import ALIAS, CHECKPOINT, add_child, change_child


def _rows(sessions) -> list[tuple[int, int, str]]:
    with sessions() as session:
        return list(session.execute(select(ChangeLog.seq, ChangeLog.child_id, ChangeLog.change)
                                    .order_by(ChangeLog.seq)).tuples())


def _rename(sessions, cp_id, family):
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, family_name=family))


def _set_checkpoint(sessions, name, seq):
    with sessions.begin() as session:
        checkpoints.set_checkpoint(session, name, seq)


def test_compaction_removes_only_changes_every_checkpoint_is_past(es, sessions):
    amara, kwame = add_child(sessions, "Amara"), add_child(sessions, "Kwame")
    add_child(sessions, "Siobhan")  # one change only: its newest, which stays
    for n in range(3):
        _rename(sessions, amara, f"Okafor{n}")
        _rename(sessions, kwame, f"Mensah{n}")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    _rename(sessions, amara, "Okafor-Smith")  # after every checkpoint
    with sessions() as session:
        lowest = checkpoints.last_change_seq(session) - 4
    _set_checkpoint(sessions, "a-slower-indexer", lowest)
    before = _rows(sessions)
    newest = {child_id: seq for seq, child_id, _ in before}

    result = compact(sessions, batch_size=2)

    kept = [row for row in before if row[0] > lowest or newest[row[1]] == row[0]]
    assert _rows(sessions) == kept
    assert result.removed == len(before) - len(kept) > 0
    assert (result.horizon, result.remaining) == (lowest, len(kept))
    assert compact(sessions).removed == 0  # nothing more to remove until the checkpoints move


def test_a_follower_and_a_rebuild_after_compaction_give_a_correct_index(es, sessions):
    ids = [add_child(sessions, given) for given in ("Amara", "Kwame", "Siobhan", "Tomasz")]
    for cp_id in ids[:3]:
        _rename(sessions, cp_id, "Before")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert compact(sessions).removed > 0
    _rename(sessions, ids[0], "Adeyemi")
    change_child(sessions, ids[1], lambda s, c: writes.set_shielded(s, c, True, "witness_protection"))
    newcomer = add_child(sessions, "Ffion", "Jones")
    sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    assert verify(es, sessions, ALIAS).drift == []
    assert compact(sessions).removed > 0

    rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert verify(es, sessions, ALIAS).drift == []
    es.indices.refresh(index=ALIAS)
    with sessions() as session:
        newest = dict(checkpoints.latest_change_per_child(session, checkpoints.last_change_seq(session)))
        by_cp_id = dict(session.execute(select(Child.cp_id, Child.id)).tuples().all())
    for cp_id in ids + [newcomer]:
        assert es.get(index=ALIAS, id=cp_id)["_version"] == newest[by_cp_id[cp_id]]
    assert es.get(index=ALIAS, id=ids[0])["_source"]["family_name"] == "Adeyemi"
    assert es.get(index=ALIAS, id=ids[1])["_source"]["shielded"] is True


def test_shielded_since_indexed_answers_the_same_after_compaction(es, sessions):
    applied, dead_lettered, pending, plain = (add_child(sessions, given) for given in
                                              ("Amara", "Kwame", "Siobhan", "Tomasz"))
    for cp_id in (applied, dead_lettered):
        change_child(sessions, cp_id, lambda s, c: writes.set_shielded(s, c, True, "witness_protection"))
        _rename(sessions, cp_id, "Later")  # a newer change: the shielding row alone would be removable
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    with sessions.begin() as session:  # its document failed to build: it stays pending while it retries
        child_id = session.scalar(select(Child.id).where(Child.cp_id == dead_lettered))
        checkpoints.record_dead_letter(session, child_id, dead_lettered, "document could not be built")
    change_child(sessions, pending, lambda s, c: writes.set_shielded(s, c, True, "witness_protection"))
    _rename(sessions, plain, "Unshielded")
    with sessions() as session:
        before = sorted(checkpoints.shielded_since_indexed(session, CHECKPOINT))
    assert before == sorted([dead_lettered, pending])

    assert compact(sessions).removed > 0

    with sessions() as session:
        assert sorted(checkpoints.shielded_since_indexed(session, CHECKPOINT)) == before


def test_the_compact_command_reports_what_it_removed_and_refuses_without_a_checkpoint(es, sessions, run):
    cp_id = add_child(sessions)
    _rename(sessions, cp_id, "Mensah")
    before = _rows(sessions)
    refused = run("index", "compact")
    assert refused.exit_code == 1
    assert "no indexer checkpoint exists" in refused.output
    assert _rows(sessions) == before and len(before) > 1  # nothing removed

    rebuild(es, sessions, ALIAS, CHECKPOINT)
    with sessions() as session:
        last = checkpoints.last_change_seq(session)
    done = run("index", "compact")
    assert done.exit_code == 0, done.output
    assert (f"removed {len(before) - 1} change-log rows up to seq {last} (the lowest checkpoint); 1 remain"
            in done.output)
    assert [seq for seq, _, _ in _rows(sessions)] == [last]
