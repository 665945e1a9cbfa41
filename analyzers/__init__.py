"""Pure name, date and postcode analysis used on both the index and the query side."""
from .postcode import normalise_postcode, outward_code
from .text import compact, fold, tokens
from .validation import name_problem

__all__ = ["compact", "fold", "name_problem", "normalise_postcode", "outward_code", "tokens"]
