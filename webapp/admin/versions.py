"""What the pages for versioned tuning data share (relevance profiles, linkage models): the list of stored
versions beside the shipped default, NAME:VERSION references from a form, and numbers typed into a form."""
from __future__ import annotations

import math
from typing import Callable

from sqlalchemy import select

from registry.profiles import Versioned

from ..extensions import sessions


def number_text(value: float) -> str:
    return f"{value:g}"


def version_ref(text: str) -> tuple[str, int] | None:
    """(name, version) from "NAME:VERSION" as a version select sends it; None for anything else."""
    name, _, version = text.strip().partition(":")
    if not name or not version.isdigit():
        return None
    return name, int(version)


def parse_number(text: str, low: float, high: float, low_included: bool = True) -> tuple[float | None, str | None]:
    """(the number, None) or (None, what is wrong with it), for a form field that takes a number in a range."""
    try:
        value = float(text.strip())
    except ValueError:
        return None, "enter a number, for example 7.5" if text.strip() else "enter a number"
    if not math.isfinite(value) or value > high or value < low or (value == low and not low_included):
        return None, f"must be a number from {number_text(low)} to {number_text(high)}" if low_included else \
            f"must be more than {number_text(low)} and at most {number_text(high)}"
    return value, None


def chosen_versions(form: dict, first: str, noun: str, errors: dict, find: Callable,
                    missing: tuple[type[Exception], ...]) -> list:
    """The versions a compare form chose: field ``first`` (required) and "against" (optional, another one), each
    read with ``find(session, name, version)``; what is wrong goes into ``errors`` under its field."""
    refs = []
    for key in (first, "against"):
        if key == "against" and not form[key]:
            continue
        ref = version_ref(form[key])
        if ref is None:
            errors[key] = [f"choose a {noun} version"]
        else:
            refs.append((key, ref))
    if len(refs) == 2 and refs[0][1] == refs[1][1]:
        errors["against"] = ["choose a different version to compare with, or none"]
    if errors:
        return []
    chosen = []
    with sessions()() as db:
        for key, (name, version) in refs:
            try:
                chosen.append(find(db, name, version))
            except missing:
                errors[key] = [f"there is no {noun} {name} version {version}"]
    return chosen


def metric_row(name: str, values: list, whole: bool = False) -> dict:
    """One figure's row in a side-by-side table: each version's value and, for two, the change from the first."""
    row = {"name": name, "values": [str(v) if whole else f"{v:.3f}" for v in values]}
    if len(values) == 2:
        delta = values[1] - values[0]
        row["delta"] = f"{delta:+d}" if whole else f"{delta:+.3f}"
    return row


def listed_versions(table: Versioned, shipped: dict, summary: Callable[[dict], dict]) -> list[dict]:
    """Every stored version, newest first within each name, plus the shipped default (body ``shipped``) while it
    was never stored; ``summary`` adds what the page shows of a body. With no version activated the shipped
    default is the one in use, so it is marked active."""
    with sessions()() as db:
        rows = db.scalars(select(table).order_by(table.name, table.version.desc())).all()
        versions = [{"name": r.name, "version": r.version, "ref": f"{r.name}:{r.version}", "active": r.active,
                     "created_by": r.created_by, "created_at": r.created_at, **summary(r.body)} for r in rows]
    name, version = shipped["name"], shipped["version"]
    stored = next((v for v in versions if v["name"] == name and v["version"] == version), None)
    if stored is None:
        versions.append({"name": name, "version": version, "ref": f"{name}:{version}", "active": False,
                         "created_by": "shipped", "created_at": None, **summary(shipped)})
        versions.sort(key=lambda v: (v["name"], -v["version"]))
    if not any(v["active"] for v in versions) and (stored is None or stored["created_by"] == "shipped"):
        next(v for v in versions if v["name"] == name and v["version"] == version)["active"] = True
    return versions
