"""What every `contactpoint` command shares: settings, the database, clean failures."""
from __future__ import annotations

import getpass
from contextlib import contextmanager

import click

from analyzers.dates import parse_iso_date

from ..config import MissingSecretKey, Settings


class Context:
    """Settings read once; database and Elasticsearch opened on first use."""

    def __init__(self):
        try:
            self.settings = Settings.from_env()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        self._sessions = None

    @property
    def sessions(self):
        if self._sessions is None:
            from registry.db import current_revision, head_revision, make_engine, make_sessionmaker

            engine = make_engine(self.settings.database_url)
            if current_revision(engine) != head_revision():
                raise click.ClickException("the database schema is not current: run `contactpoint db upgrade`")
            # Commands that write or check the audit trail need its key; the others run without one.
            self._sessions = make_sessionmaker(engine, info={"audit_key": self.audit_key(required=False),
                                                              "source_trust": self.settings.source_trust})
        return self._sessions

    def audit_key(self, required: bool = True) -> bytes | None:
        try:
            return self.settings.key("audit")
        except MissingSecretKey as exc:
            if required:
                raise click.ClickException(f"{exc}: the audit trail is signed with it") from None
            return None

    def es(self):
        from search_service import EngineError, make_client

        try:
            return make_client(self.settings)
        except EngineError as exc:
            raise click.ClickException(str(exc)) from None


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def iso_date(_ctx, _param, value: str | None):
    """Option callback: a YYYY-MM-DD date (analyzers.dates.parse_iso_date, as everywhere), or None when omitted."""
    if value is None:
        return None
    try:
        return parse_iso_date(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date such as 2027-03-31") from None


class Commands(click.Group):
    """The top-level group: a command that reaches the audit trail without its key fails cleanly."""

    def invoke(self, ctx):
        from access_control.audit import AuditChainBroken, AuditKeyMissing

        try:
            return super().invoke(ctx)
        except AuditKeyMissing as exc:
            raise click.ClickException(f"{exc}: set CONTACTPOINT_SECRET_KEY (or CONTACTPOINT_AUDIT_KEY) as the web "
                                       "app has it") from None
        except AuditChainBroken as exc:
            raise click.ClickException(str(exc)) from None


@contextmanager
def reported_errors():
    """Turn the project's own errors into clean CLI failures (exit 1)."""
    from elasticsearch import ApiError, TransportError

    from indexing import IndexingError
    from search_service import EngineError

    try:
        yield
    except (EngineError, IndexingError) as exc:
        raise click.ClickException(str(exc)) from None
    except (ApiError, TransportError) as exc:
        raise click.ClickException(f"Elasticsearch: {exc}") from None


def cli_actor() -> str:
    """Who a console command acts as in the audit trail: the operator's login."""
    return f"cli:{getpass.getuser()}"


def acting_viewer(session, username: str | None, console_role: str, option: str):
    """Whom a console command acts as: the active user named by ``option``, else the operator at the console
    in ``console_role`` (recorded as ``cli:<login>``)."""
    from access_control import Viewer
    from access_control.accounts import find_user, usable, viewer_for

    if username is None:
        return Viewer(username=cli_actor(), display_name="operator console", role=console_role,
                      organisation="console")
    user = find_user(session, username)
    if user is None or usable(user):
        raise click.BadParameter(f"there is no active user {username!r}", param_hint=f"'{option}'")
    return viewer_for(user)
