"""Sign-in pages: password, then a TOTP code (enrolling the authenticator the first time).

Between the two steps the session holds only the pending user and when the password step
passed. Completing sign-in starts a brand-new session (no fixation) and records the event.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from sqlalchemy import select

from access_control import audit
from access_control.accounts import (
    LoginRules, check_password, check_totp, enrolment_secret, lock_user, provisioning_uri, viewer_for,
)
from access_control.models import User
from analyzers import clock

from ..auth import Principal, current_viewer
from ..extensions import sessions
from ..limiting import login_limited

bp = Blueprint("signin", __name__)
PENDING_SECONDS = 300
# A locked account gets the wrong password's answer (the audit trail still says "locked"), so the
# answer never tells a guesser that an account exists or is locked; the answer itself says what
# locking does, so a legitimately locked user knows to wait or ask.
WRONG_PASSWORD = ("Enter a correct username and password. After {failures} failed attempts an account is locked "
                  "for {minutes} minutes: wait, or ask your administrator to unlock it")
MESSAGES = {
    "unknown_user": WRONG_PASSWORD,
    "bad_password": WRONG_PASSWORD,
    "locked": WRONG_PASSWORD,
    "disabled": "This account has been disabled. Ask your administrator",
    "expired": "This account has expired. Ask your administrator",
    "bad_code": "Enter the 6-digit code shown in your authenticator app",
    "code_reused": "That code has already been used. Wait for the next code",
}


def _message(reason: str) -> str:
    settings = current_app.config["SETTINGS"]
    return MESSAGES[reason].format(failures=settings.lockout_failures, minutes=settings.lockout_minutes)


def _totp_key() -> bytes:
    return current_app.config["SETTINGS"].key("totp")


def _rules() -> LoginRules:
    settings = current_app.config["SETTINGS"]
    return LoginRules(max_failures=settings.lockout_failures, lockout=dt.timedelta(minutes=settings.lockout_minutes))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return url_for("pages.search_form")


def _record(db, user: User | None, username: str, action: str, reason: str | None = None) -> None:
    details = {"remote_addr": request.remote_addr, **({"reason": reason} if reason else {})}
    if user is not None:
        audit.record(db, viewer_for(user), action, details)
    else:
        audit.append(db, _unknown_actor(db, username), None, action, details)


def _unknown_actor(db, username: str) -> str:
    """An account's own name; anything else typed as a username only as a keyed hash ("unknown:..."), so that
    reviewers can group attempts on one name while the trail never holds, say, a password typed in the wrong box."""
    if not username:
        return "anonymous"
    if db.scalar(select(User.id).where(User.username == username)) is not None:  # refused for another reason
        return username[:100]
    return "unknown:" + audit.pseudonym(db, "unknown-username", username)


@bp.route("/login", methods=["GET", "POST"])
@login_limited
def login():
    notice = session.pop("notice", None)
    if request.method == "GET":
        return render_template("login.html", errors={}, form={}, notice=notice, next=request.args.get("next", ""))
    username = request.form.get("username", "").strip().lower()[:100]
    password = request.form.get("password", "")
    errors = {}
    if not username:
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"
    if errors:
        return render_template("login.html", errors=errors, form={"username": username},
                               next=request.form.get("next", "")), 400
    with sessions().begin() as db:
        user, reason = check_password(db, username, password, _rules())
        if reason:
            _record(db, user, username, "login_failed", reason)
        else:
            pending = {"user_id": user.id, "at": int(clock.timestamp()), "next": _safe_next(request.form.get("next"))}
            enrolled = user.totp_confirmed
    if reason:
        return render_template("login.html", errors={"password": _message(reason)}, form={"username": username},
                               next=request.form.get("next", "")), 401
    session.clear()
    session["pending"] = pending
    return redirect(url_for("signin.code" if enrolled else "signin.enrol"))


def _pending_user(db) -> User | None:
    pending = session.get("pending")
    if not pending or clock.timestamp() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return lock_user(db, pending["user_id"])  # held to the commit: parallel code checks queue


def _svg_qr(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _second_step(template: str):
    with sessions().begin() as db:
        user = _pending_user(db)
        if user is None:
            session.clear()
            session["notice"] = "Your sign-in took too long. Start again."
            return redirect(url_for("signin.login"))
        extra = {}
        if template == "enrol.html":
            if user.totp_confirmed:
                return redirect(url_for("signin.code"))
            secret = enrolment_secret(user, _totp_key())
            uri = provisioning_uri(user, secret)
            extra = {"secret": secret, "uri": uri, "qr": _svg_qr(uri)}
        elif not user.totp_confirmed:
            return redirect(url_for("signin.enrol"))
        if request.method == "GET":
            return render_template(template, errors={}, **extra)
        reason = check_totp(user, request.form.get("code", ""), _rules(), totp_key=_totp_key())
        _record(db, user, user.username, "login_failed" if reason else "login", reason)
        if reason is None:
            principal, enrolled_now, target = Principal(user), template == "enrol.html", session["pending"]["next"]
    if reason:
        if reason in ("locked", "disabled", "expired"):
            session.clear()
            session["notice"] = _message(reason) + "."
            return redirect(url_for("signin.login"))
        return render_template(template, errors={"code": _message(reason)}, **extra), 401
    session.clear()  # a fresh session: nothing from before sign-in survives
    login_user(principal)
    session["seen"] = session["signed_in_at"] = int(clock.timestamp())  # idle and absolute lifetimes
    if enrolled_now:
        session["notice"] = "Your authenticator app is set up."
    return redirect(target)


@bp.route("/login/code", methods=["GET", "POST"])
@login_limited
def code():
    return _second_step("login_code.html")


@bp.route("/login/enrol", methods=["GET", "POST"])
@login_limited
def enrol():
    return _second_step("enrol.html")


@bp.post("/logout")
def logout():
    viewer = current_viewer()
    if viewer is not None:
        with sessions().begin() as db:
            user = db.scalar(select(User).where(User.username == viewer.username))
            user.session_generation += 1  # the cookie just used can never sign in again
            audit.record(db, viewer, "logout", {})
    logout_user()
    session.clear()
    session["notice"] = "You have signed out."
    return redirect(url_for("signin.login"))
