"""`contactpoint demo-data --bulk`: the batch path writes the same complete children, ready to index."""
from __future__ import annotations

from sqlalchemy import func, select

from registry.db import make_engine, make_sessionmaker
from registry.demo import load_demo_data
from registry.demo_bulk import load_demo_data_bulk
from registry.models import ChangeLog, Child, Organisation, SourceRecord


def _snapshot(url: str) -> dict:
    """Every child as the directory holds it, keyed by ContactPoint ID, without row ids."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            org_codes = dict(session.execute(select(Organisation.id, Organisation.code)).tuples().all())
            children = {}
            for child in session.scalars(select(Child)):
                children[child.cp_id] = {
                    "fields": (child.given_name, child.middle_names, child.family_name, child.date_of_birth,
                               child.gender, child.address_line_1, child.address_line_2, child.town, child.postcode,
                               child.shielded, child.status, child.synthetic),
                    "organisations": tuple(org_codes.get(i) for i in (child.local_authority_id, child.school_id,
                                                                      child.gp_practice_id)),
                    "names": sorted((n.kind, n.given_name, n.middle_names or "", n.family_name) for n in child.names),
                    "carers": sorted((c.given_name, c.family_name, c.relationship_to_child, c.parental_responsibility,
                                      c.phone, c.email or "") for c in child.carers),
                    "involvements": sorted((org_codes[i.organisation_id], i.practitioner_name, i.role, i.email,
                                            i.start_date, str(i.end_date), i.lead_professional, i.caf_held,
                                            i.info_to_share, i.assessment_undertaken, str(i.sensitive_category),
                                            str(i.consent_recorded_at)) for i in child.involvements),
                    "records": sorted((r.source, r.source_record_id, r.content_hash, r.link_decision)
                                      for r in session.scalars(select(SourceRecord)
                                                               .where(SourceRecord.child_id == child.id))),
                }
            changes = session.execute(select(ChangeLog.change, func.count()).group_by(ChangeLog.change)).tuples().all()
            return {"children": children, "changes": dict(changes)}
    finally:
        engine.dispose()


def test_bulk_demo_children_are_those_the_one_at_a_time_path_makes(database_url, tmp_path):
    one_at_a_time = f"sqlite:///{tmp_path / 'orm.sqlite3'}"
    from registry.db import upgrade
    engine = make_engine(one_at_a_time)
    upgrade(engine)
    load_demo_data(make_sessionmaker(engine), 120, seed=4)
    engine.dispose()
    engine = make_engine(database_url)
    progress = []
    assert load_demo_data_bulk(make_sessionmaker(engine), 120, seed=4, on_progress=progress.append, workers=0) == 120
    engine.dispose()

    expected, written = _snapshot(one_at_a_time), _snapshot(database_url)
    assert sum(progress) == 120
    assert len(written["children"]) == 120
    assert written["children"] == expected["children"]
    assert any(c["involvements"] and c["carers"] and len(c["names"]) > 2 for c in written["children"].values())
    assert written["changes"] == {"created": 120}  # one per child: the indexer rebuilds the whole document


def test_bulk_demo_children_made_in_parallel_are_indexed_by_sync_and_found(run, client, sessions):
    assert run("index", "rebuild").exit_code == 0  # an empty index: everything below reaches it through sync
    result = run("demo-data", "--children", "2100", "--seed", "6", "--bulk")
    assert result.exit_code == 0 and "created 2100 synthetic children (seed 6)" in result.output
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChangeLog)) == 2100
        assert session.scalar(select(func.count(func.distinct(ChangeLog.child_id)))) == 2100
        wanted = session.scalars(select(Child).where(Child.shielded.is_(False)).order_by(Child.id.desc())).first()
        wanted = {"cp_id": wanted.cp_id, "given_name": wanted.given_name, "family_name": wanted.family_name,
                  "date_of_birth": wanted.date_of_birth.isoformat(), "gender": wanted.gender}
    synced = run("index", "sync")
    assert synced.exit_code == 0
    assert run("index", "verify").exit_code == 0

    found = client.post("/api/v1/search", json={k: v for k, v in wanted.items() if k != "cp_id"})
    assert found.status_code == 200
    assert wanted["cp_id"] in [r["cp_id"] for r in found.get_json()["results"]]
    record = client.get(f"/api/v1/children/{wanted['cp_id']}", query_string={"purpose": "service_coordination"})
    assert record.status_code == 200, record.get_json()


def test_demo_data_into_a_directory_that_has_demo_children_says_so(run):
    assert run("demo-data", "--children", "3", "--bulk").exit_code == 0
    for again in (["--bulk"], ["--seed", "5"]):
        result = run("demo-data", "--children", "3", *again)
        assert result.exit_code == 1
        assert "already holds 3 synthetic children" in result.output and "fresh database" in result.output
