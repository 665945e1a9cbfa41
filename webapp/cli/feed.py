"""`contactpoint feed`: loading source feeds."""
from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from .progress import progress
from .support import Context, pass_ctx


@click.group()
def feed():
    """Source feeds."""


@feed.command("load")
@click.option("--source", required=True, help="Name of the sending system, e.g. school-census.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write one JSON line per input row with its outcome.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Default: from the file extension.")
@click.option("--index-wait", type=click.FloatRange(0, 3600), default=120, show_default=True,
              help="Seconds to wait for a running indexer to bring the index up to date before linking.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def feed_load(ctx: Context, source: str, report_path: Path | None, fmt: str | None, index_wait: float, file: Path):
    """Load a CSV (with header) or JSON Lines FILE of source records.

    Each row from a source record not seen before is linked to the child it describes (see README,
    "Record linkage"): candidates come from the index, which must hold every child first, so the
    load waits for the indexer (or brings the index up to date itself when no indexer is running).
    """
    from registry.feed_validation import OFFLOAD_AFTER
    from registry.feeds import FeedError, detect_format, load_feed

    try:
        fmt = fmt or detect_format(file)
    except FeedError as exc:
        raise click.ClickException(str(exc)) from None
    report = report_path.open("w", encoding="utf-8") if report_path else None
    try:
        with file.open("rb") as stream, progress(f"loading {file.name}", "B", file.stat().st_size,
                                                 unit_scale=True) as advance, fewer_collections():
            summary = load_feed(ctx.sessions, source, stream, fmt,
                                on_result=(lambda r: report.write(r.to_json() + "\n")) if report else (lambda r: None),
                                on_bytes=advance, linker=_linker(ctx, index_wait), offload_after=OFFLOAD_AFTER)
    except FeedError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if report:
            report.close()
    counts = ", ".join(f"{n} {outcome}" for outcome, n in summary.counts.items() if n)
    click.echo(f"{summary.total} rows: {counts or 'none'}")
    if summary.counts["rejected"]:
        click.echo("some rows were rejected" + (f": see {report_path}" if report_path else
                                                 ": use --report to see why"), err=True)
        sys.exit(1)


# Young collections every 50,000 allocations, a full one after 100 of the middle generation (Python's defaults:
# 700, 10, 10).
LOAD_GC_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def fewer_collections():
    """Collect cyclic garbage less often while a load runs.

    A long load holds millions of long-lived objects (its blocking index, the candidate records it keeps), and
    the collector's default thresholds walked all of them again and again: a quarter of a first load's time
    at 400,000 rows. Almost nothing a load makes is cyclic (plain records, tuples and dicts are freed by
    reference counting), so collecting less often costs little memory.
    """
    before = gc.get_threshold()
    gc.set_threshold(*LOAD_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _linker(ctx: Context, index_wait: float):
    """The active linkage model, with candidates from the index once it holds every child."""
    from sqlalchemy import exists, select

    from registry.linkage.linker import Linker
    from registry.linkage.store import active_model
    from registry.models import Child
    from search_service.linkage import candidate_cp_ids

    with ctx.sessions() as session:
        empty = not session.scalar(select(exists().where(Child.id.isnot(None))))
        if empty:  # a first load: there is nothing to find in the index, only rows of this load
            return Linker.for_directory(session, active_model(session))
    es = ctx.es()
    _wait_for_index(ctx, es, index_wait)
    alias = ctx.settings.es_alias
    with ctx.sessions() as session:  # the directory as the index now holds it
        return Linker.for_directory(session, active_model(session),
                                    finder=lambda rows: candidate_cp_ids(es, alias, rows))


def _wait_for_index(ctx: Context, es, seconds: float) -> None:
    """Linkage must see every child: wait for a running indexer, or bring the index up to date here."""
    import time

    from indexing import CHECKPOINT, IndexingError, rebuild, sync_until_current
    from registry import checkpoints

    if not es.indices.exists_alias(name=ctx.settings.es_alias):
        click.echo("there is no index yet: building it, so that linkage finds the children already held", err=True)
        rebuild(es, ctx.sessions, ctx.settings.es_alias, CHECKPOINT)
    deadline = time.monotonic() + seconds
    while True:
        with ctx.sessions() as session:
            behind = checkpoints.last_change_seq(session) - checkpoints.get_checkpoint(session, CHECKPOINT)
            holder = checkpoints.lease_holder(session, CHECKPOINT)
        if behind <= 0:
            return
        if holder is None:
            try:
                sync_until_current(es, ctx.sessions, ctx.settings.es_alias, CHECKPOINT)
            except IndexingError as exc:
                raise click.ClickException(f"the index cannot be brought up to date for linkage: {exc}") from None
            continue
        if time.monotonic() >= deadline:
            raise click.ClickException(
                f"the index is {behind} changes behind the database and {holder!r} has not caught up within "
                f"{seconds:.0f}s: linkage would miss children, so nothing was loaded; try again, or check the "
                "indexer (`contactpoint index status`)")
        time.sleep(1)
