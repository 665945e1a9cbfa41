"""Loads are applied a batch behind the reading (the next batch's index lookup runs meanwhile), and an
untrained model follows the directory a load grows: on SQLite and PostgreSQL."""
import datetime as dt
import io

from sqlalchemy import func, select

from analyzers import clock
from registry import bulk
from registry.feeds import load_feed
from registry.linkage import store
from registry.linkage.linker import Linker
from registry.models import Child, SourceRecord

from .helpers import count, years_ago

HEADER = "source_record_id,given_name,family_name,date_of_birth,gender,postcode\n"
DOB = years_ago(6, day=3).isoformat()
GIVEN = ["Amara", "Bartosz", "Callum", "Delyth", "Eshan", "Fenella", "Gethin", "Hamza", "Ines", "Jovan",
         "Kezia", "Lorcan", "Maren", "Nnamdi", "Orla", "Piotr", "Quinn", "Rafferty", "Saoirse", "Tariq",
         "Ulla", "Vikram", "Wren", "Xanthe", "Yusuf", "Zofia", "Anwen", "Bodhi", "Cerys", "Dara"]
FAMILY = ["Okafor", "Lindqvist", "Pemberton", "Szymanski", "Achterberg", "Quigley", "Ravindran", "Moreau",
          "Fairweather", "Kowalczyk", "Delacroix", "Haverford", "Nakamura", "Obradovic", "Trevelyan",
          "Uzoma", "Vasquez", "Whitlock", "Yilmaz", "Zielinski", "Abernathy", "Blackwood", "Castellano",
          "Drummond", "Eriksen", "Fitzgerald", "Gallagher", "Hendricks", "Ivanova", "Jablonski"]
# Thirty children, each with a name and a birthday of their own.
ROWS = [f"C{i},{given},{family},{years_ago(5 + i % 7, day=1 + i).isoformat()},U,"
        for i, (given, family) in enumerate(zip(GIVEN, FAMILY))]


def _csv(*rows):
    return io.BytesIO((HEADER + "".join(r + "\n" for r in rows)).encode())


def _outcomes(sessions, stream, **kwargs):
    results = []
    load_feed(sessions, "school-census", stream, "csv", on_result=results.append, **kwargs)
    return [r.outcome for r in results]


def test_a_record_repeated_in_the_next_batch_updates_the_child_it_made(sessions):
    # R1 is still unapplied when the batch repeating it is sorted: the repeat must not make a second child.
    rows = [f"R1,Kwame,Mensah,{DOB},M,LS6 2AB", f"R2,Ama,Boateng,{DOB},F,LS6 2AB",
            f"R1,Kwame,Mensah,{DOB},M,LS7 3CD", f"R2,Ama,Boateng,{DOB},F,LS6 2AB"]
    assert _outcomes(sessions, _csv(*rows), batch_size=2) == ["created", "created", "updated", "unchanged"]
    assert count(sessions, Child) == 2 and count(sessions, SourceRecord) == 2
    with sessions() as session:
        assert session.scalar(select(Child.postcode).where(Child.given_name == "Kwame")) == "LS7 3CD"


def test_an_untrained_model_follows_the_directory_a_load_grows(sessions, monkeypatch):
    # A first load starts from an empty directory; judged all the way with its prior, a million-row load
    # would find every sibling likely. (The smallest directory is lowered so thirty children are enough.)
    monkeypatch.setattr(store, "SMALLEST_DIRECTORY", 4)
    with sessions() as session:
        linker = Linker.for_directory(session, store.default_model())
    assert linker.model.prior == 1 / 4
    assert _outcomes(sessions, _csv(*ROWS), batch_size=3, linker=linker) == ["created"] * 30
    # Read again after the batches that grew it by half (three rows a batch): at 6, 9, 15 and 24 children.
    assert linker.model.prior == 1 / 24
    assert linker.model.term_frequency("family", "okafor") is not None
    assert linker.model.label == store.default_model().label


def test_a_trained_model_keeps_what_it_learnt(sessions):
    trained = store.default_model().to_body() | {"trained": {"pairs": 1000}, "prior": 0.001}
    with sessions() as session:
        linker = Linker.for_directory(session, store.LinkageModel.from_body(trained))
    _outcomes(sessions, _csv(*ROWS), batch_size=3, linker=linker)
    assert linker.model.prior == 0.001


def test_among_finds_what_in_finds(sessions):
    _outcomes(sessions, _csv(f"R1,Kwame,Mensah,{DOB},M,", f"R2,Ama,Boateng,{DOB},F,"))
    with sessions() as session:
        cp_ids = list(session.scalars(select(Child.cp_id).order_by(Child.id)))
        assert set(session.scalars(select(Child.given_name).where(
            bulk.among(session, Child.cp_id, [cp_ids[1], "0000000000"])))) == {"Ama"}
        assert list(session.scalars(select(Child.id).where(bulk.among(session, Child.id, [])))) == []


def test_a_long_file_is_validated_in_a_worker_that_judges_by_the_loaders_clock(sessions):
    # Pinned two years back, a child born nineteen years ago (by the real calendar) is still seventeen.
    today = dt.date.today()
    moment = dt.datetime.combine(today.replace(year=today.year - 2, day=1), dt.time(12), dt.timezone.utc)
    nineteen = today.replace(year=today.year - 19, day=1).isoformat()
    rows = [f"W1,Kwame,Mensah,{DOB},M,LS6 2AB", "W2,Ama,Boateng,31/02/2019,F,", f"W3,Kofi,Asante,{nineteen},M,",
            f"W4,Efua,Owusu,{DOB},F,LS6 2AB"]
    results = []
    with clock.pinned(moment):
        # Only the first row in this process: the rest go to the worker.
        load_feed(sessions, "school-census", _csv(*rows), "csv", on_result=results.append, offload_after=1)
    assert [r.outcome for r in results] == ["created", "rejected", "created", "created"]
    assert list(results[1].errors) == ["date_of_birth"]
    assert [r.row for r in results] == [1, 2, 3, 4]
    with sessions() as session:
        assert session.scalar(select(Child.date_of_birth).where(Child.given_name == "Kofi")).isoformat() == nineteen


def test_changed_records_spread_over_batches_are_all_updated_and_kept(sessions):
    first = [f"U{i},{given},{family},{DOB},U,LS6 2AB" for i, (given, family) in enumerate(zip(GIVEN[:4], FAMILY[:4]))]
    _outcomes(sessions, _csv(*first))
    moved = [row.replace("LS6 2AB", "LS7 3CD") for row in first]
    # One row a batch: each batch is sorted while the one before is still to be applied.
    assert _outcomes(sessions, _csv(*moved), batch_size=1) == ["updated"] * 4
    assert _outcomes(sessions, _csv(*moved), batch_size=1) == ["unchanged"] * 4
    # A record changed in one batch and changed back in the next is changed back, not taken as unchanged.
    assert _outcomes(sessions, _csv(moved[0], first[0]), batch_size=1) == ["unchanged", "updated"]
    with sessions() as session:
        assert set(session.scalars(select(Child.postcode))) == {"LS7 3CD", "LS6 2AB"}
        assert session.scalar(select(Child.postcode).where(Child.given_name == GIVEN[0])) == "LS6 2AB"


def test_a_child_archived_while_the_load_runs_is_never_linked_to(sessions):
    # The load keeps the records of the children it made between batches; one someone else took out of the
    # directory meanwhile (merged, archived) must not be joined from the record kept.
    row = f"R1,Kwame,Mensah,{DOB},M,LS6 2AB"

    def archive_the_first(result):
        if result.row == 1:
            with sessions.begin() as session:
                session.get(Child, session.scalar(select(Child.id).where(Child.cp_id == result.cp_id))).status = "archived"

    results = []
    load_feed(sessions, "school-census", _csv(row, row.replace("R1", "R2")), "csv", batch_size=1,
              on_result=lambda r: (results.append(r), archive_the_first(r)))
    assert [r.outcome for r in results] == ["created", "created"]
    assert count(sessions, Child, Child.status == "active") == 1


def test_a_record_updated_in_the_load_is_read_again_for_the_rows_after_it(sessions):
    # Kwame moved (R1 sent again with a new postcode); R3 at the new address is scored against the child as
    # the update left it (the new postcode is his current one), not as the load first made him.
    rows = [f"R1,Kwame,Mensah,{DOB},M,LS6 2AB", f"R1,Kwame,Mensah,{DOB},M,BD7 1AA", f"R3,Kwame,Mensah,{DOB},M,BD7 1AA"]
    results = []
    load_feed(sessions, "school-census", _csv(*rows), "csv", batch_size=1, on_result=results.append)
    assert [r.outcome for r in results] == ["created", "updated", "linked"]
    with sessions() as session:
        contributions = session.scalar(select(SourceRecord.link_contributions)
                                       .where(SourceRecord.source_record_id == "R3"))
    assert contributions["postcode"]["level"] == "full"


def test_records_the_load_stopped_keeping_are_read_again(sessions, monkeypatch):
    # A long load keeps at most KEPT_RECORDS candidate records; older ones are read from the database again.
    from registry.linkage import linker as linker_module
    monkeypatch.setattr(linker_module, "KEPT_RECORDS", 4)
    again = ROWS[0].replace("C0,", "C0-again,")
    assert _outcomes(sessions, _csv(*ROWS, again), batch_size=3) == ["created"] * 30 + ["linked"]
    with sessions() as session:
        assert session.scalar(select(func.count(func.distinct(SourceRecord.child_id)))) == 30
