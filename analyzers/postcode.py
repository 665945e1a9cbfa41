"""UK postcode normalisation."""
from __future__ import annotations

import re

# The official shape: outward code (area, district) and inward code (sector, unit).
POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def normalise_postcode(text: str | None) -> str | None:
    """'ls62ab' -> 'LS6 2AB'; None when it is not a UK postcode."""
    if not text:
        return None
    match = POSTCODE.match("".join(text.split()).upper())
    return f"{match.group(1)} {match.group(2)}" if match else None


def outward_code(postcode: str | None) -> str | None:
    normalised = normalise_postcode(postcode)
    return normalised.split()[0] if normalised else None


def postcode_area(postcode: str | None) -> str | None:
    """'LS6 2AB' -> 'LS': the one or two letters of the area (a city or county), where most moves stay."""
    normalised = normalise_postcode(postcode)
    return normalised[:2].rstrip("0123456789") if normalised else None
