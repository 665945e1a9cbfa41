"""Candidate children for record linkage: many feed rows looked up at once (``msearch``).

Linkage looks a row up with the same analyzers the search uses (name keys: exact, variant and
phonetic; dates of birth with day and month swapped; postcode; identifiers) but with a query of
its own: plain term clauses, each worth a fixed amount, so it costs a few milliseconds where the
practitioner's search (fuzzy and garbled-name clauses) costs tens, and no single kind of evidence
is required — a misspelt surname still meets its child through the given name and the date of
birth. The linkage model, not this query, decides; the query only gathers. Every active child
counts, shielded ones too: a new source's record of a shielded child must join it, not make a
second, unshielded child.
"""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from elasticsearch import Elasticsearch

from analyzers import family_name_keys, given_name_keys, normalise_postcode, outward_code, transposed

ACTIVE = [{"term": {"status": "active"}}]
# What each kind of agreement adds; a candidate needs more than a date of birth alone.
WEIGHTS = {"nhs_number": 10, "upn": 10, "dob_exact": 4, "dob_transposed": 3, "dob_year_month": 1,
           "family": 3, "given": 3, "swapped": 2, "postcode": 2, "outward_code": 1}
MIN_SCORE = 5
CHUNK = 100  # searches per msearch request: a request stays well inside the client's timeout
PARALLEL = 4  # msearch requests in flight at once


def _clause(field: str, values, weight: float) -> dict | None:
    values = sorted({v for v in values if v})
    if not values:
        return None
    return {"constant_score": {"filter": {"terms": {field: values}}, "boost": weight}}


def _name_clause(fields: Sequence[str], keys, weight: float) -> dict | None:
    """The best of a name's keys against several fields (one dis_max: a name counts once)."""
    clauses = [c for c in (_clause(f"{field}_{kind}", getattr(keys, kind), weight)
                           for field in fields for kind in ("exact", "variant", "phonetic")) if c]
    return {"dis_max": {"queries": clauses}} if clauses else None


def linkage_query(row: dict, size: int) -> dict:
    """One row's candidate query (pure: unit-tested as a dict)."""
    given = given_name_keys(row.get("given_name") or "")
    family = family_name_keys(row.get("family_name") or "")
    dob = row.get("date_of_birth")
    postcode = normalise_postcode(row.get("postcode"))
    clauses = [
        _clause("nhs_number", [row.get("nhs_number")], WEIGHTS["nhs_number"]),
        _clause("upn", [row.get("upn")], WEIGHTS["upn"]),
        _name_clause(["family"], family, WEIGHTS["family"]),
        _name_clause(["given"], given, WEIGHTS["given"]),
        # Swapped names: the given name among family names, the family name among given names.
        {"dis_max": {"queries": [q for q in (_name_clause(["family"], given, WEIGHTS["swapped"]),
                                             _name_clause(["given"], family, WEIGHTS["swapped"])) if q]}},
    ]
    if isinstance(dob, dt.date):
        clauses += [{"dis_max": {"queries": [q for q in (
            _clause("date_of_birth", [dob.isoformat()], WEIGHTS["dob_exact"]),
            _clause("date_of_birth", [d.isoformat() for d in (transposed(dob),) if d], WEIGHTS["dob_transposed"]),
            _clause("dob_year_month", [dob.strftime("%Y-%m")], WEIGHTS["dob_year_month"])) if q]}}]
    if postcode:
        clauses += [{"dis_max": {"queries": [_clause("postcode", [postcode], WEIGHTS["postcode"]),
                                             _clause("outward_code", [outward_code(postcode)],
                                                     WEIGHTS["outward_code"])]}}]
    should = [c for c in clauses if c and (c.get("dis_max") is None or c["dis_max"]["queries"])]
    return {"query": {"bool": {"should": should, "filter": ACTIVE, "minimum_should_match": 1}},
            "min_score": MIN_SCORE, "size": size, "track_total_hits": False,
            # The ID from doc values: no stored document is read for a candidate list.
            "_source": False, "docvalue_fields": ["cp_id"]}


def _search_chunk(es: Elasticsearch, alias: str, rows: Sequence[dict], size: int) -> list[list[str]]:
    searches: list[dict] = []
    for row in rows:
        searches += [{"index": alias}, linkage_query(row, size)]
    found = []
    for response in es.msearch(searches=searches)["responses"]:
        if "error" in response:  # one failed search must not pass for "no candidates"
            raise RuntimeError(f"candidate search failed: {response['error']}")
        found.append([hit["fields"]["cp_id"][0] for hit in response["hits"]["hits"]])
    return found


def candidate_cp_ids(es: Elasticsearch, alias: str, rows: Sequence[dict], size: int = 10) -> list[list[str]]:
    """For each row, the ContactPoint IDs of up to ``size`` children it may be, best first.

    Chunks go out side by side, so every core of the cluster works on a batch.
    """
    chunks = [rows[start:start + CHUNK] for start in range(0, len(rows), CHUNK)]
    if len(chunks) <= 1:
        return _search_chunk(es, alias, rows, size) if rows else []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(chunks))) as pool:
        answers = list(pool.map(lambda chunk: _search_chunk(es, alias, chunk, size), chunks))
    return [found for answer in answers for found in answer]
