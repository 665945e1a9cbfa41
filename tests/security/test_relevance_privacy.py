"""Relevance work never touches real children unless an entitled operator asks, and then never shielded ones.

Judgment sets come from synthetic children (made by `contactpoint demo-data`) by default; real children
are read only with --real-children, as a named operator, through the visibility policy; the evaluation
page shows a relevance administrator what was searched for only when every expected child is synthetic;
every read of the directory for evaluation is audited with its size.
"""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from markupsafe import escape
from sqlalchemy import select

from registry import writes
from registry.demo import load_demo_data
from registry.feeds import load_feed
from registry.models import Child, SourceRecord
from search_service.profiles import default_profile
from webapp.cli import main
from webapp.relevance_service import save_profile

from .conftest import LA1

DEMO_CHILDREN = 30


@pytest.fixture
def run(settings, es):
    """The `contactpoint` CLI against this test's database and cluster."""
    env = {"CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_ES_URL": settings.es_url,
           "CONTACTPOINT_STATE_DIR": str(settings.state_dir), "CONTACTPOINT_SECRET_KEY": settings.secret_key,
           "CONTACTPOINT_RETENTION_YEARS": None}

    def invoke(*args):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return invoke


def _expected(path) -> set[str]:
    return {json.loads(line)["expected"] for line in path.read_text().splitlines()}


def _synthetic_ids(sessions, **where) -> set[str]:
    """Synthetic children that are active and unshielded (or as ``where`` says)."""
    conditions = {"synthetic": True, "status": "active", "shielded": False, **where}
    with sessions() as db:
        return set(db.scalars(select(Child.cp_id).filter_by(**conditions)))


def _bulk_reads(world, since: int) -> list[tuple[str, dict]]:
    return [(actor, details) for actor, action, details in world.events_since(since) if action == "bulk_read"]


def test_judgments_come_only_from_active_unshielded_synthetic_children_by_default(world, run, sessions, tmp_path):
    out = tmp_path / "judgments.jsonl"
    # The directory holds only real children: nothing to make judgments from, and nothing read.
    mark = world.mark()
    refused = run("relevance", "judgments", "--count", "2", "--out", str(out))
    assert refused.exit_code == 1 and "demo-data" in refused.output and "--count" in refused.output
    assert not out.exists() and _bulk_reads(world, mark) == []

    load_demo_data(sessions, DEMO_CHILDREN, seed=3)
    with sessions.begin() as db:
        shielded, archived, fed = db.scalars(select(Child).where(Child.synthetic, ~Child.shielded)
                                             .order_by(Child.id).limit(3)).all()
        writes.set_shielded(db, shielded, True, "risk_of_harm")
        archived.status = "archived"
        record = db.scalar(select(SourceRecord).where(SourceRecord.child_id == fed.id))
        excluded = {shielded.cp_id, archived.cp_id, fed.cp_id}
        fed_source, fed_record_id = record.source, record.source_record_id
    # A source feed writing to a synthetic child makes it real (its data may now be anyone's).
    feed = f"source_record_id,given_name,family_name,date_of_birth\n{fed_record_id},Ottilie,Realperson,2015-04-03\n"
    assert load_feed(sessions, fed_source, io.BytesIO(feed.encode()), "csv").counts["updated"] == 1
    eligible = _synthetic_ids(sessions)
    assert len(eligible) >= DEMO_CHILDREN - 4 and not eligible & excluded

    made = run("relevance", "judgments", "--count", str(len(eligible)), "--seed", "4", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert _expected(out) == eligible       # every eligible child, and nothing else
    text = out.read_text()
    queries = [json.loads(line)["criteria"] for line in text.splitlines()]
    for spec in world.specs.values():       # no real child's particulars in the file
        # Demo surnames include the real children's ("Mensah"): a real child shows as its name with its birthday.
        assert not any(q.get("family_name") == spec.family and q.get("date_of_birth") == spec.dob.isoformat()
                       for q in queries), spec.label
        assert spec.postcode not in text and spec.address not in text
    assert "Realperson" not in text

    too_many = run("relevance", "judgments", "--count", str(len(eligible) + 1), "--out", str(tmp_path / "x.jsonl"))
    assert too_many.exit_code == 1 and f"only {len(eligible)} synthetic children" in too_many.output


def test_real_children_only_as_an_entitled_operator_and_never_shielded_or_archived(world, run, tmp_path):
    for label in ("relevance", "practitioner", "auditor", "national", "la1"):
        world.account(label)
    out = tmp_path / "real.jsonl"
    mark = world.mark()

    no_operator = run("relevance", "judgments", "--count", "1", "--real-children", "--out", str(out))
    assert no_operator.exit_code == 2 and "--operator" in no_operator.output
    for label in ("relevance", "practitioner", "auditor"):
        username = world.account(label).username
        refused = run("relevance", "judgments", "--count", "1", "--real-children", "--operator", username,
                      "--out", str(out))
        assert refused.exit_code == 1 and "not allowed" in refused.output, (label, refused.output)
    unknown = run("relevance", "judgments", "--count", "1", "--real-children", "--operator", "nobody",
                  "--out", str(out))
    assert unknown.exit_code == 2 and "--operator" in unknown.output
    assert not out.exists() and _bulk_reads(world, mark) == []

    # A national administrator reads every active, unshielded child; never a shielded or archived one.
    national = world.account("national").username
    readable = {world.ids[label] for label in ("open1", "open2", "pending")}
    made = run("relevance", "judgments", "--count", "3", "--real-children", "--operator", national, "--out", str(out))
    assert made.exit_code == 0, made.output
    assert _expected(out) == readable
    assert "only 3 children" in run("relevance", "judgments", "--count", "4", "--real-children", "--operator",
                                    national, "--out", str(out)).output

    # An LA team reads only its own authority's children, and not even its own shielded child.
    team = world.account("la1").username
    own = tmp_path / "own.jsonl"
    made = run("relevance", "judgments", "--count", "2", "--real-children", "--operator", team, "--out", str(own))
    assert made.exit_code == 0, made.output
    assert _expected(own) == {world.ids["open1"], world.ids["pending"]}

    reads = _bulk_reads(world, mark)
    assert [(actor, d["role"], d["purpose"], d["synthetic_only"], d["children_read"], d["judgments"])
            for actor, d in reads] == [(national, "national_admin", "relevance_judgments", False, 3, 3),
                                       (team, "la_management", "relevance_judgments", False, 2, 2)]
    assert reads[1][1]["actor_la"] == LA1 and reads[1][1]["destination"] == str(own)


def _strict_profile(sessions) -> None:
    """Shows only perfect matches: a corrupted query that ranked under the default profile misses."""
    data = default_profile().to_dict()
    data.update(name="strict", thresholds={**data["thresholds"], "minimum": 1.0, "probable": 1.0, "certain": 1.0})
    with sessions.begin() as db:
        save_profile(db, data, "rel.admin")


def _judgment(qid: str, criteria: dict, expected: str) -> str:
    return json.dumps({"id": qid, "criteria": criteria, "expected": expected, "corruptions": ["typo:given_name"]})


def _evaluate(admin, judgments) -> str:
    response = admin.form_post("/admin/relevance/evaluate", {"profile": "default:1", "against": "strict:1",
                                                             "judgments": str(judgments)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_the_comparison_page_shows_a_relevance_admin_no_real_childs_details(world, sessions, tmp_path):
    load_demo_data(sessions, DEMO_CHILDREN, seed=3)
    world.index()
    _strict_profile(sessions)
    real = world.specs["open2"]
    with sessions() as db:
        fake = db.scalar(select(Child).where(Child.synthetic, ~Child.shielded).order_by(Child.id))
        fake_criteria = {"given_name": fake.given_name + "x", "family_name": fake.family_name,
                         "date_of_birth": fake.date_of_birth.isoformat(), "gender": fake.gender}
        fake_id = fake.cp_id
    slipped_dob = real.dob.replace(day=real.dob.day + 1).isoformat()     # with a typo: it misses under "strict"
    real_criteria = {"given_name": "Kwamr", "family_name": real.family, "date_of_birth": slipped_dob,
                     "gender": "female", "postcode": real.postcode}
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(_judgment("q1", real_criteria, world.ids["open2"]) + "\n"
                     + _judgment("q2", fake_criteria, fake_id) + "\n")
    admin = world.caller("relevance")
    mark = world.mark()

    html = _evaluate(admin, mixed)
    # Both queries ranked under the default profile and missed under the strict one: listed by ID and rank only.
    assert ">q1</td>" in html and ">q2</td>" in html and ">miss</td>" in html
    assert 'id="criteria-withheld"' in html
    for secret in (real.family, "Kwamr", real.postcode, slipped_dob, escape(fake_criteria["family_name"])):
        assert secret not in html, secret

    synthetic = tmp_path / "synthetic.jsonl"
    synthetic.write_text(_judgment("q2", fake_criteria, fake_id) + "\n")
    html = _evaluate(admin, synthetic)
    assert ">q2</td>" in html and 'id="criteria-withheld"' not in html
    assert f"family name: {escape(fake_criteria['family_name'])}" in html   # synthetic: nobody's personal data

    events = [(actor, d["queries"], d["searches"], d["synthetic"]) for actor, action, d in world.events_since(mark)
              if action == "relevance_evaluation"]
    assert events == [("rel.admin", 2, 4, False), ("rel.admin", 1, 2, True)]


def test_every_read_of_the_directory_for_evaluation_is_audited_with_its_size(world, run, sessions, tmp_path):
    load_demo_data(sessions, DEMO_CHILDREN, seed=3)
    world.index()
    eligible = _synthetic_ids(sessions)
    out = tmp_path / "judgments.jsonl"
    mark = world.mark()
    assert run("relevance", "judgments", "--count", "10", "--out", str(out)).exit_code == 0
    ((actor, details),) = _bulk_reads(world, mark)
    assert actor.startswith("cli:")
    assert {k: details[k] for k in ("purpose", "synthetic_only", "children_read", "judgments", "destination")} == \
        {"purpose": "relevance_judgments", "synthetic_only": True, "children_read": len(eligible), "judgments": 10,
         "destination": str(out)}

    mark = world.mark()
    _strict_profile(sessions)
    evaluated = run("relevance", "evaluate", "--judgments", str(out), "--against", "strict:1")
    assert evaluated.exit_code == 0, evaluated.output
    ((_, action, details),) = world.events_since(mark)
    assert action == "relevance_evaluation"
    assert (details["queries"], details["searches"], details["synthetic"]) == (10, 20, True)
