"""Relevance profiles for every front end: read, save a version, activate one, evaluate, each audited alike.

`contactpoint relevance ...` and the relevance pages both call these, so a version is validated,
numbered, stored and audited the same way whoever asks. registry keeps the rows (plain JSON);
search_service says what a valid profile is and ships the default; this module puts them together.
``audited`` is an ``access_control.audit`` recorder (``recorder`` for the console, ``recorder_for``
for a signed-in user), called in the same transaction as the change it records.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from registry import profiles as stored
from search_service.evaluation import Judgment, Metrics, QueryOutcome, evaluate
from search_service.profiles import ProfileError, RelevanceProfile, default_profile

from .offline import judgment_runner, only_synthetic_children

Recorder = Callable[[Session, str, dict], object]


def get_profile(session: Session, name: str, version: int | None = None) -> RelevanceProfile:
    """A stored profile (newest version unless given); the shipped default when never stored."""
    body = stored.stored_body(session, name, version)
    if body is not None:
        return RelevanceProfile.from_dict(body)
    default = default_profile()
    if name == default.name and version in (None, default.version):
        return default
    raise ProfileError(f"profile: no profile {name!r}" + (f" version {version}" if version else ""))


def active_profile(session: Session) -> RelevanceProfile:
    """The profile every search uses: the activated version, else the shipped default."""
    body = stored.active_body(session)
    return RelevanceProfile.from_dict(body) if body is not None else default_profile()


def save_profile(session: Session, data: dict, created_by: str) -> RelevanceProfile:
    """Validate and store ``data`` as the next version of its name (never overwrites a version); not audited."""
    RelevanceProfile.from_dict({**data, "version": 1})  # validate before numbering
    shipped = default_profile()
    # Never number an edit of the shipped default as its own version: that would hide the shipped one.
    latest = stored.latest_version(session, data["name"]) or (shipped.version if data["name"] == shipped.name else 0)
    profile = RelevanceProfile.from_dict({**data, "version": latest + 1})
    stored.add_version(session, profile.to_dict(), created_by)
    return profile


def activate_profile(session: Session, name: str, version: int | None = None) -> RelevanceProfile:
    """Make NAME (newest version) or NAME:VERSION the one active profile; not audited."""
    profile = get_profile(session, name, version)
    stored.activate_version(session, profile.to_dict(), created_by="shipped")
    return profile


def save_version(session: Session, data: dict, created_by: str, audited: Recorder,
                 based_on: RelevanceProfile | None = None) -> RelevanceProfile:
    """``save_profile``, audited as "relevance_profile_saved" (with the version it was edited from, if any)."""
    profile = save_profile(session, data, created_by)
    details = {"profile": profile.name, "version": profile.version}
    if based_on is not None:
        details["based_on"] = f"{based_on.name}:{based_on.version}"
    audited(session, "relevance_profile_saved", details)
    return profile


def activate(session: Session, name: str, version: int | None, audited: Recorder) -> RelevanceProfile:
    """``activate_profile``, audited as "relevance_profile_activated"."""
    profile = activate_profile(session, name, version)
    audited(session, "relevance_profile_activated", {"profile": profile.name, "version": profile.version})
    return profile


@dataclass(frozen=True)
class Report:
    label: str  # NAME:VERSION
    metrics: Metrics
    outcomes: list[QueryOutcome]


@dataclass(frozen=True)
class Evaluation:
    reports: list[Report]
    synthetic: bool  # every expected child is synthetic: the queries may be shown


def evaluate_profiles(es, settings, sessions: sessionmaker, profiles: Sequence[RelevanceProfile],
                      judgments: Sequence[Judgment], source: str, audited: Recorder) -> Evaluation:
    """Run ``judgments`` under each profile, then audit the bulk of searches as one "relevance_evaluation".

    Search-engine errors propagate before anything is audited (nothing was evaluated).
    """
    reports = []
    for profile in profiles:
        metrics, outcomes = evaluate(judgment_runner(es, settings, profile), judgments)
        reports.append(Report(f"{profile.name}:{profile.version}", metrics, outcomes))
    with sessions.begin() as session:
        synthetic = only_synthetic_children(session, judgments)
        audited(session, "relevance_evaluation", {"judgments": source, "queries": len(judgments),
                                                  "searches": len(judgments) * len(reports), "synthetic": synthetic,
                                                  "profiles": [report.label for report in reports]})
    return Evaluation(reports, synthetic)
