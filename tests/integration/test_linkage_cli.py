"""`contactpoint linkage`: train without labels, show, evaluate side by side, activate, re-run."""
import json

from sqlalchemy import select

from access_control.models import AuditEvent
from registry.models import LinkageModelRow, ReviewItem, SourceRecord

from .helpers import years_ago

HEADER = "source_record_id,given_name,family_name,date_of_birth,gender,address_line_1,postcode\n"
DOB = years_ago(8, day=3).isoformat()


def _feed(tmp_path, name, rows):
    path = tmp_path / f"{name}.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _pairs(tmp_path, pairs):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    return path


def _actions(sessions):
    with sessions() as session:
        return session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()


def _details(sessions, action):
    with sessions() as session:
        return [json.loads(e.details) for e in session.scalars(select(AuditEvent).where(AuditEvent.action == action))]


SAME = {"left": {"given_name": "Olivia", "family_name": "Smith", "date_of_birth": DOB, "postcode": "LS6 2AB"},
        "right": {"given_name": "Olivia", "family_name": "Smyth", "date_of_birth": DOB, "postcode": "LS6 2AB"},
        "match": True}
OTHER = {"left": {"given_name": "Olivia", "family_name": "Smith", "date_of_birth": DOB, "postcode": "LS6 2AB"},
         "right": {"given_name": "Harry", "family_name": "Jones", "date_of_birth": years_ago(3).isoformat(),
                   "postcode": "M1 1AA"}, "match": False}


def test_train_show_activate_and_evaluate(run, tmp_path, sessions):
    assert run("demo-data", "--children", "300", "--seed", "3").exit_code == 0
    trained = run("linkage", "train", "--sample", "300", "--seed", "1")
    assert trained.exit_code == 0, trained.output
    assert "stored linkage model default:2 (not active)" in trained.output
    with sessions() as session:
        body = session.scalar(select(LinkageModelRow.body).where(LinkageModelRow.version == 2))
    assert body["trained"] and body["term_frequencies"]["family"]  # learnt from the directory
    reads = _details(sessions, "bulk_read")
    assert reads and reads[-1]["purpose"] == "linkage_training" and reads[-1]["children_read"] == 300

    shown = run("linkage", "show", "default:2")
    assert shown.exit_code == 0 and "date_of_birth" in shown.output and "transposed" in shown.output

    pairs = _pairs(tmp_path, [SAME, OTHER])
    compared = run("linkage", "evaluate", "--pairs", str(pairs), "--model", "default:1", "--against", "default:2")
    assert compared.exit_code == 0, compared.output
    assert "default:1" in compared.output and "default:2" in compared.output and "precision" in compared.output
    assert _details(sessions, "linkage_model_evaluated")[-1]["pairs"] == 2

    assert run("linkage", "activate", "default:2").exit_code == 0
    assert "default:2" in run("linkage", "show").output.splitlines()[0]
    assert "linkage_model_activated" in _actions(sessions)


def test_bad_input_is_named(run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(SAME) + "\n" + '{"left": {}, "right": {}}\n', encoding="utf-8")
    result = run("linkage", "evaluate", "--pairs", str(bad))
    assert result.exit_code != 0 and "line 2" in result.output
    missing = run("linkage", "activate", "nosuch:4")
    assert missing.exit_code != 0 and "no linkage model 'nosuch'" in missing.output
    assert run("linkage", "show", "default:x").exit_code != 0


def test_rerun_reports_links_a_stricter_model_would_not_make_and_applies_them_through_review(run, tmp_path,
                                                                                                sessions):
    assert run("feed", "load", "--source", "gp", str(_feed(tmp_path, "gp", [
        f"G1,Olivia,Smith,{DOB},female,12 Oak Road,LS6 2AB"]))).exit_code == 0
    assert run("feed", "load", "--source", "school", str(_feed(tmp_path, "school", [
        f"S1,Olivia,Smyth,{DOB},female,4 Elm Street,LS7 3CD"]))).exit_code == 0  # moved: a link near the threshold
    with sessions() as session:
        assert session.scalar(select(SourceRecord.link_decision).where(SourceRecord.source == "school")) == "auto"
    # The model that made the link judges it as the load did (with the directory's prior): nothing to undo.
    same = run("linkage", "rerun")
    assert same.exit_code == 0 and "0 would no longer be made" in same.output, same.output
    strict = json.loads(run("linkage", "show", "--json").output)
    strict.update(name="strict", version=1, upper=60.0)
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(strict))
    with sessions.begin() as session:
        session.add(LinkageModelRow(name="strict", version=1, body=strict, active=False, created_by="test"))

    dry = run("linkage", "rerun", "--model", "strict:1")
    assert dry.exit_code == 0 and "1 would no longer be made" in dry.output and "dry run" in dry.output
    with sessions() as session:
        assert session.scalar(select(ReviewItem)) is None  # a dry run changes nothing

    applied = run("linkage", "rerun", "--model", "strict:1", "--apply")
    assert applied.exit_code == 0, applied.output
    with sessions() as session:
        item = session.scalar(select(ReviewItem))
        records = session.scalars(select(SourceRecord).order_by(SourceRecord.id)).all()
        assert item is not None and item.status == "open"                    # a person decides, not the model
        assert records[0].child_id != records[1].child_id                     # the record has a child of its own
        assert [c.child_id for c in item.candidates] == [records[0].child_id]
    assert "linkage_rerun_applied" in _actions(sessions)
