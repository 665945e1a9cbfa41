"""`contactpoint index`: building, syncing and checking the search index."""
from __future__ import annotations

import json
import logging
import signal

import click
from .progress import progress
from .support import Context, pass_ctx, reported_errors


@click.group()
def index():
    """The Elasticsearch read store."""


@index.command("rebuild")
@click.option("--workers", type=click.IntRange(0, 64), default=1, show_default=True,
              help="Processes that build documents (0: build in this process).")
@click.option("--page-size", type=click.IntRange(1, 100_000), default=2000, show_default=True,
              help="Children read from the database and sent to Elasticsearch per request.")
@pass_ctx
def index_rebuild(ctx: Context, workers: int, page_size: int):
    """Build a fresh index from the database and swap the alias to it atomically."""
    from sqlalchemy import func, select

    from indexing import CHECKPOINT, rebuild
    from registry.models import Child

    with ctx.sessions() as session:  # how many there are to index, for the bar's ETA
        total = session.scalar(select(func.count()).select_from(Child))
    with reported_errors(), progress("indexing", " children", total) as advance:
        name, count = rebuild(ctx.es(), ctx.sessions, ctx.settings.es_alias, CHECKPOINT, on_progress=advance,
                              page_size=page_size, workers=workers)
    click.echo(f"indexed {count} children into {name}; alias {ctx.settings.es_alias!r} now points at it")


@index.command("sync")
@click.option("--follow", is_flag=True, help="Keep running and apply changes as they happen.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="With --follow: serve Prometheus counters "
              "on 127.0.0.1:PORT.")
@click.option("--lease-seconds", type=click.FloatRange(1, 3600), default=30, show_default=True,
              help="With --follow: how long a silent leader keeps the lease before a standby takes over.")
@pass_ctx
def index_sync(ctx: Context, follow: bool, metrics_port: int | None, lease_seconds: float):
    """Apply the change log to the index from the stored checkpoint.

    With --follow, several processes may run: one holds the lease and works, the others stand by.
    Outages are retried with backoff; an unexpected error is logged with its traceback and exits 1.
    """
    from indexing import CHECKPOINT, follow as follow_changes, sync_until_current
    from indexing.metrics import WorkerMetrics

    es = ctx.es()
    if not follow:
        with reported_errors():
            result = sync_until_current(es, ctx.sessions, ctx.settings.es_alias, CHECKPOINT)
        click.echo(f"applied {result.changes} changes ({result.documents} documents); checkpoint {result.checkpoint}"
                   + (f"; {result.dead_letters} children in dead letters (see `contactpoint index status`)"
                      if result.dead_letters else ""))
        return
    metrics = WorkerMetrics()
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)

    def applied(result):
        metrics.record(result)
        click.echo(f"applied {result.changes} changes; checkpoint {result.checkpoint}"
                   + (f"; {result.dead_letters} in dead letters" if result.dead_letters else ""))

    def failed(exc, delay):
        metrics.errors.inc()
        click.echo(f"index sync: {exc}; retrying in {delay:.1f}s", err=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # tracebacks go to stderr
    click.echo("following the change log (Ctrl-C to stop)")
    try:
        follow_changes(es, ctx.sessions, ctx.settings.es_alias, CHECKPOINT, on_batch=applied, on_error=failed,
                       should_stop=lambda: bool(stopping), lease_seconds=lease_seconds)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # not an outage (those are retried): a bug, or a misconfiguration
        raise click.ClickException(f"the follower stopped on {type(exc).__name__}: {exc} (traceback above); "
                                   "retrying would not help: fix the cause, then start it again") from None


@index.command("compact")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=5000, show_default=True,
              help="Change-log sequence numbers per delete (one short transaction each).")
@pass_ctx
def index_compact(ctx: Context, batch_size: int):
    """Remove change-log rows every indexer has applied and no reader needs (run it nightly).

    Keeps everything after the lowest checkpoint, each child's newest change, and the changes of
    children in dead letters. Refuses while no checkpoint exists.
    """
    from registry.compaction import NoCheckpoint, compact

    try:
        result = compact(ctx.sessions, batch_size)
    except NoCheckpoint as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"removed {result.removed} change-log rows up to seq {result.horizon} (the lowest checkpoint); "
               f"{result.remaining} remain")


@index.command("status")
@pass_ctx
def index_status(ctx: Context):
    """Alias, indices, template version, documents, checkpoint and lag, as JSON."""
    from indexing import CHECKPOINT, index_status as status

    with reported_errors():
        click.echo(json.dumps(status(ctx.es(), ctx.sessions, ctx.settings.es_alias, CHECKPOINT), indent=2))


@index.command("verify")
@click.option("--repair", is_flag=True, help="Re-index drifted children and delete documents of unknown ones.")
@pass_ctx
def index_verify(ctx: Context, repair: bool):
    """Compare database and index child by child (content hashes); exit 1 on unrepaired drift."""
    from indexing import verify

    with reported_errors():
        report = verify(ctx.es(), ctx.sessions, ctx.settings.es_alias, repair=repair)
    for drift in report.drift:
        click.echo(f"{drift.cp_id}: {drift.problem}")
    click.echo(f"database {report.database} children, index {report.index} documents, "
               f"{len(report.drift)} drifted" + (f", {report.repaired} repaired" if repair else ""))
    if report.drift and not repair:
        raise click.ClickException("the index has drifted from the database: run `contactpoint index verify --repair`")
