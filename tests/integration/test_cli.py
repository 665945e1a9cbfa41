"""The `contactpoint` console script, run through click's runner against real parts."""
import gc
import json

from click.testing import CliRunner
from sqlalchemy import func, select

from registry.db import make_engine, make_sessionmaker
from registry.models import Child, ChildName, Involvement
from webapp.cli import main

from .helpers import years_ago


def test_feed_load_reports_every_row_and_exits_non_zero_on_rejects(run, tmp_path):
    feed = tmp_path / "census.csv"
    dob = years_ago(8).isoformat()
    feed.write_text("source_record_id,given_name,family_name,date_of_birth\n"
                    f"C1,Zoë,Smith-Jones,{dob}\nC2,Kate,,{dob}\n", encoding="utf-8")
    report = tmp_path / "report.jsonl"
    result = run("feed", "load", "--source", "school-census", "--report", str(report), str(feed))
    assert result.exit_code == 1
    assert "2 rows: 1 created, 1 rejected" in result.output
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(l["source_record_id"], l["outcome"]) for l in lines] == [("C1", "created"), ("C2", "rejected")]
    assert lines[1]["errors"] == {"family_name": ["Missing data for required field."]}
    assert lines[0]["cp_id"] and lines[1]["cp_id"] is None

    again = run("feed", "load", "--source", "school-census", str(feed))
    assert "1 unchanged, 1 rejected" in again.output


def test_feed_load_collects_garbage_less_often_while_it_loads(run, tmp_path, monkeypatch):
    # A first load of a million rows spent a quarter of its time in the collector at Python's thresholds.
    from registry import feeds
    from webapp.cli.feed import LOAD_GC_THRESHOLDS
    during, load = [], feeds.load_feed
    monkeypatch.setattr(feeds, "load_feed", lambda *a, **k: (during.append(gc.get_threshold()), load(*a, **k))[1])
    feed = tmp_path / "census.csv"
    feed.write_text(f"source_record_id,given_name,family_name,date_of_birth\nC1,Zoe,Smith,{years_ago(8).isoformat()}\n")
    before = gc.get_threshold()
    assert run("feed", "load", "--source", "school-census", str(feed)).exit_code == 0
    assert during == [LOAD_GC_THRESHOLDS] != [before]
    assert gc.get_threshold() == before


def test_feed_load_refuses_unknown_columns_and_formats(run, tmp_path):
    feed = tmp_path / "census.csv"
    feed.write_text("source_record_id,given_name,family_name,date_of_birth,diagnosis\n")
    result = run("feed", "load", "--source", "s", str(feed))
    assert result.exit_code == 1
    assert "unknown column(s) 'diagnosis'" in result.output
    other = tmp_path / "census.xlsx"
    other.write_text("x")
    result = run("feed", "load", "--source", "s", str(other))
    assert result.exit_code == 1
    assert "cannot tell the format" in result.output


def test_index_rebuild_sync_and_status(run, tmp_path):
    feed = tmp_path / "f.jsonl"
    feed.write_text(json.dumps({"source_record_id": "J1", "given_name": "Amara", "family_name": "Okafor",
                                "date_of_birth": years_ago(4).isoformat()}) + "\n")
    assert run("feed", "load", "--source", "health", str(feed)).exit_code == 0
    rebuilt = run("index", "rebuild")
    assert rebuilt.exit_code == 0 and "indexed 1 children" in rebuilt.output
    status = json.loads(run("index", "status").output)
    assert status["documents"] == 1 and status["lag_changes"] == 0
    assert status["template_version_installed"] == status["template_version_code"] == 6
    feed.write_text(json.dumps({"source_record_id": "J2", "given_name": "Kwame", "family_name": "Mensah",
                                "date_of_birth": years_ago(3).isoformat()}) + "\n")
    run("feed", "load", "--source", "health", str(feed))
    assert json.loads(run("index", "status").output)["lag_changes"] > 0
    synced = run("index", "sync")
    assert synced.exit_code == 0 and "applied" in synced.output
    assert json.loads(run("index", "status").output)["lag_changes"] == 0


def test_sync_before_any_rebuild_says_what_to_do(run):
    result = run("index", "sync")
    assert result.exit_code == 1
    assert "run `contactpoint index rebuild`" in result.output


def test_demo_data_is_deterministic_for_a_seed(settings, es, tmp_path):
    def load(name):
        url = f"sqlite:///{tmp_path / name}"
        env = {"CONTACTPOINT_DATABASE_URL": url, "CONTACTPOINT_ES_URL": settings.es_url}
        runner = CliRunner()
        assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
        result = runner.invoke(main, ["demo-data", "--children", "40", "--seed", "3"], env=env)
        assert result.exit_code == 0 and "created 40 synthetic children" in result.output
        sessions = make_sessionmaker(make_engine(url))
        with sessions() as session:
            children = session.execute(select(Child.cp_id, Child.given_name, Child.family_name, Child.date_of_birth,
                                              Child.shielded).order_by(Child.id)).all()
            names = session.scalar(select(func.count()).select_from(ChildName))
            involvements = session.scalar(select(func.count()).select_from(Involvement))
        return children, names, involvements

    first, second = load("a.sqlite3"), load("b.sqlite3")
    assert first == second
    children, names, involvements = first
    assert len(children) == 40 and names > 40 and involvements >= 40


def test_audit_verify_names_a_tampered_event(run, settings, client):
    assert run("index", "rebuild").exit_code == 0
    client.post("/api/v1/search", json={"family_name": "Okafor", "given_name": "Amara"})
    client.post("/api/v1/search", json={"family_name": "Mensah", "given_name": "Kwame"})
    assert run("audit", "verify").output.splitlines()[0] == "audit trail intact"
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 1")
    engine.dispose()
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert "event 1: contents were edited after it was written" in result.output


def test_a_database_that_is_not_migrated_says_so(settings, es, tmp_path):
    env = {"CONTACTPOINT_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "CONTACTPOINT_ES_URL": settings.es_url}
    result = CliRunner().invoke(main, ["index", "status"], env=env)
    assert result.exit_code == 1
    assert "run `contactpoint db upgrade`" in result.output


def test_bad_configuration_is_reported_by_name(settings):
    result = CliRunner().invoke(main, ["index", "status"], env={"CONTACTPOINT_MAX_RESULTS": "lots",
                                                                "CONTACTPOINT_DATABASE_URL": settings.database_url})
    assert result.exit_code == 1
    assert "CONTACTPOINT_MAX_RESULTS must be a whole number" in result.output


def test_index_verify_reports_and_repairs_drift(run, tmp_path, es):
    feed = tmp_path / "f.jsonl"
    feed.write_text(json.dumps({"source_record_id": "V1", "given_name": "Amara", "family_name": "Okafor",
                                "date_of_birth": years_ago(4).isoformat()}) + "\n")
    run("feed", "load", "--source", "health", str(feed))
    run("index", "rebuild")
    clean = run("index", "verify")
    assert clean.exit_code == 0 and "1 children, index 1 documents, 0 drifted" in clean.output
    es.index(index="children", id="2222222222", document={"cp_id": "2222222222"}, refresh=True)
    drifted = run("index", "verify")
    assert drifted.exit_code == 1
    assert "2222222222: in the index but not in the database" in drifted.output
    assert "run `contactpoint index verify --repair`" in drifted.output
    assert run("index", "verify", "--repair").exit_code == 0
    assert run("index", "verify").exit_code == 0


def test_index_status_reports_lag_in_seconds_and_dead_letters(run, tmp_path):
    run("index", "rebuild")
    status = json.loads(run("index", "status").output)
    assert status["lag_seconds"] == 0.0 and status["dead_letters"] == 0 and status["dead_letter_examples"] == []
    feed = tmp_path / "f.jsonl"
    feed.write_text(json.dumps({"source_record_id": "L1", "given_name": "Amara", "family_name": "Okafor",
                                "date_of_birth": years_ago(4).isoformat()}) + "\n")
    run("feed", "load", "--source", "health", str(feed))
    status = json.loads(run("index", "status").output)
    assert status["lag_changes"] > 0 and status["lag_seconds"] >= 0.0
