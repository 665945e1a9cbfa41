"""Unicode folding and name tokenisation, identical at index and query time."""
from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose into a base letter plus a mark.
_SPECIAL = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ß": "ss",
                          "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "þ": "th", "ð": "d"})
_APOSTROPHES = "'’‘`´ʼ"
_SEPARATORS = re.compile(r"[\s\-‐‑–—_.,/]+")


def fold(text: str) -> str:
    """Lower-case ASCII letters only: 'Zoë O’Brien-Łukasz' -> 'zoe obrien lukasz'."""
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")  # O'Brien and OBrien are the same name
    text = _SEPARATORS.sub(" ", text)
    return " ".join("".join(c for c in text if c.isascii() and (c.isalpha() or c == " ")).split())


def tokens(name: str | None) -> list[str]:
    """The parts of a multi-part name: 'Smith-Jones' -> ['smith', 'jones']."""
    return fold(name).split() if name else []


def compact(name: str | None) -> str:
    """The whole name with no spaces: 'van der Berg' -> 'vanderberg'."""
    return "".join(tokens(name))


_FOLDED_WORD = re.compile(r"[a-z]+")


def compact_token(token: str | None) -> str:
    """compact(token), skipping the Unicode work when the token is already a folded word (hot path)."""
    if token and _FOLDED_WORD.fullmatch(token):
        return token
    return compact(token)
