"""User administration pages: LA management teams for their own authority, national administrators for all.

Every change goes through ``access_control.accounts``, which enforces who may administer whom and
which roles they may give, and writes the audit trail. These pages only collect and check input.
"""
from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import aliased, joinedload

from access_control import INTERACTIVE_ROLES, InvalidInput, NotAllowed, accounts, allowed
from access_control.accounts import LA_GRANTABLE_ROLES, USERNAME, is_locked
from access_control.models import ROLES, User
from analyzers import clock
from analyzers.dates import date_from_parts
from registry.models import ORG_KINDS, Organisation

from ..auth import Refused, require
from ..extensions import sessions

bp = Blueprint("user_admin", __name__, url_prefix="/admin/users")

PAGE_SIZE = 50
MAX_PAGE = 10_000
ROLE_LABELS = {
    "practitioner": "Practitioner", "la_management": "Local authority management team",
    "national_admin": "National administrator", "auditor": "Auditor", "relevance_admin": "Relevance administrator",
    "api_client": "Case-management system (API tokens only)", "indexer": "Indexer (no sign-in)",
}
KIND_LABELS = {"local_authority": "Local authority", "school": "School", "gp_practice": "GP practice",
               "service": "Service"}
assert set(ROLE_LABELS) == set(ROLES) and set(KIND_LABELS) == set(ORG_KINDS)
NEW_FIELDS = ("username", "display_name", "role", "organisation_kind", "organisation_code", "la_code", "email",
              "expires_on-day", "expires_on-month", "expires_on-year")
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


def _scope(viewer) -> str | None:
    """The local authority whose users this viewer administers; None for every authority."""
    if allowed(viewer.role, "act_in_every_authority"):
        return None
    if not viewer.la_code:
        raise Refused(403, "your account is not linked to a local authority", "no_local_authority")
    return viewer.la_code


def grantable_roles(viewer) -> tuple[str, ...]:
    return ROLES if allowed(viewer.role, "act_in_every_authority") else tuple(r for r in ROLES if r in LA_GRANTABLE_ROLES)


def parse_date(day: str, month: str, year: str) -> tuple[dt.date | None, str | None]:
    """(date, None), (None, None) when all three are empty, or (None, the problem)."""
    day, month, year = day.strip(), month.strip(), year.strip()
    if not (day or month or year):
        return None, None
    if not (day and month and year):
        return None, "must include a day, month and year"
    try:
        return date_from_parts(day, month, year), None
    except ValueError:
        return None, "must be a real date, for example 31 3 2027"


def _status(user: User, now: dt.datetime) -> tuple[str, str]:
    """(label, GOV.UK tag colour class) for one account."""
    if user.disabled:
        return "Disabled", "govuk-tag--red"
    if user.expires_on is not None and user.expires_on < now.date():
        return "Expired", "govuk-tag--grey"
    if is_locked(user, now):
        return "Locked", "govuk-tag--orange"
    if user.role in INTERACTIVE_ROLES and not user.totp_confirmed:
        return "Authenticator not set up", "govuk-tag--blue"
    return "Active", "govuk-tag--green"


def _listing(viewer, prefix: str, page: int) -> tuple[list[dict], bool]:
    scope = _scope(viewer)
    authority = aliased(Organisation)
    query = (select(User).options(joinedload(User.organisation), joinedload(User.local_authority))
             .order_by(User.username))
    if scope is not None:  # an LA team sees the accounts it administers: its kinds of user, in its organisations
        employer = aliased(Organisation)
        query = (query.join(authority, User.local_authority_id == authority.id)
                 .join(employer, User.organisation_id == employer.id)
                 .where(authority.kind == "local_authority", authority.code == scope,
                        employer.local_authority_id == authority.id, User.role.in_(sorted(LA_GRANTABLE_ROLES))))
    if prefix:
        query = query.where(User.username.startswith(prefix, autoescape=True))
    now = clock.now()
    with sessions()() as db:
        users = db.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).unique().all()
        rows = []
        for user in users[:PAGE_SIZE]:
            label, colour = _status(user, now)
            rows.append({"id": user.id, "username": user.username, "display_name": user.display_name,
                         "email": user.email, "role": user.role, "role_label": ROLE_LABELS[user.role],
                         "organisation": f"{KIND_LABELS[user.organisation.kind]} {user.organisation.code}",
                         "la_code": user.local_authority.code if user.local_authority else None,
                         "expires_on": user.expires_on, "disabled": user.disabled, "status": label,
                         "status_class": colour, "locked": is_locked(user, now),
                         "interactive": user.role in INTERACTIVE_ROLES})
    return rows, len(users) > PAGE_SIZE


def _list_args() -> tuple[str, int]:
    prefix = request.values.get("username_prefix", "").strip().lower()[:100]
    page = request.values.get("page", "1").strip() or "1"
    if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
        raise Refused(400, "page must be a number from 1", "invalid_input", {"page": ["must be a number from 1"]})
    return prefix, int(page)


def _list_page(viewer, errors: dict | None = None, expiry: dict | None = None, notice: str | None = None):
    prefix, page = _list_args()
    rows, more = _listing(viewer, prefix, page)
    return render_template("users.html", viewer=viewer, users=rows, more=more, page=page, prefix=prefix,
                           scope=_scope(viewer), page_size=PAGE_SIZE, errors=errors or {}, expiry=expiry or {},
                           notice=notice), 400 if errors else 200


def _back(notice: str):
    session["notice"] = notice
    prefix, page = _list_args()
    args = {k: v for k, v in (("username_prefix", prefix), ("page", page if page > 1 else None)) if v}
    return redirect(url_for("user_admin.users", **args))


@bp.get("")
def users():
    viewer, _ = require("administer_users")
    return _list_page(viewer, notice=session.pop("notice", None))


def _change(username: str, change, done: str):
    """Apply one account change through access_control (which checks scope and audits)."""
    viewer, _ = require("administer_users")
    _scope(viewer)
    try:
        with sessions().begin() as db:
            change(db, viewer, username)
    except NotAllowed as exc:
        raise Refused(403, str(exc), "not_allowed") from None
    except InvalidInput as exc:
        return _list_page(viewer, errors={exc.field: [exc.message]})
    return _back(done)


@bp.post("/<username>/disable")
def disable(username: str):
    return _change(username, lambda db, actor, name: accounts.set_disabled(db, actor, name, True),
                   f"{username} is disabled and has been signed out everywhere.")


@bp.post("/<username>/enable")
def enable(username: str):
    return _change(username, lambda db, actor, name: accounts.set_disabled(db, actor, name, False),
                   f"{username} is enabled again.")


@bp.post("/<username>/unlock")
def unlock(username: str):
    return _change(username, accounts.unlock, f"{username} is unlocked and may try signing in again.")


@bp.post("/<username>/reset-authenticator")
def reset_authenticator(username: str):
    return _change(username, accounts.reset_second_factor,
                   f"{username} has been signed out and sets up their authenticator app again at their next sign-in.")


@bp.post("/<username>/expiry")
def expiry(username: str):
    viewer, _ = require("administer_users")
    parts = {part: request.form.get(f"expires_on-{part}", "") for part in ("day", "month", "year")}
    clear = request.form.get("action") == "clear"
    expires_on, problem = (None, None) if clear else parse_date(parts["day"], parts["month"], parts["year"])
    if not clear and problem is None and expires_on is None:
        problem = "enter the last day the account may be used, or choose Remove expiry"
    if expires_on is not None and expires_on < clock.now().date():  # as accounts.add_user
        problem = "must be today or later"
    if problem:
        return _list_page(viewer, errors={"expires_on": [problem]}, expiry={"username": username, **parts})
    text = f"{username} may be used until {expires_on:%-d %B %Y}." if expires_on else f"{username} no longer expires."
    return _change(username, lambda db, actor, name: accounts.set_expiry(db, actor, name, expires_on), text)


@bp.route("/new", methods=["GET", "POST"])
def new_user():
    viewer, _ = require("administer_users")
    scope = _scope(viewer)
    roles = grantable_roles(viewer)
    form = {name: request.form.get(name, "").strip() for name in NEW_FIELDS}
    if request.method == "GET":
        form["la_code"] = scope or ""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        errors = _check_new(form, scope)
        if not errors:
            expires_on, _ = parse_date(form["expires_on-day"], form["expires_on-month"], form["expires_on-year"])
            try:
                with sessions().begin() as db:
                    user = accounts.add_user(
                        db, viewer, username=form["username"], display_name=form["display_name"], role=form["role"],
                        organisation_kind=form["organisation_kind"], organisation_code=form["organisation_code"],
                        la_code=form["la_code"] or None, password=request.form.get("password") or None,
                        email=form["email"] or None, expires_on=expires_on)
                    username, role = user.username, user.role
            except NotAllowed as exc:
                raise Refused(403, str(exc), "not_allowed") from None
            except InvalidInput as exc:
                errors = {exc.field: [exc.message]}
            else:
                session["notice"] = f"Added {username}." + (
                    " Give them their initial password securely: they set up their authenticator app at their first "
                    "sign-in." if role in INTERACTIVE_ROLES else " This role signs in with API tokens only.")
                return redirect(url_for("user_admin.users", username_prefix=username))
    return render_template("user_new.html", viewer=viewer, form=form, errors=errors, roles=roles, scope=scope,
                           role_labels=ROLE_LABELS, kind_labels=KIND_LABELS, notice=None), 400 if errors else 200


def _check_new(form: dict, scope: str | None) -> dict[str, list[str]]:
    """What the form can check by itself; rules about people and roles are access_control's."""
    errors: dict[str, list[str]] = {}
    if not form["username"]:
        errors["username"] = ["enter a username"]
    elif not USERNAME.fullmatch(form["username"].lower()):
        errors["username"] = ["use 3 to 100 lower-case letters, digits and . _ @ -, starting with a letter or digit"]
    if not form["display_name"]:
        errors["display_name"] = ["enter the person's full name"]
    elif len(form["display_name"]) > 200:
        errors["display_name"] = ["must be 200 characters or fewer"]
    if form["role"] not in ROLES:
        errors["role"] = ["choose a role"]
    if form["organisation_kind"] not in ORG_KINDS:
        errors["organisation_kind"] = ["choose the kind of organisation they work for"]
    if not form["organisation_code"]:
        errors["organisation_code"] = ["enter the organisation's code"]
    elif not CODE.fullmatch(form["organisation_code"]):
        errors["organisation_code"] = ["use up to 20 letters, digits and . _ -"]
    if scope is not None and not form["la_code"]:
        form["la_code"] = scope
    if form["la_code"] and not CODE.fullmatch(form["la_code"]):
        errors["la_code"] = ["use up to 20 letters, digits and . _ -"]
    if form["email"] and (len(form["email"]) > 254 or not EMAIL.fullmatch(form["email"])):
        errors["email"] = ["enter an email address like name@example.gov.uk"]
    _, problem = parse_date(form["expires_on-day"], form["expires_on-month"], form["expires_on-year"])
    if problem:
        errors["expires_on"] = [problem]
    return errors

