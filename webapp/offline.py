"""Offline relevance evaluation: judgment queries run through the same search as practitioners'."""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import Viewer, VisibilityPolicy, audit
from registry.models import Child
from search_service import Criteria, search
from search_service.evaluation import Judgment
from search_service.judgments import generate_judgments

from .schemas import SearchSchema

# Evaluation sees what an ordinary practitioner would: same filters, same location scope.
EVALUATOR = Viewer(username="relevance-evaluation", display_name="Relevance evaluation", role="practitioner",
                   organisation="OFFLINE")


EXPECTED_BATCH = 1000      # children per IN list when checking what a judgment set expects


def _particulars(session: Session, conditions: list) -> Iterator[tuple[str, dict]]:
    rows = session.execute(select(Child.cp_id, Child.given_name, Child.middle_names, Child.family_name,
                                  Child.date_of_birth, Child.gender, Child.postcode)
                           .where(*conditions).order_by(Child.id)).yield_per(5000)
    for cp_id, given, middle, family, dob, gender, postcode in rows:
        yield cp_id, {"given_name": given, "middle_names": middle, "family_name": family, "date_of_birth": dob,
                      "gender": gender, "postcode": postcode}


def make_judgments(session: Session, viewer: Viewer, count: int, seed: int, *, synthetic_only: bool,
                   destination: str, on_total: Callable[[int], None] = lambda n: None,
                   on_progress: Callable[[int], None] = lambda n: None) -> list[Judgment]:
    """``count`` judgments from the children ``viewer`` may read in bulk, audited as one bulk read with its size.

    Synthetic children only unless ``synthetic_only`` is false; never shielded or inactive ones (the
    visibility policy's bulk-read conditions, NotAllowed for a viewer who may not read real children).
    Too few children is a ValueError raised before any particulars are read. The audit event is in the
    caller's transaction, so it commits before the set is written anywhere. ``on_total`` hears how many
    children will be read, ``on_progress`` each one read.
    """
    conditions = VisibilityPolicy(viewer).bulk_read_conditions(synthetic_only)
    available = session.scalar(select(func.count()).select_from(Child).where(*conditions))
    kind = "synthetic children" if synthetic_only else "children you may read"
    if available < count:
        raise ValueError(f"--count: asked for {count} judgments but there are only {available} {kind} "
                         "(active, not shielded)" + (": load some with `contactpoint demo-data`" if synthetic_only
                                                     else ""))
    on_total(available)
    read = 0

    def counted() -> Iterator[tuple[str, dict]]:
        nonlocal read
        for item in _particulars(session, conditions):
            read += 1
            on_progress(1)
            yield item

    judgments = generate_judgments(counted(), count, seed)
    audit.record(session, viewer, "bulk_read", {"purpose": "relevance_judgments", "synthetic_only": synthetic_only,
                                                "children_read": read, "judgments": len(judgments),
                                                "destination": destination})
    return judgments


def only_synthetic_children(session: Session, judgments: Sequence[Judgment]) -> bool:
    """Whether every child the judgments expect exists and was made up by demo-data.

    Only then may a judgment set's criteria be shown: the database decides, never the file.
    """
    expected = sorted({judgment.expected for judgment in judgments})
    synthetic = 0
    for start in range(0, len(expected), EXPECTED_BATCH):
        synthetic += session.scalar(select(func.count()).select_from(Child).where(
            Child.cp_id.in_(expected[start:start + EXPECTED_BATCH]), Child.synthetic.is_(True)))
    return bool(expected) and synthetic == len(expected)


def judgment_runner(es, settings, profile) -> Callable[[dict], tuple[list[str], bool]]:
    policy = VisibilityPolicy(EVALUATOR)
    schema = SearchSchema()

    def run(criteria: dict) -> tuple[list[str], bool]:
        try:
            data = schema.load(criteria)
        except ValidationError:
            return [], False  # a query the API would refuse finds nothing
        outcome = search(es, settings.es_alias, Criteria(**data), profile, policy.query_filters(),
                         policy.location_scope(), settings.max_results)
        return [c.cp_id for c in outcome.results], outcome.too_many

    return run
