"""Pairwise name comparison: how strongly a query name agrees with a candidate's name.

Search uses it to explain and rank results; record linkage reuses it to score record pairs.
All comparisons run on folded forms, so case, accents and punctuation never matter.
"""
from __future__ import annotations

import jellyfish

from .keys import PARTICLES, NameKeys, family_name_keys, given_name_keys, skeleton_keys
from .phonetic import double_metaphone
from .text import compact, fold, tokens

AGREEMENT_ORDER = ("exact", "variant", "phonetic", "fuzzy", "initial", "none")

JARO_WINKLER_THRESHOLD = 0.92
_SHORT_TOKEN = 5  # up to this length one edit is a typo; beyond it two are


def jaro_winkler(a: str | None, b: str | None) -> float:
    """Jaro-Winkler similarity of the folded forms: 1.0 when equal, 0.0 when either is blank."""
    first, second = fold(a or ""), fold(b or "")
    if not first or not second:
        return 0.0
    if first == second:
        return 1.0
    return jellyfish.jaro_winkler_similarity(first, second)


def damerau_levenshtein(a: str | None, b: str | None) -> int:
    """Edits (insert, delete, substitute, swap adjacent letters) between the folded forms."""
    return jellyfish.damerau_levenshtein_distance(fold(a or ""), fold(b or ""))


def _sounded_forms(name: str | None) -> list[str]:
    """Tokens of two or more letters, without particles ("de", "al") unless that is all there is."""
    parts = [part for part in tokens(name) if len(part) > 1]
    parts = [part for part in parts if part not in PARTICLES] or parts
    whole = compact(name)
    return parts + [whole] if whole and whole not in parts else parts


def phonetic_equal(a: str | None, b: str | None) -> bool:
    """True when a and b share any Double Metaphone code (whole compact names or any token pair)."""
    def codes(name: str | None) -> set[str]:
        return {code for form in _sounded_forms(name) for code in double_metaphone(form) if code}

    return bool(codes(a) & codes(b))


def _keys(name: str, kind: str) -> NameKeys:
    if kind == "given":
        return given_name_keys(name)
    if kind == "family":
        return family_name_keys(name)
    raise ValueError(f"kind must be 'given' or 'family', not {kind!r}")


def _fuzzy_forms(name: str, kind: str) -> list[str]:
    """Tokens of two or more letters (without family-name particles) and the compact form."""
    parts = tokens(name)
    if kind == "family":
        parts = [part for part in parts if part not in PARTICLES] or parts
    forms = [part for part in parts if len(part) > 1]
    whole = compact(name)
    if len(whole) > 1 and whole not in forms:
        forms.append(whole)
    return forms


def _same_skeleton(a: str, b: str, kind: str) -> bool:
    """A name in an abjad and a romanisation with the same consonants ("محمد", "Mohammed"), either way round."""
    family = kind == "family"
    return bool(set(skeleton_keys(a, family)) & set(_keys(b, kind).phonetic)
                or set(skeleton_keys(b, family)) & set(_keys(a, kind).phonetic))


def _is_typo(a: str, b: str) -> bool:
    limit = 1 if min(len(a), len(b)) <= _SHORT_TOKEN else 2
    return (jellyfish.damerau_levenshtein_distance(a, b) <= limit
            or jellyfish.jaro_winkler_similarity(a, b) >= JARO_WINKLER_THRESHOLD)


def name_agreement(query: str | None, candidate: str | None, kind: str = "given") -> str:
    """The strongest agreement between two names, one of AGREEMENT_ORDER.

    "exact": same folded/compact name or a shared exact key ("Smith" vs "Smith-Jones");
    "variant": a shared variant group ("Alex" vs "Alexander"); "phonetic": a shared sound code;
    "fuzzy": a likely typo (Damerau-Levenshtein <= 1 up to 5 letters, <= 2 beyond, or
    Jaro-Winkler >= 0.92, on any token pair or the compact forms); "initial": one side is a single
    letter equal to the other's initial; else "none".
    """
    query_keys, candidate_keys = _keys(query or "", kind), _keys(candidate or "", kind)
    if not query_keys.exact or not candidate_keys.exact:
        return "none"
    if set(query_keys.exact) & set(candidate_keys.exact) or compact(query) == compact(candidate):
        return "exact"
    if set(query_keys.variant) & set(candidate_keys.variant):
        return "variant"
    if set(query_keys.phonetic) & set(candidate_keys.phonetic) or _same_skeleton(query, candidate, kind):
        return "phonetic"
    candidate_forms = _fuzzy_forms(candidate, kind)
    if any(_is_typo(a, b) for a in _fuzzy_forms(query, kind) for b in candidate_forms):
        return "fuzzy"
    query_compact, candidate_compact = compact(query), compact(candidate)
    if (len(query_compact) == 1 and (query_compact,) == candidate_keys.initials) or (
            len(candidate_compact) == 1 and (candidate_compact,) == query_keys.initials):
        return "initial"
    return "none"
