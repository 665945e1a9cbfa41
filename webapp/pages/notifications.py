"""A signed-in person's notifications (newest first, marked read one by one or all) and their email choices."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from ..auth import Refused, current_token, current_viewer
from ..extensions import readers, sessions
from ..notifications import KINDS, inbox

bp = Blueprint("notifications", __name__)


def _person():
    """The signed-in person (a session, never an API token): (viewer, user id)."""
    viewer = current_viewer()
    if viewer is None or current_token() is not None or not current_user.is_authenticated:
        raise Refused(401, "sign-in required: no valid credentials were given", "not_signed_in")
    return viewer, current_user.user_id


def unread_for_header() -> int:
    """The header's unread count, for a signed-in person; only asked when a page's header renders."""
    if current_token() is not None or not current_user.is_authenticated:
        return 0
    try:
        with readers()() as db:
            return inbox.unread_count(db, current_user.user_id)
    except OperationalError:  # the database is down: the page saying so (503) must still render
        return 0


@bp.get("/notifications")
def notifications():
    viewer, user_id = _person()
    with sessions().begin() as db:
        shown = inbox.newest(db, user_id, viewer)
    return render_template("notifications.html", viewer=viewer, shown=shown, notice=session.pop("notice", None))


@bp.post("/notifications/read")
def mark_all_read():
    _, user_id = _person()
    with sessions().begin() as db:
        inbox.mark_read(db, user_id)
    return redirect(url_for("notifications.notifications"))


@bp.post("/notifications/<int:notification_id>/read")
def mark_read(notification_id: int):
    _, user_id = _person()
    with sessions().begin() as db:
        inbox.mark_read(db, user_id, notification_id)
    return redirect(url_for("notifications.notifications") + f"#notification-{notification_id}")


@bp.route("/account/notifications", methods=["GET", "POST"])
def email_settings():
    viewer, user_id = _person()
    if request.method == "POST":
        wanted = set(request.form.getlist("email")) & set(KINDS)
        with sessions().begin() as db:
            inbox.set_email_kinds(db, user_id, wanted)
        session["notice"] = "Your email choices are saved."
        return redirect(url_for("notifications.email_settings"))
    with readers()() as db:
        chosen = inbox.email_kinds(db, user_id)
    return render_template("notification_settings.html", viewer=viewer, kinds=KINDS, chosen=chosen,
                           notice=session.pop("notice", None))
