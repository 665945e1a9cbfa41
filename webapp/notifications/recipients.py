"""Who is told of an event: people, never systems, and never the person who caused it.

- a new involvement: for each of the child's other current involvements, the person who registered it (an
  API client's registration names the practitioner it acted for), else its organisation's practitioners;
- a move: the management teams of the old and the new authority.
"""
from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from access_control import INTERACTIVE_ROLES, ROLES, allowed
from access_control.accounts import usable
from access_control.models import User
from analyzers import clock
from registry.models import Involvement

_ACTED_FOR = re.compile(r"\(([^()]+)\)$")  # "case-system/Jo Bloggs (jo.bloggs)": the practitioner's username


def registrants(registered_by: str | None) -> list[str]:
    """Usernames an involvement's ``registered_by`` names, the person first: "user", or "system/Name (user)"."""
    if not registered_by:
        return []
    system, slash, label = registered_by.partition("/")
    acted_for = _ACTED_FOR.search(label.strip()) if slash else None
    return ([acted_for.group(1).strip().lower()] if acted_for else []) + [system.strip().lower()]


def _active(users, today) -> list[User]:
    return [u for u in users if u.role in INTERACTIVE_ROLES and usable(u, today) is None]


def _holding(permission: str):
    """Users whose role has ``permission`` (the permissions table decides; SQL only narrows the rows read)."""
    return User.role.in_(sorted(role for role in ROLES if allowed(role, permission)))


def _users(session: Session, *where) -> list[User]:
    return list(session.scalars(select(User).where(*where).options(
        joinedload(User.organisation), joinedload(User.local_authority)).order_by(User.id)))


def for_event(session: Session, event) -> list[User]:
    """The users told of ``event`` (a registry notification event row), each once."""
    today = clock.today()
    if event.kind == "authority_changed":
        authorities = [la for la in (event.old_la_id, event.new_la_id) if la is not None]
        return _active(_users(session, User.local_authority_id.in_(authorities), _holding("hear_of_moves")), today)
    new = session.get(Involvement, event.involvement_id)
    if new is None:
        return []
    others = session.scalars(select(Involvement).where(
        Involvement.child_id == event.child_id, Involvement.id != new.id,
        or_(Involvement.end_date.is_(None), Involvement.end_date >= today))).all()
    excluded = set(registrants(new.registered_by))
    chosen: dict[int, User] = {}
    for involvement in others:
        named = _active(_users(session, User.username.in_(registrants(involvement.registered_by))), today) \
            if involvement.registered_by else []
        people = named[:1] or _active(_users(session, User.organisation_id == involvement.organisation_id,
                                             _holding("hear_of_services")), today)
        for user in people:
            if user.username not in excluded:
                chosen.setdefault(user.id, user)
    return list(chosen.values())
