"""Stored relevance profiles: every edit is a new version; exactly one version is active."""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from search_service.profiles import ProfileError, RelevanceProfile, default_profile

from .models import RelevanceProfileRow


def save_profile(session: Session, data: dict, created_by: str) -> RelevanceProfile:
    """Validate and store ``data`` as the next version of its name (never overwrites a version)."""
    RelevanceProfile.from_dict({**data, "version": 1})  # validate before numbering
    shipped = default_profile()
    # Never number an edit of the shipped default as its own version: that would hide the shipped one.
    latest = session.scalar(select(func.max(RelevanceProfileRow.version))
                            .where(RelevanceProfileRow.name == data["name"])) or \
        (shipped.version if data["name"] == shipped.name else 0)
    profile = RelevanceProfile.from_dict({**data, "version": latest + 1})
    session.add(RelevanceProfileRow(name=profile.name, version=profile.version, body=profile.to_dict(),
                                    active=False, created_by=created_by))
    session.flush()
    return profile


def get_profile(session: Session, name: str, version: int | None = None) -> RelevanceProfile:
    """A stored profile (newest version unless given); the shipped default when never stored."""
    query = select(RelevanceProfileRow).where(RelevanceProfileRow.name == name)
    if version is not None:
        query = query.where(RelevanceProfileRow.version == version)
    row = session.scalar(query.order_by(RelevanceProfileRow.version.desc()).limit(1))
    if row is not None:
        return RelevanceProfile.from_dict(row.body)
    default = default_profile()
    if name == default.name and version in (None, default.version):
        return default
    raise ProfileError(f"profile: no profile {name!r}" + (f" version {version}" if version else ""))


def activate_profile(session: Session, name: str, version: int | None = None) -> RelevanceProfile:
    profile = get_profile(session, name, version)
    row = session.scalar(select(RelevanceProfileRow).where(RelevanceProfileRow.name == profile.name,
                                                           RelevanceProfileRow.version == profile.version))
    if row is None:  # the shipped default, activated explicitly: store it so the choice is on record
        row = RelevanceProfileRow(name=profile.name, version=profile.version, body=profile.to_dict(),
                                  created_by="shipped")
        session.add(row)
    session.execute(update(RelevanceProfileRow).values(active=False))
    row.active = True
    session.flush()
    return profile


def active_profile(session: Session) -> RelevanceProfile:
    row = session.scalar(select(RelevanceProfileRow).where(RelevanceProfileRow.active.is_(True)).limit(1))
    return RelevanceProfile.from_dict(row.body) if row is not None else default_profile()
