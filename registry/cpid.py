"""ContactPoint IDs: 10 digits, the last a modulus-11 check digit (the NHS-number scheme).

Random, not sequential, so that an ID says nothing about a child and cannot be enumerated.
"""
from __future__ import annotations

import random
import secrets

WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no valid ID has these nine digits."""
    remainder = sum(int(d) * w for d, w in zip(first_nine, WEIGHTS)) % 11
    check = (11 - remainder) % 11
    return None if check == 10 else check


def normalise(text: str) -> str:
    """Accept the printed form ("123 456 7890") as well as bare digits."""
    return "".join(text.split()).replace("-", "")


def is_valid(cp_id: str) -> bool:
    cp_id = normalise(cp_id)
    if len(cp_id) != 10 or not cp_id.isascii() or not cp_id.isdigit():
        return False
    return check_digit(cp_id[:9]) == int(cp_id[9])


def generate(rng: random.Random | None = None) -> str:
    while True:
        first = str(rng.randrange(10**9) if rng is not None else secrets.randbelow(10**9)).zfill(9)
        if first[0] == "0":
            continue  # keep IDs at ten printed digits
        check = check_digit(first)
        if check is not None:
            return first + str(check)


def display(cp_id: str) -> str:
    return f"{cp_id[:3]} {cp_id[3:6]} {cp_id[6:]}"
