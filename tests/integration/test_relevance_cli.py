"""`contactpoint relevance`: judgments from the database, evaluation, comparison, profile versions."""
import json

import pytest
from sqlalchemy import select

from access_control import audit
from access_control.models import AuditEvent
from search_service.profiles import default_profile


@pytest.fixture
def populated(run):
    assert run("demo-data", "--children", "150", "--seed", "5").exit_code == 0
    assert run("index", "rebuild").exit_code == 0


def test_judgments_evaluate_and_compare(run, populated, tmp_path, sessions):
    judgments = tmp_path / "judgments.jsonl"
    made = run("relevance", "judgments", "--count", "60", "--seed", "2", "--out", str(judgments))
    assert made.exit_code == 0 and "wrote 60 judgments" in made.output
    lines = [json.loads(line) for line in judgments.read_text().splitlines()]
    assert len(lines) == 60 and all(line["expected"] and line["criteria"] for line in lines)

    report = run("relevance", "evaluate", "--judgments", str(judgments))
    assert report.exit_code == 0, report.output
    assert "recall@1" in report.output.lower() and "default:1" in report.output

    weak = default_profile().to_dict()
    weak["name"] = "no-dates"
    for key in weak["weights"]:
        if key.startswith("dob_"):
            weak["weights"][key] = 0.0
    profile_file = tmp_path / "no-dates.json"
    profile_file.write_text(json.dumps(weak))
    assert "stored profile no-dates version 1" in run("relevance", "import", str(profile_file)).output
    compared = run("relevance", "evaluate", "--judgments", str(judgments), "--profile", "default",
                   "--against", "no-dates:1")
    assert compared.exit_code == 0, compared.output
    assert "default:1" in compared.output and "no-dates:1" in compared.output

    with sessions() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        assert actions == ["bulk_read", "relevance_evaluation", "relevance_profile_saved", "relevance_evaluation"]
        assert audit.verify(session) == []


def test_profiles_activate_and_show(run, tmp_path):
    assert json.loads(run("relevance", "show").output)["name"] == "default"
    data = default_profile().to_dict()
    data["name"] = "tuned"
    path = tmp_path / "tuned.json"
    path.write_text(json.dumps(data))
    run("relevance", "import", str(path))
    assert "active profile: tuned version 1" in run("relevance", "activate", "tuned").output
    assert json.loads(run("relevance", "show").output)["name"] == "tuned"
    missing = run("relevance", "activate", "nope")
    assert missing.exit_code == 1 and "no profile 'nope'" in missing.output


def test_a_bad_profile_file_is_refused_with_the_field(run, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "weights": {"gender": -1}, "thresholds": {}}))
    result = run("relevance", "import", str(path))
    assert result.exit_code == 1 and "weights" in result.output
    path.write_text("{nope")
    result = run("relevance", "import", str(path))
    assert result.exit_code == 1 and "not valid JSON" in result.output


def test_a_malformed_judgment_file_names_the_line(run, tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"id": "q1", "criteria": {"family_name": "Okafor"}, "expected": "1", "corruptions": []}\nnot json\n')
    result = run("relevance", "evaluate", "--judgments", str(path))
    assert result.exit_code == 1 and "line 2" in result.output
