"""`contactpoint dev` (the whole stack on one machine, stopped cleanly by Ctrl-C) and `contactpoint serve`."""
from __future__ import annotations

import json
import os
import secrets
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

from ..config import PREFIX, SECRET_KEY_FILE, MissingSecretKey, Settings
from .support import Context, pass_ctx, reported_errors


DEV_PASSWORD = "development only"  # noqa: S105 -- printed on purpose; these users exist only under `dev`
DEV_USERS = (("dev.practitioner", "practitioner", ("service", "DEV-HEALTH-VISITING")),
             ("dev.manager", "la_management", ("local_authority", None)),
             ("dev.admin", "national_admin", ("service", "DEV-NATIONAL")),
             ("dev.auditor", "auditor", ("service", "DEV-NATIONAL")))


def _dev_accounts(sessions) -> str:
    """Development users in the first demo authority (made once) and a fresh 30-day API token."""
    from access_control import Viewer, accounts, tokens
    from registry.models import Organisation

    operator = Viewer(username="contactpoint-dev", display_name="contactpoint dev", role="national_admin",
                      organisation="console")
    with sessions.begin() as session:
        if accounts.find_user(session, DEV_USERS[0][0]) is None:
            la = session.scalars(select(Organisation.code).where(Organisation.kind == "local_authority")
                                 .order_by(Organisation.code)).first() or "E09000001"
            for username, role, (kind, code) in DEV_USERS:
                accounts.add_user(session, operator, username=username, role=role, organisation_kind=kind,
                                  display_name=username.replace(".", " ").title(), organisation_code=code or la,
                                  la_code=la, password=DEV_PASSWORD)
            accounts.add_user(session, operator, username="dev.case-system", display_name="Development case system",
                              role="api_client", organisation_kind="local_authority", organisation_code=la, la_code=la)
        _, token = tokens.create(session, operator, "dev.case-system", ["search", "view"], days=30)
    return token


def ensure_secret_key(settings: Settings) -> Settings:
    """A key for development: the configured one, else <state_dir>/secret-key, made (mode 0600) when absent.

    The web app refuses to start without a key; this file is where it and the CLI find this one.
    """
    if settings.secret_key:
        return settings
    path = settings.state_dir / SECRET_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} holds no usable key: remove it (a new one is made) or set "
                                   f"{PREFIX}SECRET_KEY") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    click.echo(f"made a development secret key: {path}")
    return settings.replace(secret_key=key)


def run_dev(settings: Settings, children: int, port: int) -> None:
    settings = ensure_secret_key(settings)
    engine = make_engine(settings.database_url)
    audit_key = settings.key("audit")  # the audit trail's MAC key: sessions carry it, the upgrade may seal with it
    upgrade(engine, audit_key=audit_key)
    sessions = make_sessionmaker(engine, info={"audit_key": audit_key})
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

        token = _dev_accounts(sessions)
        # Plain http on 127.0.0.1: cookies cannot be marked Secure here (they are by default).
        env = {**os.environ, "CONTACTPOINT_SECURE_COOKIES": "0", "CONTACTPOINT_DATABASE_URL": settings.database_url}
        if settings.es_url is None:
            env["CONTACTPOINT_STATE_DIR"] = str(settings.state_dir)
        cli = [sys.executable, "-m", "webapp.cli"]
        processes.append(subprocess.Popen([*cli, "index", "sync", "--follow"], env=env))
        processes.append(subprocess.Popen([*cli, "serve", "--port", str(port)], env=env))
        click.echo("")
        click.echo(f"ContactPoint is running at http://127.0.0.1:{port}/")
        click.echo(f"Development users (password '{DEV_PASSWORD}'; set up an authenticator app at first sign-in):")
        for username, role, _ in DEV_USERS:
            click.echo(f"  {username:<20} {role}")
        with sessions() as session:
            example = session.scalars(select(Child).where(Child.status == "active", Child.shielded.is_(False))
                                      .order_by(Child.id).limit(1)).first()
        if example is not None:
            criteria = json.dumps({"given_name": example.given_name, "family_name": example.family_name,
                                   "date_of_birth": example.date_of_birth.isoformat()},
                                  ensure_ascii=False).replace("'", "'\\''")  # quoted for the shell
            click.echo(f"Try: curl -s -XPOST -H 'Content-Type: application/json' -H 'Authorization: Bearer {token}' "
                       f"-H 'X-Acting-For: {DEV_USERS[0][0]}' http://127.0.0.1:{port}/api/v1/search -d '{criteria}'")
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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
def serve(host: str, port: int):
    """Serve the web app for development (use gunicorn 'webapp:create_app()' in production)."""
    from .. import create_app
    try:
        app = create_app()
    except MissingSecretKey as exc:
        raise click.ClickException(str(exc)) from None
    app.run(host=host, port=port, debug=False, threaded=True)


@click.command("dev")
@click.option("--children", type=int, default=2000, show_default=True, help="Demo children for an empty database.")
@click.option("--port", type=int, default=8000, show_default=True)
@pass_ctx
def dev(ctx: Context, children: int, port: int):
    """Run everything locally: database, Elasticsearch, demo data, index, web app and indexer."""
    with reported_errors():
        run_dev(ctx.settings, children=children, port=port)
