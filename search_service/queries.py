"""Pure query building: criteria + relevance profile in, one Elasticsearch query out.

Each kind of evidence (family name, given name, date of birth, gender, location) is one
``dis_max`` group whose alternatives are ``constant_score`` clauses weighted by the profile,
so a group contributes the weight of its strongest agreement and the total score reads as
evidence. Every clause is named, so results can say why they matched.

Location clauses only ever count for children whose location the caller may see
(``location_scope``), so a shielded child can neither gain nor lose rank by its postcode. The
same scope decides which names count: inside it every name a child is known by (aliases,
previous and source names), outside it only the current name, so a shielded child's previous
name never leads to its current one.

An NHS number or UPN is identity, not location: it matches inside and outside the scope alike. It
counts only beside an agreeing date of birth (when one was given), and only that pair makes a child
"certain" on its own, so a mistyped number that happens to be a stranger's cannot pull the stranger in.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analyzers import family_full_keys, family_name_keys, given_name_keys, near_dates, normalise_postcode, outward_code, tokens
from analyzers import postcode_area
from analyzers import skeleton_keys, transposed

from .profiles import RelevanceProfile

# Strongest first within each group: the first matched clause names the reason.
GROUPS = {
    "identifier": ("nhs_number", "upn"),
    "family": ("family_exact", "family_variant", "family_part", "family_phonetic", "family_fuzzy", "family_swapped",
               "family_garbled"),
    "given": ("given_exact", "given_variant", "given_phonetic", "given_fuzzy", "given_middle", "given_swapped",
              "given_garbled", "given_initial"),
    "dob": ("dob_exact", "dob_transposed", "dob_near", "dob_year_month", "dob_year"),
    "gender": ("gender",),
    "location": ("postcode", "outward_code", "postcode_area"),
}
REASONS = {
    "cp_id": "ContactPoint ID",
    "nhs_number": "NHS number",
    "upn": "unique pupil number",
    "family_exact": "family name",
    "family_variant": "family name is a known variant spelling",
    "family_part": "part of the family name",
    "family_phonetic": "family name sounds like",
    "family_fuzzy": "family name spelt similarly",
    "family_swapped": "given and family names swapped",
    "family_garbled": "family name garbled, date of birth and postcode agree",
    "given_exact": "given name",
    "given_variant": "given name is a nickname or variant",
    "given_phonetic": "given name sounds like",
    "given_fuzzy": "given name spelt similarly",
    "given_middle": "given name matches a middle name",
    "given_swapped": "given and family names swapped",
    "given_garbled": "given name garbled, date of birth and postcode agree",
    "given_initial": "same initial",
    "dob_exact": "date of birth",
    "dob_transposed": "date of birth with day and month swapped",
    "dob_near": "date of birth differs by one digit",
    "dob_year_month": "same month and year of birth",
    "dob_year": "same year of birth",
    "gender": "gender",
    "postcode": "postcode",
    "outward_code": "postcode district",
    "postcode_area": "postcode area",
}
FUZZY_MIN_LENGTH = 3
# A garbled name (two slips, or misspelt and swapped) counts only beside strong other evidence.
GARBLED_EDITS = 2
GARBLED_LONGEST = 5            # from 6 letters on, "AUTO" fuzziness (family_fuzzy) allows two slips already
GARBLED_MAX_EXPANSIONS = 200   # two edits of a short name reach many terms; the true one must not be cut
# Index fields holding the keys of every name a child is known by; CURRENT + field holds those of its
# current name alone (indexing/documents.py).
NAME_FIELDS = ("given_exact", "given_variant", "given_phonetic", "given_initial", "middle_exact", "family_full",
               "family_exact", "family_variant", "family_phonetic")
CURRENT = "current_"


@dataclass(frozen=True)
class Criteria:
    family_name: str | None = None
    given_name: str | None = None
    date_of_birth: dt.date | None = None
    birth_year: int | None = None      # a partial date of birth: the year ...
    birth_month: int | None = None     # ... and perhaps the month
    gender: str | None = None
    postcode: str | None = None
    cp_id: str | None = None
    nhs_number: str | None = None      # normalised and check-digit valid (analyzers.identifiers)
    upn: str | None = None


def _clause(name: str, query: dict, profile: RelevanceProfile) -> dict:
    return {"constant_score": {"filter": query, "boost": profile.weights[name], "_name": name}}


def _group(clauses: list[dict]) -> dict | None:
    clauses = [c for c in clauses if c is not None]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"dis_max": {"queries": clauses, "tie_breaker": 0.0}}


def _terms(field: str, values) -> dict | None:
    values = list(dict.fromkeys(values))
    return {"terms": {field: values}} if values else None


def _fuzzy(field: str, name: str, fuzziness: str | int = "AUTO", max_expansions: int = 50,
           longest: int | None = None) -> dict | None:
    parts = [t for t in tokens(name) if len(t) >= FUZZY_MIN_LENGTH and (longest is None or len(t) <= longest)]
    if not parts:
        return None
    fuzzy = [{"fuzzy": {field: {"value": t, "fuzziness": fuzziness, "prefix_length": 1,
                                "max_expansions": max_expansions, "transpositions": True}}} for t in parts]
    return fuzzy[0] if len(fuzzy) == 1 else {"bool": {"should": fuzzy, "minimum_should_match": 1}}


def strong_evidence(criteria: "Criteria", location_scope: dict | None) -> dict | None:
    """The date of birth within one slip and the very postcode: what lets a garbled name count at all.

    None unless both a full date of birth and a postcode were given. The location scope is part of
    it, so a postcode never helps a child whose location the caller may not see.
    """
    dob, postcode = criteria.date_of_birth, normalise_postcode(criteria.postcode)
    if dob is None or not postcode:
        return None
    dates = [dob, transposed(dob), *near_dates(dob)]
    return {"bool": {"filter": [_terms("date_of_birth", [d.isoformat() for d in dates if d]),
                                {"term": {"postcode": postcode}}] + ([location_scope] if location_scope else [])}}


def _garbled(name: str, own_field: str, other_field: str, evidence: dict | None) -> dict | None:
    """Two slips from a short name of this box's kind, or one slip (two from 6 letters) from a name of the
    other kind (swapped and misspelt), beside ``evidence``. Never wrapped by the name scope: the evidence
    holds the location scope already."""
    if evidence is None:
        return None
    alike = [q for q in (_fuzzy(own_field, name, GARBLED_EDITS, GARBLED_MAX_EXPANSIONS, GARBLED_LONGEST),
                         _fuzzy(other_field, name)) if q is not None]
    if not alike:
        return None
    return {"bool": {"filter": [{"bool": {"should": alike, "minimum_should_match": 1}}, evidence]}}


def _named_group(candidates: list[tuple[str, dict | None]], profile: RelevanceProfile) -> dict | None:
    return _group([_clause(name, query, profile) for name, query in candidates if query is not None])


def on_current_name(query: dict) -> dict:
    """The same name query over the keys of the child's current name alone."""
    if "bool" in query:
        return {"bool": {key: [on_current_name(q) for q in value] if isinstance(value, list) else value
                         for key, value in query["bool"].items()}}
    ((kind, body),) = query.items()
    return {kind: {(CURRENT + field if field in NAME_FIELDS else field): value for field, value in body.items()}}


def _names_in_scope(candidates: list[tuple[str, dict | None]], scope: dict | None) -> list[tuple[str, dict | None]]:
    """Every name counts inside the scope; outside it (a shielded child) only the current name does."""
    if scope is None:
        return candidates
    return [(name, query if query is None else {"bool": {
        "should": [on_current_name(query), {"bool": {"filter": [query, scope]}}], "minimum_should_match": 1}})
        for name, query in candidates]


def family_group(name: str, profile: RelevanceProfile, scope: dict | None = None,
                 evidence: dict | None = None) -> dict | None:
    keys = family_name_keys(name)
    return _named_group(_names_in_scope([
        ("family_exact", _terms("family_full", family_full_keys(name))),
        ("family_variant", _terms("family_variant", keys.variant)),
        ("family_part", _terms("family_exact", keys.exact)),
        # Consonant skeletons find a name written in Arabic or Hebrew script ("حسن" for "Hassan").
        ("family_phonetic", _terms("family_phonetic", keys.phonetic + skeleton_keys(name, True))),
        ("family_fuzzy", _fuzzy("family_exact", name)),
        ("family_swapped", _terms("given_exact", keys.exact)),
    ], scope) + [("family_garbled", _garbled(name, "family_exact", "given_exact", evidence))], profile)


def given_group(name: str, profile: RelevanceProfile, scope: dict | None = None,
                evidence: dict | None = None) -> dict | None:
    keys = given_name_keys(name)
    return _named_group(_names_in_scope([
        ("given_exact", _terms("given_exact", keys.exact)),
        ("given_variant", _terms("given_variant", keys.variant)),
        ("given_phonetic", _terms("given_phonetic", keys.phonetic + skeleton_keys(name))),
        ("given_fuzzy", _fuzzy("given_exact", name)),
        ("given_middle", _terms("middle_exact", keys.exact)),
        ("given_swapped", _terms("family_exact", keys.exact)),
        ("given_initial", _terms("given_initial", keys.initials)),
    ], scope) + [("given_garbled", _garbled(name, "given_exact", "family_exact", evidence))], profile)


def dob_group(criteria: Criteria, profile: RelevanceProfile) -> dict | None:
    dob = criteria.date_of_birth
    if dob is not None:
        swapped = transposed(dob)
        return _named_group([
            ("dob_exact", {"term": {"date_of_birth": dob.isoformat()}}),
            ("dob_transposed", {"term": {"date_of_birth": swapped.isoformat()}} if swapped else None),
            ("dob_near", _terms("date_of_birth", [d.isoformat() for d in near_dates(dob) if d != swapped])),
            ("dob_year_month", {"term": {"dob_year_month": dob.strftime("%Y-%m")}}),
            ("dob_year", {"term": {"dob_year": str(dob.year)}}),
        ], profile)
    if criteria.birth_year is not None:
        return _named_group([
            ("dob_year_month", {"term": {"dob_year_month": f"{criteria.birth_year:04d}-{criteria.birth_month:02d}"}}
             if criteria.birth_month else None),
            ("dob_year", {"term": {"dob_year": str(criteria.birth_year)}}),
        ], profile)
    return None


def _dob_agreement(criteria: Criteria) -> dict | None:
    """The date of birth exactly as given (or the year and month given): what an identifier must stand beside."""
    if criteria.date_of_birth is not None:
        return {"term": {"date_of_birth": criteria.date_of_birth.isoformat()}}
    if criteria.birth_year is not None and criteria.birth_month:
        return {"term": {"dob_year_month": f"{criteria.birth_year:04d}-{criteria.birth_month:02d}"}}
    if criteria.birth_year is not None:
        return {"term": {"dob_year": str(criteria.birth_year)}}
    return None


def identifier_group(criteria: Criteria, profile: RelevanceProfile) -> dict | None:
    """An NHS number or UPN that agrees, beside the date of birth given: a slip that happens to be another
    child's valid number finds nobody unless that child shares the date of birth too. Never scoped: identity."""
    dob = _dob_agreement(criteria)

    def beside_dob(field: str, value: str | None) -> dict | None:
        if not value:
            return None
        term = {"term": {field: value}}
        return term if dob is None else {"bool": {"filter": [term, dob]}}
    return _named_group([("nhs_number", beside_dob("nhs_number", criteria.nhs_number)),
                         ("upn", beside_dob("upn", criteria.upn))], profile)


def location_group(postcode: str | None, location_scope: dict | None, profile: RelevanceProfile) -> dict | None:
    postcode = normalise_postcode(postcode)
    if not postcode:
        return None
    group = _named_group([("postcode", {"term": {"postcode": postcode}}),
                          ("outward_code", {"term": {"outward_code": outward_code(postcode)}}),
                          # Most families move within their area: a district of the same letters says a little.
                          # Districts are few (about 3,000), so this regexp walks a small term dictionary.
                          ("postcode_area", {"regexp": {"outward_code": postcode_area(postcode) + "[0-9][0-9A-Z]?"}})],
                         profile)
    if location_scope is None:
        return group
    # The scope sits inside each named clause, so a child outside it matches none of them.
    for clause in group["dis_max"]["queries"]:
        inner = clause["constant_score"]["filter"]
        clause["constant_score"]["filter"] = {"bool": {"filter": [inner, location_scope]}}
    return group


LOCATABLE = "locatable"


def locatable_marker(location_scope: dict | None) -> dict | None:
    """A clause scoring nothing that names the children location criteria and other names may count for.

    A child outside the scope (shielded, for this viewer) is graded against the best score it
    could reach without location, so a postcode moves neither its grade nor whether it is shown;
    its reasons never mention another name; and the database re-check can tell whether the index
    put it on the right side of the scope.
    """
    if location_scope is None:
        return None
    return {"constant_score": {"filter": location_scope, "boost": 0.0, "_name": LOCATABLE}}


def max_score(criteria: Criteria, profile: RelevanceProfile, with_location: bool = True) -> float:
    """The score of a child agreeing exactly on every criterion given (to grade by ratio).

    ``with_location=False``: for a child location criteria may not count for. Identifiers stay out: a child
    whose record lacks the number given is graded by the rest, and one whose number agrees is graded apart.
    """
    w = profile.weights
    total = 0.0
    if criteria.family_name:
        total += w["family_exact"]
    if criteria.given_name:
        total += w["given_exact"]
    if criteria.date_of_birth:
        total += w["dob_exact"]
    elif criteria.birth_year:
        total += w["dob_year_month"] if criteria.birth_month else w["dob_year"]
    if criteria.gender:
        total += w["gender"]
    if with_location and normalise_postcode(criteria.postcode):
        total += w["postcode"]
    return total


OPPOSITE_GENDER = {"female": "male", "male": "female"}


def demote_contradicting_gender(query: dict, criteria: Criteria, profile: RelevanceProfile) -> dict:
    """A child recorded as the opposite gender to the one given keeps only a share of its score.

    Agreement adds a little; a contradiction says more (one of the two is wrong, or it is another child), so
    between two children equally near on everything else the one whose record does not contradict comes
    first. "other" and "unknown" on either side contradict nothing. Multiplying leaves no clause with a
    negative weight, which Elasticsearch does not allow."""
    opposite = OPPOSITE_GENDER.get(criteria.gender or "")
    share = profile.thresholds["contradicting_gender"]
    if opposite is None or share >= 1:
        return query
    return {"boosting": {"positive": query, "negative": {"term": {"gender": opposite}}, "negative_boost": share}}


def build_query(criteria: Criteria, profile: RelevanceProfile, filters: list[dict], location_scope: dict | None,
                size: int) -> dict:
    """The search body. ``filters`` come from the visibility policy and are always applied."""
    source = ["cp_id", "given_name", "family_name", "date_of_birth", "gender", "shielded", "names"]
    if criteria.cp_id:
        marker = locatable_marker(location_scope)
        query = {"bool": {"must": [{"term": {"cp_id": {"value": criteria.cp_id, "_name": "cp_id"}}}],
                          "should": [marker] if marker else [], "filter": filters}}
        return {"query": query, "size": size, "_source": source}
    # A garbled name is let in only beside a date of birth within one slip and the same postcode.
    evidence = strong_evidence(criteria, location_scope)
    names = [g for g in (
        family_group(criteria.family_name, profile, location_scope, evidence) if criteria.family_name else None,
        given_group(criteria.given_name, profile, location_scope, evidence) if criteria.given_name else None) if g]
    # An identifier beside its date of birth lets a child in as a name does (a name may have changed).
    identifier = identifier_group(criteria, profile)
    gate = names + ([identifier] if identifier else [])
    evidence = [g for g in (
        dob_group(criteria, profile),
        _named_group([("gender", {"term": {"gender": criteria.gender}})], profile) if criteria.gender else None,
        location_group(criteria.postcode, location_scope, profile),
    ) if g is not None]
    # Scores nothing, so it joins "should" only beside a gate (alone it would satisfy minimum_should_match).
    marker = locatable_marker(location_scope) if gate else None
    # Some name (or an identifier) must agree: a date of birth or a postcode alone never makes a candidate.
    must = [{"bool": {"should": gate, "minimum_should_match": 1}}] if gate else []
    return {
        "query": demote_contradicting_gender(
            {"bool": {"must": must, "should": evidence + ([marker] if marker else []), "filter": filters,
                      "minimum_should_match": 0 if gate else 1}}, criteria, profile),
        # Candidates below the profile's minimum never leave Elasticsearch, and are not counted. The
        # minimum leaves location out whenever some children may not be located, so a postcode can
        # never push one of them out.
        "min_score": round(profile.thresholds["minimum"]
                           * max_score(criteria, profile, with_location=location_scope is None), 4),
        "size": size,
        "track_total_hits": True,
        "_source": source,
    }


def strongest(matched: set[str]) -> list[str]:
    """The strongest matched clause of each group, in group order."""
    found = ["cp_id"] if "cp_id" in matched else []
    for names in GROUPS.values():
        best = next((n for n in names if n in matched), None)
        if best:
            found.append(best)
    return found


def reasons(matched: set[str]) -> list[str]:
    return list(dict.fromkeys(REASONS[name] for name in strongest(matched)))


def match_confidence(score: float, criteria: Criteria, profile: RelevanceProfile, matched: set[str],
                     location_counts: bool = True) -> float:
    """How much of the best possible agreement a child reached, 0..1: what its grade is read from.

    A ContactPoint ID, or an identifier beside the full date of birth (PDS's own cross-check), is 1. Any other
    identifier agreement proves nothing more than the rest (it may be mistyped), so its weight is left out."""
    if "cp_id" in matched:
        return 1.0
    identifiers = matched.intersection(GROUPS["identifier"])
    if identifiers:
        if "dob_exact" in matched:
            return 1.0
        score -= max(profile.weights[name] for name in identifiers)
    ceiling = max_score(criteria, profile, with_location=location_counts)
    return max(0.0, min(1.0, score / ceiling)) if ceiling else 0.0


def grade_of(confidence: float, profile: RelevanceProfile) -> str:
    """certain / probable / possible, in the spirit of FHIR Patient $match."""
    if confidence >= profile.thresholds["certain"]:
        return "certain"
    if confidence >= profile.thresholds["probable"]:
        return "probable"
    return "possible"


def match_grade(score: float, criteria: Criteria, profile: RelevanceProfile, matched: set[str],
                location_counts: bool = True) -> str:
    return grade_of(match_confidence(score, criteria, profile, matched, location_counts), profile)
