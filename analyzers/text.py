"""Unicode folding and name tokenisation, identical at index and query time."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

# Letters that NFKD does not decompose into a base letter plus a mark.
_SPECIAL = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ß": "ss",
                          "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "þ": "th", "ð": "d"})
_APOSTROPHES = "'’‘`´ʼ"
_SEPARATORS = re.compile(r"[\s\-‐‑–—_.,/]+")
_WHOLE_LETTERS = frozenset({"Lu", "Ll", "Lt", "Lo"})  # not modifier letters such as 'ʹ' on their own


@lru_cache(maxsize=4096)
def _deaccented(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", char.translate(_SPECIAL)) if not unicodedata.combining(c))


def other_script(char: str) -> bool:
    """True for a letter of a script other than Latin ('д', 'ω', 'م', '王'); accented Latin is Latin."""
    return unicodedata.category(char)[0] in "LM" and not _deaccented(char).isascii()


def _latin(char: str) -> str:
    """One character in Latin letters: accents dropped, other scripts' letters transliterated.

    Anything else (spaces, hyphens, apostrophes, symbols) is left for fold to separate on or
    drop: anyascii would spell an emoji out as ':slight_smile:'.
    """
    return anyascii(char) if other_script(char) else _deaccented(char)


@lru_cache(maxsize=1 << 17)  # the same names come again and again: in every key, comparison and query
def fold(text: str) -> str:
    """Lower-case ASCII letters only: 'Zoë O’Brien-Łukasz' -> 'zoe obrien lukasz', 'Дмитрий' -> 'dmitriy'.

    Names in other scripts are transliterated (anyascii) letter by letter, so a name written in
    Cyrillic, Greek, Arabic or Chinese has the same keys as its usual romanisation.
    """
    if not text.isascii():
        text = "".join(_latin(c) for c in unicodedata.normalize("NFC", text))
    text = text.casefold()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")  # O'Brien and OBrien are the same name
    text = _SEPARATORS.sub(" ", text)
    return " ".join("".join(c for c in text if c.isascii() and (c.isalpha() or c == " ")).split())


def tokens(name: str | None) -> list[str]:
    """The parts of a multi-part name: 'Smith-Jones' -> ['smith', 'jones']."""
    return fold(name).split() if name else []


def script_tokens(name: str | None) -> list[str]:
    """The parts of a name in a script other than Latin, as written: 'Дмитрий Иванов' -> ['дмитрий', 'иванов'].

    Lower case, split like tokens(); marks left over after composition are dropped (Arabic and
    Hebrew vowel points are optional), letters that compose with their mark ('й', 'ё', 'が') are kept.
    Latin-only parts are left out: tokens() already holds them.
    """
    if not name or name.isascii():
        return []
    text = "".join(c for c in unicodedata.normalize("NFC", name) if not unicodedata.combining(c)).casefold()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")
    return [part for part in _SEPARATORS.sub(" ", text).split()
            if any(other_script(c) and unicodedata.category(c) in _WHOLE_LETTERS for c in part)]


def compact(name: str | None) -> str:
    """The whole name with no spaces: 'van der Berg' -> 'vanderberg'."""
    return "".join(tokens(name))


_FOLDED_WORD = re.compile(r"[a-z]+")


def compact_token(token: str | None) -> str:
    """compact(token), skipping the Unicode work when the token is already a folded word (hot path)."""
    if token and _FOLDED_WORD.fullmatch(token):
        return token
    return compact(token)
