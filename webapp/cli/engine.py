"""`contactpoint engine`: the local Elasticsearch node, or a local three-node cluster."""
from __future__ import annotations

import sys

import click

from .support import Context, pass_ctx, reported_errors


def _node_count(ctx, param, value):
    from search_service.cluster import SIZES

    if value is not None and value not in SIZES:
        raise click.BadParameter(f"must be 1 (a single node) or 3 (a cluster that survives losing a node), got {value}")
    return value


@click.group()
def engine():
    """The local Elasticsearch node or cluster (development, tests and benchmarks)."""


@engine.command("start")
@click.option("--nodes", type=int, default=None, callback=_node_count,
              help="1 (a single node) or 3 (a real cluster on 127.0.0.1); default: what was started last, else 1.")
@pass_ctx
def engine_start(ctx: Context, nodes: int | None):
    """Fetch (first time), start and wait for the local node, or every node of a local cluster, on 127.0.0.1."""
    from search_service import local_engine
    from search_service.client import local_nodes, remember_local_nodes

    if ctx.settings.es_url:
        raise click.ClickException(f"CONTACTPOINT_ES_URL is set ({ctx.settings.es_url}): no local node is used")
    previous = local_nodes(ctx.settings)
    if nodes is not None and nodes != previous and local_engine(ctx.settings, previous).info() is not None:
        raise click.ClickException(f"a local {_layout(previous)} is running: `contactpoint engine stop` it before "
                                   f"starting --nodes {nodes}")
    nodes = previous if nodes is None else nodes
    with reported_errors():
        info = local_engine(ctx.settings, nodes).start()
    remember_local_nodes(ctx.settings, nodes)
    click.echo(f"Elasticsearch {info.version} running at {info.url} ({_layout(nodes)}, pid "
               f"{', '.join(str(pid) for pid in getattr(info, 'pids', [info.pid]))})")


@engine.command("stop")
@pass_ctx
def engine_stop(ctx: Context):
    """Stop the local node, or every node of the local cluster, and everything they started."""
    from search_service import local_engine

    click.echo("stopped" if local_engine(ctx.settings).stop() else "not running")


@engine.command("status")
@pass_ctx
def engine_status(ctx: Context):
    """Say whether the local node (or each node of the local cluster) runs, where, and the health (exit 3 when
    none runs)."""
    from search_service import LocalEngine, local_engine

    target = local_engine(ctx.settings)
    info = target.info()
    if info is None:
        click.echo("not running")
        sys.exit(3)
    health = target.health() or {}
    if isinstance(target, LocalEngine):
        click.echo(f"running: Elasticsearch {info.version} at {info.url} (pid {info.pid}), "
                   f"health {health.get('status', 'unreachable')}")
        return
    click.echo(f"cluster of {len(target.nodes)} nodes: {len(info.urls)} running, health "
               f"{health.get('status', 'unreachable')}, {health.get('number_of_nodes', 0)} in the cluster")
    for node in target.nodes:
        node_info = node.info()
        click.echo(f"  {node.node_name}: " + (f"running at {node_info.url} (pid {node_info.pid})" if node_info
                                               else "not running"))


def _layout(nodes: int) -> str:
    return "single node" if nodes == 1 else f"cluster of {nodes} nodes"
