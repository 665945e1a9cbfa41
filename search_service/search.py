"""Run a practitioner's search and shape ranked candidates with their reasons."""
from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from .queries import Criteria, build_query, match_grade, reasons


@dataclass
class Candidate:
    cp_id: str
    given_name: str
    family_name: str
    date_of_birth: str
    gender: str
    score: float
    match_grade: str
    matched_on: list[str]
    shielded: bool


@dataclass
class SearchOutcome:
    results: list[Candidate] = field(default_factory=list)
    too_many: bool = False


def search(es: Elasticsearch, alias: str, criteria: Criteria, filters: list[dict],
           location_scope: dict | None, max_results: int) -> SearchOutcome:
    # One more than the cap tells "exactly N" from "more than N" strong candidates.
    body = build_query(criteria, filters, location_scope, size=max_results + 1)
    response = es.search(index=alias, **body)
    candidates = []
    for hit in response["hits"]["hits"]:
        matched = set(hit.get("matched_queries", []))
        source = hit["_source"]
        candidates.append(Candidate(
            cp_id=source["cp_id"], given_name=source["given_name"], family_name=source["family_name"],
            date_of_birth=source["date_of_birth"], gender=source["gender"], score=round(hit["_score"], 3),
            match_grade=match_grade(matched), matched_on=reasons(matched), shielded=source["shielded"]))
    strong = [c for c in candidates if c.match_grade != "possible"]
    if len(strong) > max_results or (len(candidates) > max_results and not strong):
        return SearchOutcome([], too_many=True)
    return SearchOutcome(candidates[:max_results])
