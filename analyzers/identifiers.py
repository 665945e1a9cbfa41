"""Strong identifiers a child may carry: the NHS number and the DfE unique pupil number (UPN).

Both carry a check character, so a slip of one digit (or most swaps of two) is caught at the door
rather than linking or finding the wrong child. Pure functions, shared by feeds, search and linkage.
"""
from __future__ import annotations

NHS_NUMBER_LENGTH = 10
UPN_LENGTH = 13
# The UPN's check letter alphabet (no I, O or S); a letter's value is its index.
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_SEPARATORS = str.maketrans("", "", " -")


def normalise_nhs_number(value: str) -> str:
    """The NHS number without the spaces and hyphens of its printed form (``943 476 5919``)."""
    return value.translate(_SEPARATORS)


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit of nine digits, or None when no digit can make a valid number."""
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_number_problem(value: str) -> str | None:
    """Why ``value`` (printed form or normalised) is not a valid NHS number, or None when it is."""
    value = normalise_nhs_number(value)
    if len(value) != NHS_NUMBER_LENGTH or not value.isascii() or not value.isdigit():
        return "must be 10 digits"
    if nhs_number_check_digit(value[:9]) != int(value[9]):
        return "fails its modulus-11 check digit"
    return None


def normalise_upn(value: str) -> str:
    """The UPN in capitals, without spaces or hyphens."""
    return value.translate(_SEPARATORS).upper()


def upn_check_letter(last_twelve: str) -> str:
    """The check letter of characters 2-13: weights 2..13, modulus 23, as a letter of ``UPN_LETTERS``."""
    total = sum(weight * (int(char) if char.isdigit() else UPN_LETTERS.index(char))
                for weight, char in zip(range(2, 14), last_twelve))
    return UPN_LETTERS[total % 23]


def upn_problem(value: str) -> str | None:
    """Why ``value`` (printed form or normalised) is not a valid UPN, or None when it is.

    A permanent UPN is a check letter and 12 digits; a temporary one ends in a letter instead.
    """
    value = normalise_upn(value)
    if len(value) != UPN_LENGTH or not value.isascii():
        return "must be 13 characters: a check letter and 12 digits (a temporary UPN ends in a letter)"
    last_is_valid = value[12].isdigit() or value[12] in UPN_LETTERS
    if value[0] not in UPN_LETTERS or not value[1:12].isdigit() or not last_is_valid:
        return "must be a check letter, 11 digits, then a digit or (temporary UPN) a letter"
    if upn_check_letter(value[1:]) != value[0]:
        return "fails its check letter"
    return None
