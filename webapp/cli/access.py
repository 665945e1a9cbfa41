"""`contactpoint users|tokens|shielding`: administering who may get in, as an operator or as a named admin."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from .support import acting_viewer, iso_date, pass_ctx


def _actor(db, acting_as: str | None):
    """The operator at the console acts as a national administrator; --as names a real admin instead."""
    return acting_viewer(db, acting_as, "national_admin", "--as")


@contextmanager
def _refusals():
    from access_control import InvalidInput, NotAllowed

    try:
        yield
    except InvalidInput as exc:
        raise click.BadParameter(exc.message, param_hint=f"'{exc.field}'") from None
    except NotAllowed as exc:
        raise click.ClickException(f"not allowed: {exc}") from None


acting_as = click.option("--as", "acting_as", metavar="USERNAME",
                         help="Act as this administrator (their authority limits what they may change).")


@click.group()
def users():
    """Users: add, disable, enable, expire, unlock, reset a lost authenticator."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name, shown on every page and in the audit trail.")
@click.option("--role", required=True, type=click.Choice(["practitioner", "la_management", "national_admin", "auditor",
                                                          "relevance_admin", "api_client", "indexer"]))
@click.option("--organisation", required=True, metavar="KIND:CODE",
              help="Employer, e.g. school:100234, gp_practice:Y01234, service:CAMHS-N, local_authority:E09000033.")
@click.option("--la", "la_code", metavar="CODE", help="The local authority the user works in (required for la_management).")
@click.option("--email")
@click.option("--expires", callback=iso_date, metavar="YYYY-MM-DD", help="Last day the account may be used.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
@acting_as
@pass_ctx
def users_add(obj, username, display_name, role, organisation, la_code, email, expires, password_stdin, acting_as):
    """Add a user. People who sign in set up their authenticator app at their first sign-in."""
    from access_control import INTERACTIVE_ROLES
    from access_control.accounts import add_user
    from registry.models import ORG_KINDS

    kind, _, code = organisation.partition(":")
    if kind not in ORG_KINDS or not code:
        raise click.BadParameter(f"use KIND:CODE with KIND one of {', '.join(ORG_KINDS)}", param_hint="'--organisation'")
    password = None
    if role in INTERACTIVE_ROLES:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else \
            click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with obj.sessions.begin() as db, _refusals():
        user = add_user(db, _actor(db, acting_as), username=username, display_name=display_name, role=role,
                        organisation_kind=kind, organisation_code=code, la_code=la_code, password=password,
                        email=email, expires_on=expires)
        name = user.username
    click.echo(f"added {name} ({role})" + ("; they set up their authenticator app at first sign-in"
                                            if role in INTERACTIVE_ROLES else ""))


def _simple(command_name: str, help_text: str, change):
    @users.command(command_name, help=help_text)
    @click.argument("username")
    @acting_as
    @pass_ctx
    def command(obj, username, acting_as):
        with obj.sessions.begin() as db, _refusals():
            change(db, _actor(db, acting_as), username)
        click.echo(f"{username}: {command_name} done")
    return command


def _register_simple_commands():
    from access_control import accounts

    _simple("disable", "Disable a user: they are signed out at once and cannot sign in.",
            lambda db, actor, name: accounts.set_disabled(db, actor, name, True))
    _simple("enable", "Enable a disabled user again.", lambda db, actor, name: accounts.set_disabled(db, actor, name, False))
    _simple("unlock", "Clear a lockout after repeated failed sign-ins.", accounts.unlock)
    _simple("reset-2fa", "Issue a new authenticator secret (lost phone); they set it up at next sign-in.",
            accounts.reset_second_factor)


@users.command("expire")
@click.argument("username")
@click.option("--on", "expires", callback=iso_date, metavar="YYYY-MM-DD", help="Last day of use; omit to remove the expiry.")
@acting_as
@pass_ctx
def users_expire(obj, username, expires, acting_as):
    """Set or clear the last day an account may be used."""
    from access_control.accounts import set_expiry

    with obj.sessions.begin() as db, _refusals():
        set_expiry(db, _actor(db, acting_as), username, expires)
    click.echo(f"{username}: expires {expires or 'never'}")


@click.group()
def tokens():
    """API tokens for case-management systems (users with the api_client role)."""


@tokens.command("create")
@click.option("--user", "username", required=True, help="The api_client user the token belongs to.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(["search", "view", "involvements"]))
@click.option("--days", type=click.IntRange(1, 365), default=90, show_default=True)
@acting_as
@pass_ctx
def tokens_create(obj, username, scopes, days, acting_as):
    """Create a token. It is printed once and only its hash is kept: store it safely now."""
    from access_control import tokens as api_tokens

    with obj.sessions.begin() as db, _refusals():
        row, text = api_tokens.create(db, _actor(db, acting_as), username, list(scopes), days)
        token_id, expires = row.token_id, row.expires_at
    click.echo(f"token {token_id} for {username}, scopes {' '.join(sorted(scopes))}, expires {expires:%Y-%m-%d}", err=True)
    click.echo(text)


@tokens.command("revoke")
@click.argument("token_id")
@acting_as
@pass_ctx
def tokens_revoke(obj, token_id, acting_as):
    """Revoke a token at once (by its id, the part after cp_)."""
    from access_control import tokens as api_tokens

    with obj.sessions.begin() as db, _refusals():
        api_tokens.revoke(db, _actor(db, acting_as), token_id)
    click.echo(f"token {token_id} revoked")


def register(main) -> None:
    _register_simple_commands()
    main.add_command(users)
    main.add_command(tokens)
