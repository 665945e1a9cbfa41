"""Phonetic codes for name tokens, identical at index and query time.

Every function folds its input first (``analyzers.text``), so "Zoë", "ZOE" and "zoe" always get
the same code, and all of them are cached because the same few hundred thousand distinct
name tokens recur across millions of records.
"""
from __future__ import annotations

from functools import lru_cache

import jellyfish
from doublemetaphone import doublemetaphone as _doublemetaphone

from .text import compact_token

_CACHE_SIZE = 1 << 16



# Tokens shorter than this carry no useful sound: "J" is an initial, not a name.
MIN_PHONETIC_LETTERS = 2


@lru_cache(maxsize=_CACHE_SIZE)
def double_metaphone(token: str | None) -> tuple[str, str]:
    """Primary and secondary Double Metaphone codes ('' when absent): copes with non-English spellings."""
    folded = compact_token(token)
    if not folded:
        return ("", "")
    primary, secondary = _doublemetaphone(folded)
    return (primary, secondary)


@lru_cache(maxsize=_CACHE_SIZE)
def metaphone(token: str | None) -> str:
    """Original Metaphone code: a single, stricter code than Double Metaphone."""
    folded = compact_token(token)
    return jellyfish.metaphone(folded) if folded else ""


@lru_cache(maxsize=_CACHE_SIZE)
def nysiis(token: str | None) -> str:
    """NYSIIS code: built for names, keeps more vowel information than Soundex."""
    folded = compact_token(token)
    return jellyfish.nysiis(folded) if folded else ""


@lru_cache(maxsize=_CACHE_SIZE)
def soundex(token: str | None) -> str:
    """American Soundex code: coarse, but what many existing systems store."""
    folded = compact_token(token)
    return jellyfish.soundex(folded) if folded else ""


@lru_cache(maxsize=_CACHE_SIZE)
def match_rating_codex(token: str | None) -> str:
    """Match Rating Approach codex: used by record linkage for its own comparison rule."""
    folded = compact_token(token)
    return jellyfish.match_rating_codex(folded) if folded else ""


@lru_cache(maxsize=_CACHE_SIZE)
def phonetic_codes(token: str | None) -> tuple[str, ...]:
    """The prefixed codes stored in the index for one token: ("dm:<primary>", "dm:<secondary>", "ny:<nysiis>").

    Prefixes keep the two code families from matching each other by accident; the secondary
    Double Metaphone code is left out when empty or equal to the primary. Tokens of fewer than
    two letters get no codes (an initial is matched as an initial, not as a sound).
    """
    folded = compact_token(token)
    if len(folded) < MIN_PHONETIC_LETTERS:
        return ()
    primary, secondary = double_metaphone(folded)
    codes = [f"dm:{primary}"] if primary else []
    if secondary and secondary != primary:
        codes.append(f"dm:{secondary}")
    code = nysiis(folded)
    if code:
        codes.append(f"ny:{code}")
    return tuple(codes)
