"""Pure query building: criteria in, one Elasticsearch query out (unit-tested as dicts).

Location clauses only ever count for children whose location the caller may see
(``location_scope``), so a shielded child can neither gain nor lose rank by its postcode.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analyzers import compact, fold, normalise_postcode, tokens

# Clause name -> (boost, reason a practitioner can read).
CLAUSES = {
    "family_name_exact": (4.0, "family name"),
    "family_name_fuzzy": (2.0, "family name spelt similarly"),
    "given_name_exact": (3.0, "given name"),
    "given_name_fuzzy": (1.5, "given name spelt similarly"),
    "date_of_birth": (5.0, "date of birth"),
    "gender": (0.5, "gender"),
    "postcode": (1.0, "postcode"),
}


@dataclass(frozen=True)
class Criteria:
    family_name: str | None = None
    given_name: str | None = None
    date_of_birth: dt.date | None = None
    gender: str | None = None
    postcode: str | None = None
    cp_id: str | None = None


def _named(clause_name: str, query: dict) -> dict:
    (kind, body), = query.items()
    boost = CLAUSES[clause_name][0]
    if kind == "terms":  # the one query whose options sit beside the field, not inside it
        return {kind: {**body, "_name": clause_name, "boost": boost}}
    (field, params), = body.items()
    return {kind: {field: {**params, "_name": clause_name, "boost": boost}}}


def _name_clauses(prefix: str, field: str, name: str) -> list[dict]:
    keys = list(dict.fromkeys([*tokens(name), compact(name)]))
    return [
        _named(f"{prefix}_exact", {"terms": {f"{field}_keys": keys}}),
        _named(f"{prefix}_fuzzy", {"match": {f"{field}_names": {"query": fold(name), "fuzziness": "AUTO",
                                                                  "prefix_length": 1}}}),
    ]


def build_query(criteria: Criteria, filters: list[dict], location_scope: dict | None, size: int) -> dict:
    """The search body. ``filters`` come from the visibility policy and are always applied."""
    must: list[dict] = []
    should: list[dict] = []
    if criteria.cp_id:
        must.append({"term": {"cp_id": {"value": criteria.cp_id, "_name": "cp_id"}}})
    if criteria.family_name:
        # For now the family name must agree in some form; name strategies widen this later.
        must.append({"bool": {"should": _name_clauses("family_name", "family", criteria.family_name),
                              "minimum_should_match": 1}})
    if criteria.given_name:
        should.extend(_name_clauses("given_name", "given", criteria.given_name))
    if criteria.date_of_birth:
        should.append(_named("date_of_birth", {"term": {"date_of_birth": {"value": criteria.date_of_birth.isoformat()}}}))
    if criteria.gender:
        should.append(_named("gender", {"term": {"gender": {"value": criteria.gender}}}))
    postcode = normalise_postcode(criteria.postcode)
    if postcode:
        clause = {"term": {"postcode": {"value": postcode}}}
        if location_scope is not None:
            clause = {"bool": {"must": [clause], "filter": [location_scope]}}
            should.append({"bool": {**clause["bool"], "_name": "postcode", "boost": CLAUSES["postcode"][0]}})
        else:
            should.append(_named("postcode", clause))
    return {
        "query": {"bool": {"must": must, "should": should, "filter": filters}},
        "size": size,
        "track_total_hits": size * 5,
        "_source": ["cp_id", "given_name", "family_name", "date_of_birth", "gender", "shielded"],
    }


def match_grade(matched: set[str]) -> str:
    """certain / probable / possible, in the spirit of FHIR Patient $match."""
    family = "family_name_exact" in matched
    family_any = family or "family_name_fuzzy" in matched
    given = "given_name_exact" in matched
    dob = "date_of_birth" in matched
    if "cp_id" in matched or (family and given and dob):
        return "certain"
    if (dob and family_any) or (family and given):
        return "probable"
    return "possible"


def reasons(matched: set[str]) -> list[str]:
    """Readable reasons, the exact form of a field hiding its fuzzy form."""
    out = []
    if "cp_id" in matched:
        out.append("ContactPoint ID")
    for field in ("family_name", "given_name"):
        if f"{field}_exact" in matched:
            out.append(CLAUSES[f"{field}_exact"][1])
        elif f"{field}_fuzzy" in matched:
            out.append(CLAUSES[f"{field}_fuzzy"][1])
    out.extend(CLAUSES[name][1] for name in ("date_of_birth", "gender", "postcode") if name in matched)
    return out
