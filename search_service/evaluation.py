"""Offline relevance metrics for child search: judged queries in, recall / MRR / nDCG out.

Pure: nothing here talks to Elasticsearch. A *judgment* is one search a practitioner might type
(``criteria``) together with the one child it should find (``expected``, a ContactPoint ID) and
what was done to the true record to make it (``corruptions``). ``evaluate`` runs every judgment
through a caller-supplied ``run_query`` and scores where the expected child came back.

A "too many matches" answer counts as a miss everywhere: the practitioner was asked to narrow
the search and saw no list at all.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from analyzers.dates import parse_iso_date

CRITERIA_FIELDS = ("given_name", "family_name", "date_of_birth", "gender", "postcode")
JUDGMENT_FIELDS = ("id", "criteria", "expected", "corruptions")
UNCORRUPTED = "none"
MAX_REGRESSIONS_LISTED = 50


# --- Judgments -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Judgment:
    id: str
    criteria: dict = field(hash=False)
    expected: str
    corruptions: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "corruptions", tuple(self.corruptions))

    def as_json(self) -> dict:
        return {"id": self.id, "criteria": dict(self.criteria), "expected": self.expected,
                "corruptions": list(self.corruptions)}


def _problem(path, line_number: int, field_name: str, message: str) -> ValueError:
    return ValueError(f"{path}, line {line_number}: field '{field_name}': {message}")


def _parse_judgment(obj, path, n: int) -> Judgment:
    if not isinstance(obj, dict):
        raise ValueError(f"{path}, line {n}: expected a JSON object, got {type(obj).__name__}")
    for name in JUDGMENT_FIELDS:
        if name not in obj:
            raise _problem(path, n, name, "missing")
    unexpected = [name for name in obj if name not in JUDGMENT_FIELDS]
    if unexpected:
        raise _problem(path, n, unexpected[0], f"unexpected field (allowed: {', '.join(JUDGMENT_FIELDS)})")
    for name in ("id", "expected"):
        if not isinstance(obj[name], str) or not obj[name].strip():
            raise _problem(path, n, name, f"must be a non-empty string, got {obj[name]!r}")
    criteria = obj["criteria"]
    if not isinstance(criteria, dict) or not criteria:
        raise _problem(path, n, "criteria", f"must be a non-empty object, got {criteria!r}")
    for key, value in criteria.items():
        if key not in CRITERIA_FIELDS:
            raise _problem(path, n, f"criteria.{key}", f"unknown criterion (allowed: {', '.join(CRITERIA_FIELDS)})")
        if not isinstance(value, str) or not value.strip():
            raise _problem(path, n, f"criteria.{key}", f"must be a non-empty string, got {value!r}")
    if "date_of_birth" in criteria:
        try:
            parse_iso_date(criteria["date_of_birth"])
        except ValueError:
            raise _problem(path, n, "criteria.date_of_birth",
                           f"must be a date as YYYY-MM-DD, got {criteria['date_of_birth']!r}") from None
    corruptions = obj["corruptions"]
    if not isinstance(corruptions, list) or not all(isinstance(c, str) and c for c in corruptions):
        raise _problem(path, n, "corruptions", f"must be a list of non-empty strings, got {corruptions!r}")
    return Judgment(id=obj["id"], criteria=dict(criteria), expected=obj["expected"],
                    corruptions=tuple(corruptions))


def read_judgments(path) -> list[Judgment]:
    """Judgments from a JSON Lines file (blank lines skipped); ValueError naming line and field."""
    judgments: list[Judgment] = []
    first_line: dict[str, int] = {}
    with open(path, encoding="utf-8") as stream:
        for n, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {n}: not valid JSON ({error.msg})") from None
            judgment = _parse_judgment(obj, path, n)
            if judgment.id in first_line:
                raise _problem(path, n, "id", f"duplicate id {judgment.id!r} (first on line {first_line[judgment.id]})")
            first_line[judgment.id] = n
            judgments.append(judgment)
    return judgments


def write_judgments(path, judgments: Iterable[Judgment]) -> None:
    """One JSON object per line, UTF-8, in the order given."""
    with open(Path(path), "w", encoding="utf-8", newline="\n") as stream:
        for judgment in judgments:
            stream.write(json.dumps(judgment.as_json(), ensure_ascii=False) + "\n")


# --- Outcomes and metrics ------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryOutcome:
    judgment: Judgment
    ranked: tuple[str, ...]
    rank: int | None          # where the expected child sat in ``ranked`` (1-based), None if absent
    too_many: bool

    @property
    def shown_rank(self) -> int | None:
        """The rank the practitioner saw: None for a miss or a "too many matches" answer."""
        return None if self.too_many else self.rank


@dataclass(frozen=True)
class Metrics:
    queries: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr: float
    ndcg_at_10: float
    too_many_rate: float

    def as_dict(self) -> dict:
        return asdict(self)


# (attribute, display name) in report order.
METRIC_NAMES = (("queries", "queries"), ("recall_at_1", "recall@1"), ("recall_at_5", "recall@5"),
                ("recall_at_10", "recall@10"), ("mrr", "MRR"), ("ndcg_at_10", "nDCG@10"),
                ("too_many_rate", "too-many rate"))


def _rank_of(expected: str, ranked: Sequence[str]) -> int | None:
    for position, cp_id in enumerate(ranked, start=1):
        if cp_id == expected:
            return position
    return None


def metrics_of(outcomes: Sequence[QueryOutcome]) -> Metrics:
    """Aggregate metrics; all zero for no outcomes."""
    n = len(outcomes)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    ranks = [outcome.shown_rank for outcome in outcomes]
    hits = [rank for rank in ranks if rank is not None]
    return Metrics(
        queries=n,
        recall_at_1=sum(1 for rank in hits if rank <= 1) / n,
        recall_at_5=sum(1 for rank in hits if rank <= 5) / n,
        recall_at_10=sum(1 for rank in hits if rank <= 10) / n,
        mrr=sum(1 / rank for rank in hits) / n,
        # One relevant child, so the ideal DCG is 1 and nDCG@10 is just its discounted gain.
        ndcg_at_10=sum(1 / math.log2(rank + 1) for rank in hits if rank <= 10) / n,
        too_many_rate=sum(1 for outcome in outcomes if outcome.too_many) / n,
    )


def evaluate(run_query: Callable[[dict], tuple[list[str], bool]],
             judgments: Iterable[Judgment]) -> tuple[Metrics, list[QueryOutcome]]:
    """Run every judgment's criteria through ``run_query`` -> (ranked cp_ids, too_many)."""
    outcomes = []
    for judgment in judgments:
        ranked, too_many = run_query(dict(judgment.criteria))
        ranked = tuple(ranked)
        outcomes.append(QueryOutcome(judgment=judgment, ranked=ranked,
                                     rank=_rank_of(judgment.expected, ranked), too_many=bool(too_many)))
    return metrics_of(outcomes), outcomes


def metrics_by_corruption(outcomes: Iterable[QueryOutcome]) -> dict[str, Metrics]:
    """Metrics per corruption label ("none" first for uncorrupted queries, then labels A-Z).

    A query with two labels counts in both groups.
    """
    groups: dict[str, list[QueryOutcome]] = {}
    for outcome in outcomes:
        for label in dict.fromkeys(outcome.judgment.corruptions or (UNCORRUPTED,)):
            groups.setdefault(label, []).append(outcome)
    order = sorted(groups, key=lambda label: (label != UNCORRUPTED, label))
    return {label: metrics_of(groups[label]) for label in order}


def regressions(before: Sequence[QueryOutcome],
                after: Sequence[QueryOutcome]) -> list[tuple[Judgment, int | None, int | None]]:
    """Queries (matched by judgment id) whose expected child came back worse in ``after``.

    A miss (or "too many") is worse than any rank. Sorted by how much worse: new misses first
    (those that were ranked highest before first), then the biggest drops; ties by id.
    Queries present on only one side are ignored.
    """
    earlier = {outcome.judgment.id: outcome.shown_rank for outcome in before}
    worse = []
    for outcome in after:
        if outcome.judgment.id not in earlier:
            continue
        was, now = earlier[outcome.judgment.id], outcome.shown_rank
        if was is not None and (now is None or now > was):
            worse.append((outcome.judgment, was, now))

    def severity(item):
        judgment, was, now = item
        return (0, was, judgment.id) if now is None else (1, was - now, judgment.id)

    return sorted(worse, key=severity)


# --- Text reports ----------------------------------------------------------------------------------
def _value(name: str, value) -> str:
    return str(value) if name == "queries" else f"{value:.3f}"


def _delta(name: str, a, b) -> str:
    return f"{b - a:+d}" if name == "queries" else f"{b - a:+.3f}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """First column left-aligned, the rest right-aligned, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join([row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])])
            .rstrip() for row in rows]


def format_report(metrics: Metrics, label: str) -> str:
    rows = [("metric", label)]
    rows += [(display, _value(name, getattr(metrics, name))) for name, display in METRIC_NAMES]
    return "\n".join(_table(rows)) + "\n"


def _rank_text(rank: int | None) -> str:
    return "miss" if rank is None else str(rank)


def format_comparison(a: Metrics, b: Metrics, label_a: str, label_b: str,
                      regressed: Sequence[tuple[Judgment, int | None, int | None]]) -> str:
    """Metrics side by side with deltas (b - a), then the regressed queries (first 50)."""
    rows = [("metric", label_a, label_b, "delta")]
    for name, display in METRIC_NAMES:
        va, vb = getattr(a, name), getattr(b, name)
        rows.append((display, _value(name, va), _value(name, vb), _delta(name, va, vb)))
    lines = _table(rows)
    lines.append("")
    if not regressed:
        lines.append(f"Regressed queries ({label_a} -> {label_b}): none")
        return "\n".join(lines) + "\n"
    lines.append(f"Regressed queries ({label_a} -> {label_b}): {len(regressed)}")
    shown = list(regressed[:MAX_REGRESSIONS_LISTED])
    listed = [(judgment.id, ", ".join(judgment.corruptions) or UNCORRUPTED,
               f"{_rank_text(was)} -> {_rank_text(now)}") for judgment, was, now in shown]
    id_width = max(len(row[0]) for row in listed)
    label_width = max(len(row[1]) for row in listed)
    lines += [f"  {qid.ljust(id_width)}  {labels.ljust(label_width)}  {change}" for qid, labels, change in listed]
    rest = len(regressed) - len(shown)
    if rest:
        lines.append(f"  ... and {rest} more")
    return "\n".join(lines) + "\n"
