"""`contactpoint demo-data`: synthetic children."""
from __future__ import annotations

import click
from tqdm import tqdm

from .support import Context, pass_ctx


@click.command("demo-data")
@click.option("--children", type=click.IntRange(1, 2_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--bulk", is_flag=True,
              help="write a batch at a time, with one change-log row per child (thousands of children a second)")
@pass_ctx
def demo_data(ctx: Context, children: int, seed: int, bulk: bool):
    """Generate realistic synthetic children (deterministic for a seed)."""
    from registry.demo import load_demo_data
    from registry.demo_bulk import load_demo_data_bulk

    load = load_demo_data_bulk if bulk else load_demo_data
    with tqdm(total=children, unit=" children", desc="demo data", disable=None) as bar:
        loaded = load(ctx.sessions, children, seed, on_progress=bar.update)
    click.echo(f"created {loaded} synthetic children (seed {seed})")
