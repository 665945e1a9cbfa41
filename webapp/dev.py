"""`contactpoint dev`: the whole stack on one machine, stopped cleanly by Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import click
from sqlalchemy import func, select

from indexing import CHECKPOINT, rebuild
from registry.db import make_engine, make_sessionmaker, upgrade
from registry.demo import load_demo_data
from registry.models import Child
from search_service import local_engine, make_client

from .config import Settings


def run_dev(settings: Settings, children: int, port: int) -> None:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    click.echo(f"database: {settings.database_url}")

    node = None
    if not settings.es_url:
        node = local_engine(settings)
        click.echo("starting Elasticsearch (the first run downloads it with Maven)...")
        info = node.start()
        click.echo(f"Elasticsearch {info.version} at {info.url}")
    processes: list[subprocess.Popen] = []
    try:
        with sessions() as session:
            existing = session.scalar(select(func.count()).select_from(Child))
        if not existing:
            click.echo(f"loading {children} synthetic demo children...")
            load_demo_data(sessions, children, seed=0)
        name, count = rebuild(make_client(settings), sessions, settings.es_alias, CHECKPOINT)
        click.echo(f"indexed {count} children into {name}")

        env = {**os.environ, "CONTACTPOINT_DEV_LOGIN": "1", "CONTACTPOINT_DATABASE_URL": settings.database_url}
        if settings.es_url is None:
            env["CONTACTPOINT_STATE_DIR"] = str(settings.state_dir)
        cli = [sys.executable, "-m", "webapp.cli"]
        processes.append(subprocess.Popen([*cli, "index", "sync", "--follow"], env=env))
        processes.append(subprocess.Popen([*cli, "serve", "--port", str(port)], env=env))
        click.echo("")
        click.echo(f"ContactPoint is running at http://127.0.0.1:{port}/")
        click.echo("Signed in automatically as 'dev-practitioner': a DEVELOPMENT-ONLY user that exists only")
        click.echo("under `contactpoint dev` (CONTACTPOINT_DEV_LOGIN=1). Never set that in production.")
        with sessions() as session:
            example = session.scalars(select(Child).where(Child.status == "active", Child.shielded.is_(False))
                                      .order_by(Child.id).limit(1)).first()
        if example is not None:
            criteria = json.dumps({"given_name": example.given_name, "family_name": example.family_name,
                                   "date_of_birth": example.date_of_birth.isoformat()},
                                  ensure_ascii=False).replace("'", "'\\''")  # quoted for the shell
            click.echo(f"Try: curl -s -XPOST -H 'Content-Type: application/json' "
                       f"http://127.0.0.1:{port}/api/v1/search -d '{criteria}'")
        click.echo("Press Ctrl-C to stop everything.")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        raise click.ClickException("a dev process exited unexpectedly; stopping the rest")
    except KeyboardInterrupt:
        click.echo("\nstopping...")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if node is not None:
            node.stop()
        click.echo("stopped")
