"""Unit tests for search_service.evaluation: offline relevance metrics on hand-made outcomes."""
from __future__ import annotations

import json
import math

import pytest

from search_service.evaluation import (Judgment, Metrics, QueryOutcome, evaluate, format_comparison,
                                       format_report, metrics_by_corruption, metrics_of, read_judgments,
                                       regressions, write_judgments)

CRITERIA = {"given_name": "Zoë", "family_name": "O'Brien", "date_of_birth": "2015-03-07", "gender": "female",
            "postcode": "LS6 2AB"}


def _judgment(qid: str, corruptions=(), expected: str = "CP-RIGHT") -> Judgment:
    return Judgment(id=qid, criteria=dict(CRITERIA), expected=expected, corruptions=tuple(corruptions))


def _outcome(qid: str, rank: int | None, too_many: bool = False, corruptions=()) -> QueryOutcome:
    """An outcome whose ranked list puts the expected child at ``rank`` among decoys."""
    judgment = _judgment(qid, corruptions)
    length = max(rank or 0, 3)
    ranked = tuple(judgment.expected if position == rank else f"CP-DECOY-{position}"
                   for position in range(1, length + 1))
    return QueryOutcome(judgment=judgment, ranked=ranked, rank=rank, too_many=too_many)


# --- Metrics ---------------------------------------------------------------------------------------
def test_metrics_on_hand_made_ranks():
    metrics = metrics_of([_outcome("q1", 1), _outcome("q2", 2), _outcome("q3", None), _outcome("q4", 11)])
    assert metrics.queries == 4
    assert metrics.recall_at_1 == 0.25
    assert metrics.recall_at_5 == 0.5
    assert metrics.recall_at_10 == 0.5
    assert metrics.mrr == pytest.approx((1 + 0.5 + 0 + 1 / 11) / 4, abs=1e-12)
    assert metrics.ndcg_at_10 == pytest.approx((1 / math.log2(2) + 1 / math.log2(3)) / 4, abs=1e-12)
    assert metrics.too_many_rate == 0.0


def test_rank_ten_counts_and_rank_eleven_does_not():
    at_ten = metrics_of([_outcome("q1", 10)])
    assert at_ten.recall_at_10 == 1.0 and at_ten.recall_at_5 == 0.0
    assert at_ten.ndcg_at_10 == pytest.approx(1 / math.log2(11), abs=1e-12)
    at_eleven = metrics_of([_outcome("q1", 11)])
    assert at_eleven.recall_at_10 == 0.0 and at_eleven.ndcg_at_10 == 0.0
    assert at_eleven.mrr == pytest.approx(1 / 11, abs=1e-12)


def test_too_many_counts_as_a_miss_even_if_the_child_was_in_the_list():
    metrics = metrics_of([_outcome("q1", 1, too_many=True), _outcome("q2", 1)])
    assert metrics.recall_at_1 == 0.5
    assert metrics.mrr == 0.5
    assert metrics.ndcg_at_10 == 0.5
    assert metrics.too_many_rate == 0.5


def test_no_outcomes_gives_zeros():
    assert metrics_of([]) == Metrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_as_dict():
    metrics = metrics_of([_outcome("q1", 2)])
    assert metrics.as_dict() == {"queries": 1, "recall_at_1": 0.0, "recall_at_5": 1.0, "recall_at_10": 1.0,
                                 "mrr": 0.5, "ndcg_at_10": pytest.approx(1 / math.log2(3)), "too_many_rate": 0.0}
    json.dumps(metrics.as_dict())


def test_evaluate_runs_each_query_and_finds_the_expected_rank():
    judgments = [_judgment("q1", expected="A"), _judgment("q2", expected="B"), _judgment("q3", expected="C"),
                 _judgment("q4", expected="D")]
    answers = {"q1": (["A", "X"], False), "q2": (["X", "Y", "B"], False), "q3": (["X"], False),
               "q4": (["D"], True)}
    calls = []

    def run_query(criteria):
        calls.append(criteria)
        criteria["family_name"] = "changed by the engine"      # must not leak into the judgment
        return answers[f"q{len(calls)}"]

    metrics, outcomes = evaluate(run_query, iter(judgments))
    assert [o.rank for o in outcomes] == [1, 3, None, 1]
    assert [o.too_many for o in outcomes] == [False, False, False, True]
    assert [o.shown_rank for o in outcomes] == [1, 3, None, None]
    assert outcomes[1].ranked == ("X", "Y", "B")
    assert all(j.criteria == CRITERIA for j in judgments)
    assert metrics.queries == 4
    assert metrics.recall_at_1 == 0.25 and metrics.recall_at_5 == 0.5
    assert metrics.mrr == pytest.approx((1 + 1 / 3) / 4)
    assert metrics.too_many_rate == 0.25


def test_metrics_by_corruption_groups_by_each_label():
    outcomes = [_outcome("q1", 1), _outcome("q2", None, corruptions=("typo:family_name",)),
                _outcome("q3", 1, corruptions=("typo:family_name", "moved")), _outcome("q4", 2, corruptions=("moved",))]
    groups = metrics_by_corruption(outcomes)
    assert list(groups) == ["none", "moved", "typo:family_name"]
    assert groups["none"].queries == 1 and groups["none"].recall_at_1 == 1.0
    assert groups["typo:family_name"].queries == 2 and groups["typo:family_name"].recall_at_1 == 0.5
    assert groups["moved"].queries == 2 and groups["moved"].mrr == pytest.approx(0.75)


# --- Regressions ------------------------------------------------------------------------------------
def test_regressions_lists_what_got_worse_misses_first_then_biggest_drops_then_id():
    before = [_outcome("q1", 1), _outcome("q2", 3), _outcome("q3", 2), _outcome("q4", 1), _outcome("q5", 5),
              _outcome("q6", None), _outcome("q7", 4), _outcome("q8", 2), _outcome("q9", 1),
              _outcome("q_only_before", 1)]
    after = [_outcome("q8", 5), _outcome("q7", 2), _outcome("q6", 3), _outcome("q5", 5), _outcome("q4", 4),
             _outcome("q3", 9), _outcome("q2", None), _outcome("q1", None), _outcome("q9", 1, too_many=True),
             _outcome("q_only_after", None)]
    found = [(judgment.id, was, now) for judgment, was, now in regressions(before, after)]
    assert found == [("q1", 1, None), ("q9", 1, None), ("q2", 3, None), ("q3", 2, 9), ("q4", 1, 4),
                     ("q8", 2, 5)]


def test_no_regressions_when_nothing_changed():
    outcomes = [_outcome("q1", 1), _outcome("q2", None)]
    assert regressions(outcomes, outcomes) == []


# --- Reading and writing judgments ----------------------------------------------------------------
def test_write_then_read_round_trips(tmp_path):
    judgments = [_judgment("q000001"), _judgment("q000002", ("typo:family_name", "dob:transposed"), "CP-2"),
                 Judgment(id="q000003", criteria={"family_name": "Łukasiewicz", "given_name": "Siân"},
                          expected="CP-3", corruptions=())]
    path = tmp_path / "judgments.jsonl"
    write_judgments(path, judgments)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and "Siân" in lines[2]
    assert json.loads(lines[1]) == {"id": "q000002", "criteria": CRITERIA, "expected": "CP-2",
                                    "corruptions": ["typo:family_name", "dob:transposed"]}
    assert read_judgments(path) == judgments
    assert read_judgments(str(path))[1].corruptions == ("typo:family_name", "dob:transposed")


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "judgments.jsonl"
    line = json.dumps(_judgment("q1").as_json())
    path.write_text(f"\n{line}\n\n", encoding="utf-8")
    assert [j.id for j in read_judgments(path)] == ["q1"]


GOOD = {"id": "q1", "criteria": {"family_name": "Smith"}, "expected": "CP-1", "corruptions": []}


@pytest.mark.parametrize("bad_line, field", [
    ("{not json", "not valid JSON"),
    (json.dumps(["a list"]), "JSON object"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "expected"}), "'expected'"),
    (json.dumps({**GOOD, "id": ""}), "'id'"),
    (json.dumps({**GOOD, "criteria": "Smith"}), "'criteria'"),
    (json.dumps({**GOOD, "criteria": {"surname": "Smith"}}), "'criteria.surname'"),
    (json.dumps({**GOOD, "criteria": {"family_name": 7}}), "'criteria.family_name'"),
    (json.dumps({**GOOD, "criteria": {"family_name": "Smith", "date_of_birth": "07/03/2015"}}),
     "'criteria.date_of_birth'"),
    (json.dumps({**GOOD, "corruptions": "typo"}), "'corruptions'"),
    (json.dumps({**GOOD, "score": 3}), "'score'"),
    (json.dumps({**GOOD, "id": "q0"}), "'id'"),        # duplicate of line 1
])
def test_malformed_lines_name_the_line_and_field(tmp_path, bad_line, field):
    path = tmp_path / "judgments.jsonl"
    first = json.dumps({**GOOD, "id": "q0"})
    path.write_text(f"{first}\n\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        read_judgments(path)
    assert "line 3" in str(error.value)
    assert field in str(error.value)


# --- Text reports --------------------------------------------------------------------------------------
def test_format_report_is_an_aligned_table():
    metrics = metrics_of([_outcome("q1", 1), _outcome("q2", 2), _outcome("q3", None), _outcome("q4", 11)])
    report = format_report(metrics, "baseline")
    lines = report.splitlines()
    assert "baseline" in lines[0]
    assert any(line.split() == ["queries", "4"] for line in lines)
    assert any(line.split() == ["recall@1", "0.250"] for line in lines)
    assert any(line.split() == ["MRR", f"{(1 + 0.5 + 1 / 11) / 4:.3f}"] for line in lines)
    assert len({len(line) for line in lines}) == 1            # right-aligned values, one column


def test_format_comparison_shows_deltas_and_regressed_queries():
    before = [_outcome(f"q{i:03d}", 1, corruptions=("typo:given_name",)) for i in range(60)]
    after = [_outcome(f"q{i:03d}", None if i < 55 else 3, corruptions=("typo:given_name",)) for i in range(60)]
    a, b = metrics_of(before), metrics_of(after)
    regressed = regressions(before, after)
    text = format_comparison(a, b, "old", "new", regressed)
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "old", "new", "delta"]
    assert any(line.split() == ["recall@1", "1.000", "0.000", "-1.000"] for line in lines)
    assert any(line.split() == ["queries", "60", "60", "+0"] for line in lines)
    assert "Regressed queries (old -> new): 60" in text
    assert any(line.split() == ["q000", "typo:given_name", "1", "->", "miss"] for line in lines)
    assert "q049" in text and "q050" not in text
    assert lines[-1].strip() == "... and 10 more"


def test_format_comparison_without_regressions():
    metrics = metrics_of([_outcome("q1", 1)])
    text = format_comparison(metrics, metrics, "a", "b", [])
    assert "none" in text.splitlines()[-1]
    assert "+0.000" in text
