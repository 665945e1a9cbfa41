"""Stored relevance profiles (and linkage models), kept as JSON bodies: every edit is a new version; exactly one
version is active. Each function takes the table (``RelevanceProfileRow`` unless told), so linkage models are
versioned the same way (registry/linkage/store.py).

registry keeps the rows only. What makes a valid profile, and the shipped default, belong to
search_service; webapp.relevance_service puts the two together (registry and search_service stand
side by side: neither imports the other).
"""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import LinkageModelRow, RelevanceProfileRow

Versioned = type[RelevanceProfileRow] | type[LinkageModelRow]


def latest_version(session: Session, name: str, table: Versioned = RelevanceProfileRow) -> int | None:
    """The newest stored version of ``name``; None when it was never stored."""
    return session.scalar(select(func.max(table.version)).where(table.name == name))


def stored_body(session: Session, name: str, version: int | None = None,
                table: Versioned = RelevanceProfileRow) -> dict | None:
    """The body of a stored version (the newest unless given); None when there is no such version."""
    query = select(table).where(table.name == name)
    if version is not None:
        query = query.where(table.version == version)
    row = session.scalar(query.order_by(table.version.desc()).limit(1))
    return row.body if row is not None else None


def add_version(session: Session, body: dict, created_by: str, table: Versioned = RelevanceProfileRow) -> None:
    """Store ``body`` (holding its ``name`` and ``version``) as a new, inactive version; never overwrites one."""
    session.add(table(name=body["name"], version=body["version"], body=body, active=False,
                                    created_by=created_by))
    session.flush()


def activate_version(session: Session, body: dict, created_by: str, table: Versioned = RelevanceProfileRow) -> None:
    """Make the version ``body`` names the only active one, storing ``body`` first if that version never was."""
    row = session.scalar(select(table).where(table.name == body["name"], table.version == body["version"]))
    if row is None:  # e.g. the shipped default, activated explicitly: store it so the choice is on record
        row = table(name=body["name"], version=body["version"], body=body, created_by=created_by)
        session.add(row)
    session.execute(update(table).values(active=False))
    row.active = True
    session.flush()


def active_body(session: Session, table: Versioned = RelevanceProfileRow) -> dict | None:
    """The active version's body; None while no version was ever activated."""
    row = session.scalar(select(table).where(table.active.is_(True)).limit(1))
    return row.body if row is not None else None
