"""Who is calling. Until real sign-in lands, only a clearly marked development user exists."""
from __future__ import annotations

from flask import current_app

from access_control import Viewer

DEV_VIEWER = Viewer(username="dev-practitioner", display_name="Development practitioner (DEVELOPMENT ONLY)",
                    role="practitioner", organisation="DEVELOPMENT-ONLY")


def current_viewer() -> Viewer | None:
    if current_app.config["SETTINGS"].dev_login:
        return DEV_VIEWER
    return None
