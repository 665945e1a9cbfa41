"""`contactpoint db`: the database schema."""
from __future__ import annotations

import click

from ..config import MissingSecretKey
from .support import Context, pass_ctx


@click.group()
def db():
    """The authoritative database."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context):
    """Create or migrate the database schema to the newest version."""
    from registry.db import head_revision, make_engine, upgrade

    try:
        # The key seals an audit trail written before the keyed MAC (migration 0009).
        upgrade(make_engine(ctx.settings.database_url), audit_key=ctx.audit_key(required=False))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database at schema revision {head_revision()}")
    _encrypt_plaintext_totp_secrets(ctx)


def _encrypt_plaintext_totp_secrets(ctx: Context) -> None:
    """Secrets stored before encryption (migration 0008) are encrypted now if a key is set, else at next sign-in."""
    from access_control.accounts import encrypt_plaintext_secrets

    try:
        totp_key = ctx.settings.key("totp")
    except MissingSecretKey:
        return
    with ctx.sessions.begin() as db:
        count = encrypt_plaintext_secrets(db, totp_key)
    if count:
        click.echo(f"encrypted {count} authenticator secrets stored in plaintext before")
