"""Which judgments no search could answer: the query's evidence for its child is shared, exactly, by others.

A query that gives "Jack Wood, male" and a postcode he has moved away from agrees with its child on the names
and gender only, and so does every other boy called Jack Wood: fourteen children fit the query as well as
the right one does, and no ranking can put him first, or be sure to list him in ten. The benchmark reports
these ties beside its recall, so that a miss the data forces is told apart from a miss the search makes;
the targets are not changed by them. It also counts the queries none of whose names is the child's (a new
family name and no given name): the directory's rule that a date of birth and a postcode alone never make a
candidate bars those, by design.

Only queries whose names and date of birth are either the child's own or left out are assessed (corruptions
``missing:*``, ``moved`` and ``surname_change``): a misspelt name says something about its child that exact
comparison cannot weigh, so those queries are taken to be answerable. Location (postcode, its district and
its area) counts only for children who are not shielded, as in the search itself.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping, Sequence

from analyzers.postcode import normalise_postcode, outward_code, postcode_area

ASSESSED_CORRUPTIONS = ("missing:", "moved", "surname_change")
LOCATION = ("postcode", "district", "area")


def _assessed(corruptions: Sequence[str]) -> bool:
    return all(label.startswith(ASSESSED_CORRUPTIONS) for label in corruptions)


def _evidence(record: Mapping) -> dict[str, str]:
    """The comparable values of a query or a child: folded names, ISO date, gender, postcode and its parts."""
    values = {key: str(record[key]).casefold() for key in ("given_name", "family_name") if record.get(key)}
    if record.get("date_of_birth"):
        values["date_of_birth"] = str(record["date_of_birth"])
    if record.get("gender"):
        values["gender"] = str(record["gender"])
    postcode = normalise_postcode(record.get("postcode"))
    if postcode:
        values.update(postcode=postcode, district=outward_code(postcode), area=postcode_area(postcode))
    return values


def _agreeing(query: dict[str, str], child: dict[str, str], shielded: bool) -> tuple[str, ...]:
    return tuple(sorted(key for key, value in query.items()
                        if child.get(key) == value and not (shielded and key in LOCATION)))


def shared_evidence(children: Iterable[tuple[str, Mapping]], judgments) -> dict[str, int | None]:
    """For each judgment id: how many other children agree with its query on every field its child agrees on
    (None when the judgment is not assessed). ``children`` as the judgment generator reads them, each child
    with an optional ``shielded`` flag."""
    people = {cp_id: (_evidence(child), bool(child.get("shielded"))) for cp_id, child in children}
    wanted: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for judgment in judgments:
        if not _assessed(judgment.corruptions) or judgment.expected not in people:
            continue
        evidence, shielded = people[judgment.expected]
        query = _evidence(judgment.criteria)
        fields = _agreeing(query, evidence, shielded)
        wanted[judgment.id] = (fields, tuple(query[key] for key in fields))
    # One pass per set of agreeing fields (at most a few dozen), counting every child's values for it.
    counts: dict[tuple[str, ...], Counter] = {}
    for fields in {fields for fields, _ in wanted.values()}:
        located = any(key in LOCATION for key in fields)
        counts[fields] = Counter(tuple(evidence.get(key) for key in fields)
                                 for evidence, shielded in people.values() if not (located and shielded))
    return {judgment.id: (counts[wanted[judgment.id][0]][wanted[judgment.id][1]] - 1
                          if judgment.id in wanted else None) for judgment in judgments}


def without_a_name_of_theirs(children: Iterable[tuple[str, Mapping]], judgments) -> set[str]:
    """Ids of the assessed judgments none of whose names is their child's: barred by the minimum-evidence rule."""
    people = dict(children)
    barred = set()
    for judgment in judgments:
        if not _assessed(judgment.corruptions) or judgment.expected not in people:
            continue
        query, child = _evidence(judgment.criteria), _evidence(people[judgment.expected])
        if not any(key in query and query[key] == child.get(key) for key in ("given_name", "family_name")):
            barred.add(judgment.id)
    return barred
