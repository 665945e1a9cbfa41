"""`contactpoint engine`: the local Elasticsearch node."""
from __future__ import annotations

import sys

import click

from .support import Context, pass_ctx, reported_errors


@click.group()
def engine():
    """The local Elasticsearch node (development and tests)."""


@engine.command("start")
@pass_ctx
def engine_start(ctx: Context):
    """Fetch (first time), start and wait for a single local node on 127.0.0.1."""
    from search_service import local_engine

    if ctx.settings.es_url:
        raise click.ClickException(f"CONTACTPOINT_ES_URL is set ({ctx.settings.es_url}): no local node is used")
    with reported_errors():
        info = local_engine(ctx.settings).start()
    click.echo(f"Elasticsearch {info.version} running at {info.url} (pid {info.pid})")


@engine.command("stop")
@pass_ctx
def engine_stop(ctx: Context):
    """Stop the local node and everything it started."""
    from search_service import local_engine

    click.echo("stopped" if local_engine(ctx.settings).stop() else "not running")


@engine.command("status")
@pass_ctx
def engine_status(ctx: Context):
    """Say whether the local node runs, where, and its health (exit 3 when not running)."""
    from search_service import local_engine

    node = local_engine(ctx.settings)
    info = node.info()
    if info is None:
        click.echo("not running")
        sys.exit(3)
    health = node.health() or {}
    click.echo(f"running: Elasticsearch {info.version} at {info.url} (pid {info.pid}), "
               f"health {health.get('status', 'unreachable')}")
