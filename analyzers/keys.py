"""The match keys of a name: the single entry point for indexing, query building and linkage.

The same function must run on the indexed record and on the practitioner's query, so a
record is found whenever the two share a key; which key they share says how strong the match is
(exact > variant > phonetic). Everything here is pure, deterministic and cached.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .phonetic import phonetic_codes
from .text import compact, other_script, script_tokens, tokens
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

# Scripts usually written without vowels: "محمد" transliterates to "mhmd", which no sound code links
# to "Mohammed". Their names also get consonant-skeleton keys, which a romanised query is matched to.
_ABJADS = ("ARABIC", "HEBREW", "SYRIAC")
_ARABIC_ARTICLE = "ال"  # "الحسن" is filed as "Al-Hassan" and as "Hassan"
_SKELETON_VOWELS = str.maketrans("", "", "aeiouwy")  # w and y: the long vowels of Arabic script
_REPEATS = re.compile(r"(.)\1+")
_MIN_SKELETON = 2


@dataclass(frozen=True)
class NameKeys:
    """Every key of one name, grouped by how much a shared key says about the match."""

    exact: tuple[str, ...] = ()     # folded tokens, compact form, Mc form, family core without particles,
                                    # and a name in another script as written ("дмитрий")
    variant: tuple[str, ...] = ()   # "v:<group>" ids of nickname / spelling / transliteration groups
    phonetic: tuple[str, ...] = ()  # "dm:<double metaphone>", "ny:<nysiis>" codes; "sk:<consonants>" (abjads)
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


def _skeleton(token: str) -> str | None:
    """'mohammed' and 'mhmd' -> 'sk:mhmd': the consonants, doubles and a final h dropped, q as k."""
    bare = _REPEATS.sub(r"\1", token.replace("q", "k").translate(_SKELETON_VOWELS))
    if len(bare) > _MIN_SKELETON and bare.endswith("h"):
        bare = bare[:-1]  # "Fatima", "Fatimah" and "فاطمة" ("ftmh")
    return "sk:" + bare if len(bare) >= _MIN_SKELETON else None


def written_in_abjad(name: str | None) -> bool:
    return bool(name) and any(other_script(c) and unicodedata.name(c, "").startswith(_ABJADS) for c in name)


def _skeleton_keys(name: str | None, family: bool) -> tuple[str, ...]:
    if written_in_abjad(name):
        words = [word for part in script_tokens(name)
                 for word in (part, part[len(_ARABIC_ARTICLE):] if part.startswith(_ARABIC_ARTICLE) else None)]
        forms = [compact(word) for word in words if word]
    else:
        parts = tokens(name)
        forms = _significant(parts, family) + (["".join(parts)] if len(parts) > 1 else [])
    return _unique(_skeleton(form) for form in forms if form)


@lru_cache(maxsize=_CACHE_SIZE)
def skeleton_keys(name: str | None, family: bool = False) -> tuple[str, ...]:
    """Consonant-skeleton keys of any name, to look up names written in an abjad (Arabic, Hebrew).

    Only abjad names carry them in the index (in their phonetic keys), so a romanised query
    ("Mohammed Hassan") finds "محمد حسن" while two romanised names never match on consonants alone.
    """
    return _skeleton_keys(name, family)


def _keys(name: str | None, family: bool) -> NameKeys:
    parts = tokens(name)
    script = script_tokens(name)
    # The name as written, when in another script: exact whichever way either side was transliterated.
    written = [*script, "".join(script)] if len(script) > 1 else script
    if not parts:
        # Letters anyascii cannot spell (rare CJK ideographs): the name as written is all there is.
        return NameKeys(exact=_unique(written)) if written else EMPTY_KEYS
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
    exact.extend(written)

    lookup = family_variant_ids if family else given_variant_ids
    variant = [item for form in (*significant, whole) for item in lookup(form)]

    sounded = [*significant, whole] if multi else significant
    phonetic = [code for form in sounded for code in phonetic_codes(form)]
    if written_in_abjad(name):
        phonetic.extend(_skeleton_keys(name, family))

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
    """The whole family name as one key (its Mc form, and as written in another script): tells "Cooper-Watson"
    from "Cooper"."""
    whole, written = compact(name), "".join(script_tokens(name))
    unified = mc_form(whole) if whole else None
    return _unique([whole, unified, written])
