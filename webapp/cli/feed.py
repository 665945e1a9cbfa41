"""`contactpoint feed`: loading source feeds."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from .support import Context, pass_ctx


@click.group()
def feed():
    """Source feeds."""


@feed.command("load")
@click.option("--source", required=True, help="Name of the sending system, e.g. school-census.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write one JSON line per input row with its outcome.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Default: from the file extension.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def feed_load(ctx: Context, source: str, report_path: Path | None, fmt: str | None, file: Path):
    """Load a CSV (with header) or JSON Lines FILE of source records."""
    from registry.feeds import FeedError, detect_format, load_feed

    try:
        fmt = fmt or detect_format(file)
    except FeedError as exc:
        raise click.ClickException(str(exc)) from None
    report = report_path.open("w", encoding="utf-8") if report_path else None
    try:
        with file.open("rb") as stream, tqdm(total=file.stat().st_size, unit="B", unit_scale=True,
                                              desc=f"loading {file.name}", disable=None) as bar:
            summary = load_feed(ctx.sessions, source, stream, fmt,
                                on_result=(lambda r: report.write(r.to_json() + "\n")) if report else (lambda r: None),
                                on_bytes=bar.update)
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
