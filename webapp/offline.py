"""Offline relevance evaluation: judgment queries run through the same search as practitioners'."""
from __future__ import annotations

from typing import Callable, Iterator

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Viewer, VisibilityPolicy
from registry.models import Child
from search_service import Criteria, search

from .schemas import SearchSchema

# Evaluation sees what an ordinary practitioner would: same filters, same location scope.
EVALUATOR = Viewer(username="relevance-evaluation", display_name="Relevance evaluation", role="practitioner",
                   organisation="OFFLINE")


def children_for_judgments(session: Session) -> Iterator[tuple[str, dict]]:
    """(cp_id, particulars) of every active child, in a stable order."""
    rows = session.execute(select(Child.cp_id, Child.given_name, Child.middle_names, Child.family_name,
                                  Child.date_of_birth, Child.gender, Child.postcode)
                           .where(Child.status == "active").order_by(Child.id)).yield_per(5000)
    for cp_id, given, middle, family, dob, gender, postcode in rows:
        yield cp_id, {"given_name": given, "middle_names": middle, "family_name": family, "date_of_birth": dob,
                      "gender": gender, "postcode": postcode}


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
