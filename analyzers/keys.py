"""The match keys of a name: the single entry point for indexing, query building and linkage.

The same function must run on the indexed record and on the practitioner's query, so a
record is found whenever the two share a key; which key they share says how strong the match is
(exact > variant > phonetic). Everything here is pure, deterministic and cached.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .phonetic import phonetic_codes
from .text import compact, tokens
from .variants import family_variant_ids, given_variant_ids

_CACHE_SIZE = 1 << 16

# Leading words of family names that are not the name itself: "van der Berg" is filed under Berg
# as often as under Van der Berg. "mc", "dos", "das" and "des" were added to the brief's list:
# "Mc Donald" and "dos Santos" are as common as their "mac"/"da" counterparts.
PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "st", "ter",
    "ten", "al", "el", "bin", "bint", "ibn", "nic", "ni", "mac", "mc", "o", "ap", "dos", "das",
    "des",
})

# Names that start with "mac" but are not "son of": never unified with a "Mc" spelling.
_NOT_MAC = frozenset({"macon", "macron", "macaroni"})
_NOT_MAC_PREFIXES = ("macie", "macia", "macio", "machin", "machad", "machow", "machac", "machal",
                     "machel", "machen", "macho", "maced")
_VOWELS = frozenset("aeiouy")
_MIN_MAC_REST = 3


@dataclass(frozen=True)
class NameKeys:
    """Every key of one name, grouped by how much a shared key says about the match."""

    exact: tuple[str, ...] = ()     # folded tokens, compact form, Mc form, family core without particles
    variant: tuple[str, ...] = ()   # "v:<group>" ids of nickname / spelling / transliteration groups
    phonetic: tuple[str, ...] = ()  # "dm:<double metaphone>", "ny:<nysiis>" codes
    initials: tuple[str, ...] = ()  # first letter of the first token


EMPTY_KEYS = NameKeys()


def mc_form(token: str) -> str | None:
    """'macdonald' and 'mcdonald' -> 'mcdonald': one spelling for the Scottish/Irish "son of" prefix.

    None when the token has no such prefix, or when what follows is too short or not
    name-like ("mack", "macey", "mace") or the name is a known non-patronymic ("machin", "maciej").
    """
    if token.startswith("mc"):
        rest = token[2:]
    elif token.startswith("mac"):
        if token in _NOT_MAC or token.startswith(_NOT_MAC_PREFIXES):
            return None
        rest = token[3:]
    else:
        return None
    if len(rest) < _MIN_MAC_REST or not _VOWELS.intersection(rest):
        return None
    return "mc" + rest


def _unique(items: Iterable[str | None]) -> tuple[str, ...]:
    """First-occurrence order, no blanks, no repeats: the same keys in the same order every time."""
    return tuple(dict.fromkeys(item for item in items if item))


def _significant(parts: list[str], family: bool) -> list[str]:
    """The tokens that are the name itself: particles dropped from family names (unless all are)."""
    if not family:
        return parts
    kept = [part for part in parts if part not in PARTICLES]
    return kept or parts


def _core(parts: list[str]) -> str:
    """The family name without its leading particles: 'van der berg' -> 'berg'."""
    start = 0
    while start < len(parts) - 1 and parts[start] in PARTICLES:
        start += 1
    return "".join(parts[start:])


def _keys(name: str | None, family: bool) -> NameKeys:
    parts = tokens(name)
    if not parts:
        return EMPTY_KEYS
    multi = len(parts) > 1
    whole = "".join(parts)  # compact(name), without folding twice
    significant = _significant(parts, family)
    # A lone initial next to a real name ("John P") would make every "P" an exact match.
    words = [part for part in significant if len(part) > 1] or significant

    exact = list(words)
    if multi:
        exact.append(whole)
    exact.extend(mc_form(form) for form in (*words, whole))
    if family and multi:
        exact.append(_core(parts))

    lookup = family_variant_ids if family else given_variant_ids
    variant = [item for form in (*significant, whole) for item in lookup(form)]

    sounded = [*significant, whole] if multi else significant
    phonetic = [code for form in sounded for code in phonetic_codes(form)]

    return NameKeys(
        exact=_unique(exact),
        variant=_unique(variant),
        phonetic=_unique(phonetic),
        initials=(parts[0][0],),
    )


@lru_cache(maxsize=_CACHE_SIZE)
def given_name_keys(name: str | None) -> NameKeys:
    """Match keys of a given name ("Mohammed Ali", "Mary-Jane", "Alex")."""
    return _keys(name, family=False)


@lru_cache(maxsize=_CACHE_SIZE)
def family_name_keys(name: str | None) -> NameKeys:
    """Match keys of a family name ("van der Berg", "MacDonald", "Kowalska", "Smith-Jones")."""
    return _keys(name, family=True)


@lru_cache(maxsize=_CACHE_SIZE)
def family_full_keys(name: str | None) -> tuple[str, ...]:
    """The whole family name as one key (and its Mc form): tells "Cooper-Watson" from "Cooper"."""
    whole = compact(name)
    if not whole:
        return ()
    unified = mc_form(whole)
    return (whole, unified) if unified and unified != whole else (whole,)
