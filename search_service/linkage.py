"""Candidate children for record linkage: many feed rows looked up at once (``msearch``).

Linkage looks a row up with the same analyzers the search uses (name keys: exact, variant and
phonetic; dates of birth with day and month swapped; postcode; identifiers) but with a query of
its own: blocking rules, as a record-linkage team would write them. Each rule is a conjunction of
two or three kinds of evidence (the date of birth and a family-name key; a postcode and a given-name
key; both names in the same month of birth or district...), so no single kind is required (a
misspelt surname still meets its child through the given name and the date of birth) and no single
common kind is enough (every Olivia, every child born that day). A conjunction is led by its rarest
part, so a rule costs what its rarest part costs, and a row gets about three candidates, not ten:
fewer children to read and score. Candidates rank by the rules they meet. The linkage model, not
this query, decides; the query only gathers. Every active child counts, shielded ones too: a new
source's record of a shielded child must join it, not make a second, unshielded child.
"""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Sequence

from elasticsearch import Elasticsearch

from analyzers import family_name_keys, given_name_keys, normalise_postcode, outward_code, transposed

ACTIVE = [{"term": {"status": "active"}}]
CHUNK = 100  # searches per msearch request: a request stays well inside the client's timeout
PARALLEL = 4  # msearch requests in flight at once
# The blocking rules: the kinds of evidence a candidate must share with the row, and what meeting
# the rule adds to its rank. "names" is both names; "swapped" both names, each among the other's.
RULES = (
    (("nhs_number",), 10), (("upn",), 10),
    (("dob", "family"), 7), (("dob", "given"), 7), (("dob", "postcode"), 6),
    (("postcode", "given"), 5), (("postcode", "family"), 5),
    (("dob", "given_as_family"), 5), (("dob", "family_as_given"), 5),
    (("names", "year_month"), 4), (("names", "outward_code"), 4),
    (("swapped", "year_month"), 3), (("swapped", "outward_code"), 3),
)


def _terms(field: str, values) -> dict | None:
    values = sorted({v for v in values if v})
    return {"terms": {field: values}} if values else None


@lru_cache(maxsize=1 << 16)
def _name(field: str, name: str, family: bool) -> dict | None:
    """Any of a name's keys (exact, variant, phonetic; made as a family name or a given name) in one name field.

    Kept per name, since common names come again and again (a clause is only read, never changed)."""
    keys = family_name_keys(name) if family else given_name_keys(name)
    clauses = [c for c in (_terms(f"{field}_{kind}", getattr(keys, kind)) for kind in ("exact", "variant", "phonetic"))
               if c]
    return {"bool": {"should": clauses, "minimum_should_match": 1}} if clauses else None


def _both(*parts: dict | None) -> list[dict] | None:
    return list(parts) if all(parts) else None


def evidence(row: dict) -> dict[str, list[dict] | None]:
    """Each kind of evidence a rule may name, as the filters a candidate must pass (None: the row lacks it)."""
    given, family = row.get("given_name") or "", row.get("family_name") or ""
    dob = row.get("date_of_birth")
    postcode = normalise_postcode(row.get("postcode"))
    parts: dict[str, dict | None] = {
        "nhs_number": _terms("nhs_number", [row.get("nhs_number")]), "upn": _terms("upn", [row.get("upn")]),
        "family": _name("family", family, True), "given": _name("given", given, False),
        "given_as_family": _name("family", given, False), "family_as_given": _name("given", family, True),
        "dob": None, "year_month": None, "postcode": None, "outward_code": None}
    if isinstance(dob, dt.date):
        parts["dob"] = _terms("date_of_birth", [dob.isoformat(), *(d.isoformat() for d in (transposed(dob),) if d)])
        parts["year_month"] = _terms("dob_year_month", [dob.strftime("%Y-%m")])
    if postcode:
        parts["postcode"] = _terms("postcode", [postcode])
        parts["outward_code"] = _terms("outward_code", [outward_code(postcode)])
    kinds = {kind: [part] if part else None for kind, part in parts.items()}
    kinds["names"] = _both(parts["family"], parts["given"])
    kinds["swapped"] = _both(parts["given_as_family"], parts["family_as_given"])
    return kinds


def linkage_query(row: dict, size: int) -> dict:
    """One row's candidate query (pure: unit-tested as a dict)."""
    kinds = evidence(row)
    should = []
    for needed, rank in RULES:
        filters = [kinds[kind] for kind in needed]
        if all(filters):
            should.append({"constant_score": {"filter": {"bool": {"filter": [f for part in filters for f in part]}},
                                              "boost": rank}})
    if not should:  # nothing to block on: no candidate (never every child)
        should = [{"bool": {"must_not": {"match_all": {}}}}]
    return {"query": {"bool": {"should": should, "filter": ACTIVE, "minimum_should_match": 1}},
            "size": size, "track_total_hits": False,
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
