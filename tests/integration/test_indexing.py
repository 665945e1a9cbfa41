"""Rebuild and sync against a real Elasticsearch node, on SQLite and PostgreSQL."""
import time

import pytest
from sqlalchemy import select

from indexing import IndexingError, install_template, live_index, rebuild, sync_once, sync_until_current, verify
from indexing import loader
from indexing.admin import template_version
from registry import checkpoints, writes
from registry.models import Child

from .helpers import ALIAS, CHECKPOINT, add_child, change_child


def _doc(es, cp_id):
    return es.get(index=ALIAS, id=cp_id)


def test_template_install_is_idempotent_and_versioned(es):
    assert install_template(es, ALIAS) is True
    assert install_template(es, ALIAS) is False
    installed = es.indices.get_index_template(name=ALIAS)["index_templates"][0]["index_template"]
    assert installed["version"] == template_version(ALIAS)
    assert installed["template"]["mappings"]["dynamic"] == "strict"


def test_a_newer_template_on_the_cluster_stops_indexing(es):
    install_template(es, ALIAS)
    body = es.indices.get_index_template(name=ALIAS)["index_templates"][0]["index_template"]
    body["version"] = template_version(ALIAS) + 1
    es.indices.put_index_template(name=ALIAS, **body)
    with pytest.raises(IndexingError, match="newer than this code"):
        install_template(es, ALIAS)


def test_rebuild_indexes_every_child_and_swaps_the_alias(es, sessions):
    first = add_child(sessions, "Amara", "Okafor", aliases=[("Amy", "Okafor-Smith")])
    add_child(sessions, "Kwame", "Mensah")
    old_index, count = rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert count == 2
    new_index, _ = rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert new_index != old_index
    assert live_index(es, ALIAS) == new_index
    assert not es.indices.exists(index=old_index)  # the replaced index is deleted
    doc = _doc(es, first)
    source = doc["_source"]
    assert {"okafor", "smith", "okaforsmith"} <= set(source["family_exact"])
    assert {"amara", "amy"} <= set(source["given_exact"])
    assert [(n["given"], n["family"], n["kind"]) for n in source["names"]] == [
        ("Amara", "Okafor", "primary"), ("Amy", "Okafor-Smith", "alias")]
    assert source["dob_year"] == source["date_of_birth"][:4]
    with sessions() as session:
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == checkpoints.last_change_seq(session)
        # The document's external version is the child's newest change-log sequence.
        newest = dict(checkpoints.latest_change_per_child(session, checkpoints.last_change_seq(session)))
        child_id = session.scalar(select(Child.id).where(Child.cp_id == first))
    assert doc["_version"] == newest[child_id]


def test_a_failed_rebuild_deletes_its_new_index_and_leaves_the_live_one(es, sessions, monkeypatch):
    add_child(sessions)
    live, _ = rebuild(es, sessions, ALIAS, CHECKPOINT)

    def broken(child):
        raise RuntimeError("document builder failed")

    monkeypatch.setattr(loader, "build_document", broken)
    with pytest.raises(RuntimeError, match="document builder failed"):
        rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert live_index(es, ALIAS) == live
    assert sorted(es.indices.get(index=f"{ALIAS}-*").body) == [live]


def test_sync_applies_changes_after_the_checkpoint_and_only_then_moves_it(es, sessions):
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    change_child(sessions, cp_id, lambda s, c: writes.set_shielded(s, c, True))
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, postcode="M1 1AE"))
    new = add_child(sessions, "Kwame", "Mensah")
    result = sync_once(es, sessions, ALIAS, CHECKPOINT)
    assert result.changes == 3 and result.documents == 2  # changes to one child collapse into one write
    es.indices.refresh(index=ALIAS)
    assert _doc(es, cp_id)["_source"]["shielded"] is True
    assert _doc(es, cp_id)["_source"]["postcode"] == "M1 1AE"
    assert _doc(es, new)["_source"]["family_name"] == "Mensah"
    with sessions() as session:
        assert result.checkpoint == checkpoints.last_change_seq(session)
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == result.checkpoint
    assert sync_once(es, sessions, ALIAS, CHECKPOINT).changes == 0


def test_replaying_the_change_log_is_harmless(es, sessions):
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, family_name="Okafor-Bello"))
    sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    version = _doc(es, cp_id)["_version"]
    with sessions.begin() as session:
        checkpoints.set_checkpoint(session, CHECKPOINT, 0)
    result = sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    assert result.changes > 0
    assert _doc(es, cp_id)["_version"] == version
    assert _doc(es, cp_id)["_source"]["family_name"] == "Okafor-Bello"


def test_an_older_write_arriving_late_is_ignored(es, sessions):
    cp_id = add_child(sessions, family="Okafor")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    with sessions() as session:
        stale_version = checkpoints.last_change_seq(session)
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, family_name="Bello"))
    sync_until_current(es, sessions, ALIAS, CHECKPOINT)
    # A slow worker now writes the older document: external versioning refuses it.
    from elasticsearch import ConflictError

    with pytest.raises(ConflictError):
        es.index(index=ALIAS, id=cp_id, version=stale_version, version_type="external",
                 document={**_doc(es, cp_id)["_source"], "family_name": "Okafor"})
    assert _doc(es, cp_id)["_source"]["family_name"] == "Bello"


def test_sync_without_an_index_says_what_to_do(es, sessions):
    add_child(sessions)
    with pytest.raises(IndexingError, match="contactpoint index rebuild"):
        sync_once(es, sessions, ALIAS, CHECKPOINT)


def test_a_child_whose_document_fails_goes_to_dead_letters_without_blocking_others(es, sessions, monkeypatch):
    bad = add_child(sessions, "Amara", "Okafor")
    good = add_child(sessions, "Kwame", "Mensah")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    change_child(sessions, bad, lambda s, c: writes.update_child(s, c, given_name="Amy"))
    change_child(sessions, good, lambda s, c: writes.update_child(s, c, given_name="Kofi"))
    import indexing.sync as sync_module

    original = sync_module.build_document

    def failing_for_amy(child):
        if child.given_name == "Amy":
            raise ValueError("cannot build this one")
        return original(child)

    monkeypatch.setattr(sync_module, "build_document", failing_for_amy)
    result = sync_once(es, sessions, ALIAS, CHECKPOINT)
    assert (result.documents, result.dead_letters) == (1, 1)
    es.indices.refresh(index=ALIAS)
    assert _doc(es, good)["_source"]["given_name"] == "Kofi"
    assert _doc(es, bad)["_source"]["given_name"] == "Amara"  # not yet
    with sessions() as session:
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == checkpoints.last_change_seq(session)
        (letter,) = checkpoints.dead_letters(session)
        assert (letter.cp_id, letter.attempts) == (bad, 1)
        assert "cannot build this one" in letter.error
    # Still failing: retried and counted. Then fixed: retried, indexed and cleared.
    assert sync_once(es, sessions, ALIAS, CHECKPOINT).dead_letters == 1
    with sessions() as session:
        assert checkpoints.dead_letters(session)[0].attempts == 2
    monkeypatch.setattr(sync_module, "build_document", original)
    assert sync_once(es, sessions, ALIAS, CHECKPOINT).dead_letters == 0
    es.indices.refresh(index=ALIAS)
    assert _doc(es, bad)["_source"]["given_name"] == "Amy"
    with sessions() as session:
        assert checkpoints.dead_letter_count(session) == 0


def test_a_document_refused_by_elasticsearch_is_a_dead_letter_not_a_stall(es, sessions, monkeypatch):
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, given_name="Amy"))
    import indexing.sync as sync_module

    original = sync_module.build_document
    monkeypatch.setattr(sync_module, "build_document", lambda child: {**original(child), "not_mapped": 1})
    result = sync_once(es, sessions, ALIAS, CHECKPOINT)
    assert result.dead_letters == 1
    with sessions() as session:
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == checkpoints.last_change_seq(session)
        assert "strict_dynamic_mapping_exception" in checkpoints.dead_letters(session)[0].error


def test_a_purged_child_leaves_the_index(es, sessions):
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)

    def purge(session, child):
        writes.log_change(session, child, "purged")
        session.delete(child)

    change_child(sessions, cp_id, purge)
    sync_once(es, sessions, ALIAS, CHECKPOINT)
    es.indices.refresh(index=ALIAS)
    assert not es.exists(index=ALIAS, id=cp_id)


def test_an_archived_child_stays_indexed_with_its_status(es, sessions):
    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    change_child(sessions, cp_id, lambda s, c: (setattr(c, "status", "archived"), writes.log_change(s, c, "archived")))
    sync_once(es, sessions, ALIAS, CHECKPOINT)
    assert _doc(es, cp_id)["_source"]["status"] == "archived"


def test_backoff_grows_with_failures_and_is_jittered():
    from tenacity import RetryCallState

    from indexing.sync import BACKOFF

    def delays_after(failures: int) -> list[float]:
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = failures
        return [BACKOFF(state) for _ in range(50)]

    delays = {n: delays_after(n) for n in range(1, 12)}
    assert all(0.5 <= d <= 30 for ds in delays.values() for d in ds)
    assert max(delays[1] + delays[2]) <= 2.0 and max(delays[9] + delays[10] + delays[11]) > 2.0
    assert len({round(d, 6) for d in delays[5]}) > 1


def test_verify_reports_drift_child_by_child_and_repairs_it(es, sessions):
    from indexing import verify

    kept, edited, lost = add_child(sessions, "Amara"), add_child(sessions, "Kwame"), add_child(sessions, "Zoe")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert verify(es, sessions, ALIAS).drift == []
    index = live_index(es, ALIAS)
    # Drift as it happens: content changed under the same version, a document lost, a stray one.
    version = _doc(es, edited)["_version"]
    es.index(index=index, id=edited, document={**_doc(es, edited)["_source"], "shielded": True},
             version=version, version_type="external_gte")
    es.delete(index=index, id=lost, version=_doc(es, lost)["_version"], version_type="external_gte")
    es.index(index=index, id="1111111111", document={**_doc(es, kept)["_source"], "cp_id": "1111111111"})
    report = verify(es, sessions, ALIAS)
    assert (report.database, report.index) == (3, 3)
    assert sorted((d.cp_id, d.problem) for d in report.drift) == sorted([
        (edited, "differs from the database"), (lost, "missing from the index"),
        ("1111111111", "in the index but not in the database")])
    repaired = verify(es, sessions, ALIAS, repair=True)
    assert repaired.repaired == 3
    assert verify(es, sessions, ALIAS).drift == []
    assert _doc(es, edited)["_source"]["shielded"] is False


def test_a_document_ahead_of_the_database_needs_a_rebuild(es, sessions):
    from indexing import verify

    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    es.index(index=live_index(es, ALIAS), id=cp_id, document={**_doc(es, cp_id)["_source"], "gender": "male"},
             version=10**9, version_type="external")
    with pytest.raises(IndexingError, match="run `contactpoint index rebuild`"):
        verify(es, sessions, ALIAS, repair=True)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    assert verify(es, sessions, ALIAS).drift == []


def test_one_worker_holds_the_lease_and_a_standby_takes_over_when_it_lapses(sessions):
    from registry.checkpoints import LeaseLost, acquire_lease

    with sessions.begin() as session:
        assert acquire_lease(session, CHECKPOINT, "worker-a", seconds=30) is True
    with sessions.begin() as session:
        assert acquire_lease(session, CHECKPOINT, "worker-b", seconds=30) is False
        assert acquire_lease(session, CHECKPOINT, "worker-a", seconds=30) is True  # renewal
    with sessions.begin() as session:
        assert acquire_lease(session, CHECKPOINT, "worker-a", seconds=-1) is True  # lapse it
    with sessions.begin() as session:
        assert acquire_lease(session, CHECKPOINT, "worker-b", seconds=30) is True
    with pytest.raises(LeaseLost):
        with sessions.begin() as session:
            checkpoints.set_checkpoint(session, CHECKPOINT, 5, owner="worker-a", lease_seconds=30)
    with sessions.begin() as session:
        checkpoints.set_checkpoint(session, CHECKPOINT, 5, owner="worker-b", lease_seconds=30)
    with sessions() as session:
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == 5


def test_two_followers_racing_apply_every_change_once_in_order(es, sessions):
    import threading

    from indexing import follow, verify

    ids = [add_child(sessions, given=f"Child{chr(65 + i)}") for i in range(5)]
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    stop = threading.Event()
    applied = {"a": 0, "b": 0}

    def run(name):
        follow(es, sessions, ALIAS, CHECKPOINT, poll_seconds=0.05, owner=name, lease_seconds=5,
               on_batch=lambda r, n=name: applied.__setitem__(n, applied[n] + r.changes),
               should_stop=stop.is_set)

    workers = [threading.Thread(target=run, args=(n,)) for n in applied]
    for worker in workers:
        worker.start()
    for round_ in range(20):
        change_child(sessions, ids[round_ % 5],
                     lambda s, c, r=round_: writes.update_child(s, c, family_name=f"Round{chr(65 + r)}"))
    with sessions() as session:
        last = checkpoints.last_change_seq(session)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sessions() as session:
            if checkpoints.get_checkpoint(session, CHECKPOINT) >= last:
                break
        time.sleep(0.1)
    stop.set()
    for worker in workers:
        worker.join(timeout=10)
    assert sum(applied.values()) == 20  # no change applied twice by two workers at once
    assert min(applied.values()) == 0  # one leader did the work; the other stood by
    assert verify(es, sessions, ALIAS).drift == []
    assert _doc(es, ids[4])["_source"]["family_name"] == "RoundT"


def test_a_checkpoint_ahead_of_the_change_log_is_reported(es, sessions):
    add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    with sessions.begin() as session:
        checkpoints.set_checkpoint(session, CHECKPOINT, 10**6)
    with pytest.raises(IndexingError, match="ahead of the change log"):
        sync_once(es, sessions, ALIAS, CHECKPOINT)


def test_changes_made_during_a_rebuild_are_caught_up_before_the_swap(es, sessions, monkeypatch):
    first = add_child(sessions, "Amara", "Okafor")
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    original = loader.pages

    def pages_with_a_change_midway(*args):
        for page in original(*args):
            yield page
            # Someone edits the child once its document has been built for the new index.
            change_child(sessions, first, lambda s, c: writes.update_child(s, c, family_name="Adeyemi"))

    monkeypatch.setattr(loader, "pages", pages_with_a_change_midway)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    # The document was built from before the edit; the rebuild applied the edit before it swapped.
    assert _doc(es, first)["_source"]["family_name"] == "Adeyemi"
    with sessions() as session:
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == checkpoints.last_change_seq(session)
    assert sync_until_current(es, sessions, ALIAS, CHECKPOINT).changes == 0


def test_elasticsearch_busy_keeps_the_checkpoint_for_a_retry(es, sessions, monkeypatch):
    import indexing.sync as sync_module

    cp_id = add_child(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    change_child(sessions, cp_id, lambda s, c: writes.update_child(s, c, given_name="Amy"))
    with sessions() as session:
        before = checkpoints.get_checkpoint(session, CHECKPOINT)
    real_bulk = sync_module.bulk

    def busy(es_client, actions, **kwargs):  # the real client, answering 429 for every item
        return 0, [{"index": {"_id": a["_id"], "status": 429, "error": {"type": "es_rejected_execution_exception"}}}
                   for a in actions]

    monkeypatch.setattr(sync_module, "bulk", busy)
    with pytest.raises(IndexingError, match="overloaded or unavailable"):
        sync_once(es, sessions, ALIAS, CHECKPOINT)
    with sessions() as session:
        assert checkpoints.get_checkpoint(session, CHECKPOINT) == before
        assert checkpoints.dead_letter_count(session) == 0
    monkeypatch.setattr(sync_module, "bulk", real_bulk)
    sync_once(es, sessions, ALIAS, CHECKPOINT)
    assert _doc(es, cp_id)["_source"]["given_name"] == "Amy"


def _index_contents(es) -> dict:
    """Every document of the live index: cp_id -> (external version, source)."""
    es.indices.refresh(index=ALIAS)
    hits = es.search(index=ALIAS, size=100, version=True, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: (hit["_version"], hit["_source"]) for hit in hits}


def _several_children(sessions) -> list[str]:
    ids = [add_child(sessions, given, family, aliases=aliases, shielded=shielded)
           for given, family, aliases, shielded in [
               ("Amara", "Okafor", [("Amy", "Okafor-Smith")], False), ("Kwame", "Mensah", [], True),
               ("Siobhan", "Byrne", [], False), ("Tomasz", "Nowak", [("Tom", "Nowak")], False),
               ("Priya", "Sharma", [], False), ("Oluwaseun", "Adebayo", [], True), ("Ffion", "Jones", [], False)]]
    change_child(sessions, ids[2], lambda s, c: writes.update_child(s, c, family_name="Byrne-Walsh"))
    return ids


@pytest.mark.parametrize("page_size, workers", [(2, 0), (3, 2)])
def test_a_rebuild_in_pages_smaller_than_the_directory_gives_the_same_index(es, sessions, page_size, workers):
    ids = _several_children(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT, page_size=1000)
    whole = _index_contents(es)
    assert sorted(whole) == sorted(ids)
    _, count = rebuild(es, sessions, ALIAS, CHECKPOINT, page_size=page_size, workers=workers)
    assert count == len(ids)
    assert _index_contents(es) == whole  # same documents, same external versions


def test_a_rebuild_holds_at_most_a_page_of_children_per_read(es, sessions, monkeypatch):
    """The memory bound, structurally: no read returns more than one page (the whole directory never
    sits in memory), and the pages together cover every child once."""
    ids = _several_children(sessions)
    reads, loaded = [], []
    real_versions, real_load = checkpoints.latest_change_per_child, loader.load_children

    def versions_read(session, up_to, *args, **kwargs):
        rows = real_versions(session, up_to, *args, **kwargs)
        reads.append(len(rows))
        return rows

    def children_loaded(session, child_ids):
        children = real_load(session, child_ids)
        loaded.append([c.cp_id for c in children])
        return children

    monkeypatch.setattr(checkpoints, "latest_change_per_child", versions_read)
    monkeypatch.setattr(loader, "load_children", children_loaded)
    rebuild(es, sessions, ALIAS, CHECKPOINT, page_size=3)
    assert reads == [3, 3, 1]
    assert max(len(page) for page in loaded) == 3
    assert sorted(cp_id for page in loaded for cp_id in page) == sorted(ids)


def test_children_changed_or_shielded_while_a_paged_rebuild_loads_end_up_right(es, sessions, monkeypatch):
    ids = _several_children(sessions)
    rebuild(es, sessions, ALIAS, CHECKPOINT)
    original = loader.pages

    def pages_with_changes_midway(*args):
        for n, page in enumerate(original(*args)):
            yield page
            if n == 0:  # the first page is built: change a child in it and shield one in a later page
                change_child(sessions, ids[0], lambda s, c: writes.update_child(s, c, family_name="Adeyemi"))
                change_child(sessions, ids[6], lambda s, c: writes.set_shielded(s, c, True, "witness_protection"))

    monkeypatch.setattr(loader, "pages", pages_with_changes_midway)
    rebuild(es, sessions, ALIAS, CHECKPOINT, page_size=2)
    contents = _index_contents(es)
    assert contents[ids[0]][1]["family_name"] == "Adeyemi"
    assert contents[ids[6]][1]["shielded"] is True
    with sessions() as session:
        newest = dict(checkpoints.latest_change_per_child(session, checkpoints.last_change_seq(session)))
        by_cp_id = dict(session.execute(select(Child.cp_id, Child.id)).tuples().all())
    assert {cp_id: version for cp_id, (version, _) in contents.items()} == {
        cp_id: newest[by_cp_id[cp_id]] for cp_id in ids}
    assert verify(es, sessions, ALIAS).drift == []
