"""Stored relevance profiles, kept as JSON bodies: every edit is a new version; exactly one version is active.

registry keeps the rows only. What makes a valid profile, and the shipped default, belong to
search_service; webapp.relevance_service puts the two together (registry and search_service stand
side by side: neither imports the other).
"""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import RelevanceProfileRow


def latest_version(session: Session, name: str) -> int | None:
    """The newest stored version of ``name``; None when it was never stored."""
    return session.scalar(select(func.max(RelevanceProfileRow.version)).where(RelevanceProfileRow.name == name))


def stored_body(session: Session, name: str, version: int | None = None) -> dict | None:
    """The body of a stored version (the newest unless given); None when there is no such version."""
    query = select(RelevanceProfileRow).where(RelevanceProfileRow.name == name)
    if version is not None:
        query = query.where(RelevanceProfileRow.version == version)
    row = session.scalar(query.order_by(RelevanceProfileRow.version.desc()).limit(1))
    return row.body if row is not None else None


def add_version(session: Session, body: dict, created_by: str) -> None:
    """Store ``body`` (holding its ``name`` and ``version``) as a new, inactive version; never overwrites one."""
    session.add(RelevanceProfileRow(name=body["name"], version=body["version"], body=body, active=False,
                                    created_by=created_by))
    session.flush()


def activate_version(session: Session, body: dict, created_by: str) -> None:
    """Make the version ``body`` names the only active one, storing ``body`` first if that version never was."""
    row = session.scalar(select(RelevanceProfileRow).where(RelevanceProfileRow.name == body["name"],
                                                           RelevanceProfileRow.version == body["version"]))
    if row is None:  # e.g. the shipped default, activated explicitly: store it so the choice is on record
        row = RelevanceProfileRow(name=body["name"], version=body["version"], body=body, created_by=created_by)
        session.add(row)
    session.execute(update(RelevanceProfileRow).values(active=False))
    row.active = True
    session.flush()


def active_body(session: Session) -> dict | None:
    """The active version's body; None while no version was ever activated."""
    row = session.scalar(select(RelevanceProfileRow).where(RelevanceProfileRow.active.is_(True)).limit(1))
    return row.body if row is not None else None
