"""Run a practitioner's search and shape ranked candidates with their reasons."""
from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from analyzers import AGREEMENT_ORDER, jaro_winkler, name_agreement

from .profiles import RelevanceProfile
from .queries import LOCATABLE, Criteria, build_query, grade_of, match_confidence, reasons

STRONG = ("certain", "probable")
NAME_KIND_REASONS = {"alias": "known alias", "source": "name recorded by another service",
                     "previous": "previous name"}


class SearchIncomplete(RuntimeError):
    """Some of the index's shards did not answer: the candidates would be a partial list shown as complete."""


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
    confidence: float = 0.0  # the share of the best possible agreement reached (0..1) that the grade is read from


@dataclass
class SearchOutcome:
    results: list[Candidate] = field(default_factory=list)
    too_many: bool = False
    took_ms: int = 0  # Elasticsearch's own time for the query


def _agreement_rank(criteria: Criteria, given: str | None, family: str | None) -> tuple[int, int]:
    """How well one of the child's names agrees with the criteria (lower is better)."""
    family_rank = AGREEMENT_ORDER.index(name_agreement(criteria.family_name, family or "", "family")) \
        if criteria.family_name else 0
    given_rank = AGREEMENT_ORDER.index(name_agreement(criteria.given_name, given or "", "given")) \
        if criteria.given_name else 0
    return family_rank + given_rank, family_rank


def name_reason(criteria: Criteria, names: list[dict]) -> str | None:
    """Say so when another name the child is known by agrees better than its current name."""
    if not (criteria.family_name or criteria.given_name) or not names:
        return None
    primary = [n for n in names if n.get("kind") == "primary"] or names[:1]
    best_primary = min(_agreement_rank(criteria, n.get("given"), n.get("family")) for n in primary)
    others = [(_agreement_rank(criteria, n.get("given"), n.get("family")), n.get("kind")) for n in names
              if n.get("kind") in NAME_KIND_REASONS]
    if not others:
        return None
    best_other, kind = min(others, key=lambda item: item[0])
    return NAME_KIND_REASONS[kind] if best_other < best_primary else None


def in_scope(hit: dict, location_scope: dict | None) -> bool:
    """Whether the index put this child inside the scope where location and its other names count."""
    return location_scope is None or LOCATABLE in hit.get("matched_queries", [])


def candidate_from_hit(hit: dict, criteria: Criteria, profile: RelevanceProfile,
                       location_scope: dict | None = None) -> Candidate:
    matched = set(hit.get("matched_queries", []))
    location_counts = in_scope(hit, location_scope)
    matched.discard(LOCATABLE)
    source = hit["_source"]
    explained = reasons(matched)
    confidence = match_confidence(hit["_score"], criteria, profile, matched, location_counts)
    # Outside the scope only the current name counted: no reason may point at another name.
    via_name = name_reason(criteria, source.get("names") or []) if location_counts else None
    if via_name:
        explained.append(via_name)
    return Candidate(
        cp_id=source["cp_id"], given_name=source["given_name"], family_name=source["family_name"],
        date_of_birth=source["date_of_birth"], gender=source["gender"], score=round(hit["_score"], 3),
        match_grade=grade_of(confidence, profile), matched_on=explained, shielded=source["shielded"],
        confidence=round(confidence, 3))


def spelling_closeness(criteria: Criteria, candidate: Candidate) -> float:
    """How near the names typed are to the child's current name, letter by letter (either way round): what
    orders children the evidence cannot tell apart, so "Sifia Evans" lists Sophia before Sophie."""
    given, family = criteria.given_name or "", criteria.family_name or ""
    def pair(first: str, last: str) -> float:
        return ((jaro_winkler(first, candidate.given_name) if first else 0.0)
                + (jaro_winkler(last, candidate.family_name) if last else 0.0))
    return max(pair(given, family), pair(family, given))


def best_first(candidates: list[Candidate], criteria: Criteria) -> list[Candidate]:
    """By score; among equal scores the closer spelling first (the index would leave them in storage order)."""
    return sorted(candidates, key=lambda c: (-c.score, -spelling_closeness(criteria, c)))


def too_many(candidates: list[Candidate], max_results: int, profile: RelevanceProfile) -> bool:
    """More strong candidates than may be shown, or more than may be shown that cannot be told apart."""
    if sum(c.match_grade in STRONG for c in candidates) > max_results:
        return True
    if len(candidates) <= max_results:
        return False
    # The first candidate that would be cut scores almost as well as the best: the criteria do not
    # single anyone out, so a list would only invite browsing.
    return candidates[max_results].score >= profile.thresholds["indistinct"] * candidates[0].score


@dataclass
class Found:
    """What the index answered, before any cut: candidates best first, and those it placed in the scope."""
    candidates: list[Candidate]
    in_scope: set[str]  # cp_ids for which location and other names counted
    took_ms: int = 0


def find(es: Elasticsearch, alias: str, criteria: Criteria, profile: RelevanceProfile, filters: list[dict],
         location_scope: dict | None, max_results: int) -> Found:
    """Up to ``max_results + 1`` candidates: one more than the cap tells "exactly N" from "more than N"."""
    body = build_query(criteria, profile, filters, location_scope, size=max_results + 1)
    # A shard without a live copy fails the whole search rather than leaving its children out unnoticed.
    response = es.search(index=alias, allow_partial_search_results=False, **body)
    shards = response["_shards"]
    if shards.get("failed") or shards.get("successful", 0) + shards.get("skipped", 0) < shards.get("total", 0):
        raise SearchIncomplete(f"{shards.get('failed', 0)} of {shards.get('total')} shards of {alias!r} did not answer")
    hits = response["hits"]["hits"]
    return Found(best_first([candidate_from_hit(hit, criteria, profile, location_scope) for hit in hits], criteria),
                 {hit["_source"]["cp_id"] for hit in hits if in_scope(hit, location_scope)}, response["took"])


def shortlist(found: Found, max_results: int, profile: RelevanceProfile) -> SearchOutcome:
    """The candidates to show, or ``too_many`` when the criteria cannot narrow the field to ``max_results``."""
    if too_many(found.candidates, max_results, profile):
        return SearchOutcome([], too_many=True, took_ms=found.took_ms)
    return SearchOutcome(found.candidates[:max_results], took_ms=found.took_ms)


def search(es: Elasticsearch, alias: str, criteria: Criteria, profile: RelevanceProfile, filters: list[dict],
           location_scope: dict | None, max_results: int) -> SearchOutcome:
    """Ranked candidates, or ``too_many`` when the criteria cannot narrow the field to ``max_results``."""
    return shortlist(find(es, alias, criteria, profile, filters, location_scope, max_results), max_results, profile)
