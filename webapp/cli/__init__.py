"""The ``contactpoint`` command line, one module per command group. Every failure exits non-zero with a
message saying what to do."""
from __future__ import annotations

import click

from . import access, audit, db, demo, dev, engine, feed, index, linkage, notifications, relevance, retention
from .support import Commands


@click.group(cls=Commands)
def main():
    """ContactPoint: who else is working with this child."""


for command in (db.db, engine.engine, feed.feed, index.index, demo.demo_data, dev.serve, dev.dev, audit.audit,
                linkage.linkage, notifications.notifications, relevance.relevance, retention.retention):
    main.add_command(command)
access.register(main)
