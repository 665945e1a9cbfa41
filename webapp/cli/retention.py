"""`contactpoint retention`: archiving at 18 and purging."""
from __future__ import annotations

import click

from analyzers import clock

from .support import Context, cli_actor, iso_date, pass_ctx


@click.group()
def retention():
    """Record retention: archive at 18, purge after the retention period."""


def _children(n: int) -> str:
    return f"{n} child" if n == 1 else f"{n} children"


@retention.command("run")
@click.option("--today", callback=iso_date, metavar="YYYY-MM-DD",
              help="The date to apply the rules for, YYYY-MM-DD (default: the current date).")
@click.option("--dry-run", is_flag=True, help="Say what would be archived and purged; change nothing.")
@click.option("--verbose", "-v", is_flag=True, help="List the ContactPoint IDs affected.")
@pass_ctx
def retention_run(ctx: Context, today, dry_run: bool, verbose: bool):
    """Archive children who have turned 18 and purge archived records past the retention period.

    Archived children are no longer found by any search; purged children are deleted from the
    database with their names, carers, involvements and source records, and their documents
    leave the index at the next `contactpoint index sync`. The retention period (years after the
    18th birthday) is CONTACTPOINT_RETENTION_YEARS. Each step is audited.

    Intended to be run once a day by a scheduler (cron, a systemd timer); a run that finds nothing
    due changes nothing, so running it again, or late, is safe.
    """
    from access_control import audit
    from registry.retention import run_retention

    day = today or clock.today()
    years = ctx.settings.retention_years
    result = run_retention(ctx.sessions, day, years, record=audit.recorder(cli_actor()), dry_run=dry_run)
    would = "would " if dry_run else ""
    verbs = ("archive", "purge") if dry_run else ("archived", "purged")
    click.echo(f"{would}{verbs[0]} {_children(len(result.archived))} at 18; "
               f"{would}{verbs[1]} {_children(len(result.purged))} after {years} year{'' if years == 1 else 's'}")
    if verbose:
        for cp_id in result.archived:
            click.echo(f"{verbs[0]}: {cp_id}")
        for cp_id in result.purged:
            click.echo(f"{verbs[1]}: {cp_id}")
