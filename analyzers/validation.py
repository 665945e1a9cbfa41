"""What counts as a name: shared by feed validation and search criteria."""
from __future__ import annotations

import re
import unicodedata

from .text import script_tokens, tokens

MAX_NAME_LENGTH = 100
_PUNCTUATION = set(" -'’‘.")
_PLAIN = re.compile(r"[A-Za-z '.-]*")


def name_problem(value: str, max_length: int = MAX_NAME_LENGTH) -> str | None:
    """Why ``value`` is not a usable person's name, or None when it is."""
    if not value.strip():
        return "must not be blank"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    for char in ("" if _PLAIN.fullmatch(value) else value):  # most names: ASCII letters and punctuation only
        category = unicodedata.category(char)
        if category[0] in "LM" or char in _PUNCTUATION:
            continue
        if category[0] == "C":
            return "must not contain control or invisible characters"
        return "may contain only letters, spaces, hyphens, apostrophes and full stops"
    if not any(unicodedata.category(c)[0] == "L" for c in value):
        return "must contain at least one letter"
    if not tokens(value) and not script_tokens(value):
        # A name with no keys would leave the date of birth to choose candidates on its own.
        return "must contain at least one letter of a name, not only marks or modifiers"
    return None
