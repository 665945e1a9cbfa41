"""`contactpoint demo-data`: synthetic children."""
from __future__ import annotations

import click

from .progress import progress
from .support import Context, pass_ctx


@click.command("demo-data")
@click.option("--children", type=click.IntRange(1, 2_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--bulk", is_flag=True,
              help="write a batch at a time, with one change-log row per child (thousands of children a second)")
@pass_ctx
def demo_data(ctx: Context, children: int, seed: int, bulk: bool):
    """Generate realistic synthetic children (deterministic for a seed)."""
    from sqlalchemy import func, select

    from registry.demo import load_demo_data
    from registry.demo_bulk import load_demo_data_bulk
    from registry.models import Child

    with ctx.sessions() as session:
        present = session.scalar(select(func.count()).where(Child.synthetic.is_(True)))
    if present:  # every seed numbers its source records from 0: a second load would repeat their IDs
        raise click.ClickException(f"the directory already holds {present} synthetic children: demo data goes into "
                                   "a directory without them (start from a fresh database)")
    load = load_demo_data_bulk if bulk else load_demo_data
    with progress("demo data", " children", children) as advance:
        loaded = load(ctx.sessions, children, seed, on_progress=advance)
    click.echo(f"created {loaded} synthetic children (seed {seed})")
