"""The ``contactpoint`` command line. Every failure exits non-zero with a message saying what to do."""
from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

import click
from tqdm import tqdm

from analyzers import clock

from . import cli_access
from .cli_support import Commands, Context, iso_date, pass_ctx, reported_errors
from .config import MissingSecretKey


@click.group(cls=Commands)
def main():
    """ContactPoint: who else is working with this child."""


# --- database ---------------------------------------------------------------------------

@main.group()
def db():
    """The authoritative database."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context):
    """Create or migrate the database schema to the newest version."""
    from registry.db import head_revision, make_engine, upgrade

    try:
        # The key seals an audit trail written before the keyed MAC (migration 0009).
        upgrade(make_engine(ctx.settings.database_url), audit_key=ctx.audit_key(required=False))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database at schema revision {head_revision()}")
    _encrypt_plaintext_totp_secrets(ctx)


def _encrypt_plaintext_totp_secrets(ctx: Context) -> None:
    """Secrets stored before encryption (migration 0008) are encrypted now if a key is set, else at next sign-in."""
    from access_control.accounts import encrypt_plaintext_secrets

    try:
        totp_key = ctx.settings.key("totp")
    except MissingSecretKey:
        return
    with ctx.sessions.begin() as db:
        count = encrypt_plaintext_secrets(db, totp_key)
    if count:
        click.echo(f"encrypted {count} authenticator secrets stored in plaintext before")


# --- the local Elasticsearch ------------------------------------------------------------

@main.group()
def engine():
    """The local Elasticsearch node (development and tests)."""


@engine.command("start")
@pass_ctx
def engine_start(ctx: Context):
    """Fetch (first time), start and wait for a single local node on 127.0.0.1."""
    from search_service import local_engine

    if ctx.settings.es_url:
        raise click.ClickException(f"CONTACTPOINT_ES_URL is set ({ctx.settings.es_url}): no local node is used")
    with reported_errors():
        info = local_engine(ctx.settings).start()
    click.echo(f"Elasticsearch {info.version} running at {info.url} (pid {info.pid})")


@engine.command("stop")
@pass_ctx
def engine_stop(ctx: Context):
    """Stop the local node and everything it started."""
    from search_service import local_engine

    click.echo("stopped" if local_engine(ctx.settings).stop() else "not running")


@engine.command("status")
@pass_ctx
def engine_status(ctx: Context):
    """Say whether the local node runs, where, and its health (exit 3 when not running)."""
    from search_service import local_engine

    node = local_engine(ctx.settings)
    info = node.info()
    if info is None:
        click.echo("not running")
        sys.exit(3)
    health = node.health() or {}
    click.echo(f"running: Elasticsearch {info.version} at {info.url} (pid {info.pid}), "
               f"health {health.get('status', 'unreachable')}")


# --- feeds ------------------------------------------------------------------------------

@main.group()
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


# --- the index --------------------------------------------------------------------------

@main.group()
def index():
    """The Elasticsearch read store."""


@index.command("rebuild")
@pass_ctx
def index_rebuild(ctx: Context):
    """Build a fresh index from the database and swap the alias to it atomically."""
    from indexing import CHECKPOINT, rebuild

    with reported_errors(), tqdm(unit=" children", desc="indexing", disable=None) as bar:
        name, count = rebuild(ctx.es(), ctx.sessions, ctx.settings.es_alias, CHECKPOINT, on_progress=bar.update)
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


# --- data, web, audit -------------------------------------------------------------------

@main.command("demo-data")
@click.option("--children", type=click.IntRange(1, 2_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@pass_ctx
def demo_data(ctx: Context, children: int, seed: int):
    """Generate realistic synthetic children (deterministic for a seed)."""
    from registry.demo import load_demo_data

    with tqdm(total=children, unit=" children", desc="demo data", disable=None) as bar:
        loaded = load_demo_data(ctx.sessions, children, seed, on_progress=bar.update)
    click.echo(f"created {loaded} synthetic children (seed {seed})")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
def serve(host: str, port: int):
    """Serve the web app for development (use gunicorn 'webapp:create_app()' in production)."""
    from . import create_app
    try:
        app = create_app()
    except MissingSecretKey as exc:
        raise click.ClickException(str(exc)) from None
    app.run(host=host, port=port, debug=False, threaded=True)


@main.group()
def audit():
    """The audit trail."""


def _checkpoint(_ctx, _param, values: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    checkpoints = []
    for value in values:
        seq, _, hash_ = value.partition(":")
        if not seq.isdigit() or len(hash_) != 64:
            raise click.BadParameter(f"{value!r}: expected SEQ:HASH as `audit verify` printed it")
        checkpoints.append((int(seq), hash_.lower()))
    return tuple(checkpoints)


@audit.command("verify")
@click.option("--expect", "expect", multiple=True, callback=_checkpoint, metavar="SEQ:HASH",
              help="A head printed by an earlier run and kept outside the database; fail if the trail no longer "
                   "holds it (rolled back to an older copy, or deleted).")
@pass_ctx
def audit_verify(ctx: Context, expect: tuple[tuple[int, str], ...]):
    """Check the keyed hash chain; names every edited, removed, inserted or reordered event, a cut-off tail and an
    altered or missing head (exit 1 if any). Prints the head to record elsewhere for a later --expect."""
    from access_control import audit as trail

    ctx.audit_key()  # a clear error without the key
    with ctx.sessions() as session:
        problems = trail.verify(session, expect)
        head = trail.current_head(session)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"the audit trail has been tampered with ({len(problems)} problem(s))")
    click.echo("audit trail intact")
    if head:
        click.echo(f"head: {head[0]}:{head[1]} (keep it elsewhere; later: audit verify --expect {head[0]}:{head[1]})")


@main.group()
def relevance():
    """Relevance profiles and their offline evaluation."""


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _profile_ref(text: str) -> tuple[str, int | None]:
    name, _, version = text.partition(":")
    if version and not version.isdigit():
        raise click.BadParameter(f"{text!r}: use NAME or NAME:VERSION")
    return name, int(version) if version else None


def _operator(session, username: str | None):
    """Whom a bulk read is attributed to: the named user, or the operator at the console."""
    from access_control import Viewer
    from access_control.accounts import find_user, usable, viewer_for

    if username is None:
        return Viewer(username=_cli_actor(), display_name="operator console", role="relevance_admin",
                      organisation="console")
    user = find_user(session, username)
    if user is None or usable(user):
        raise click.BadParameter(f"there is no active user {username!r}", param_hint="'--operator'")
    return viewer_for(user)


@relevance.command("judgments")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--real-children", is_flag=True,
              help="Read real children instead of synthetic ones (needs --operator: an LA team member, for its "
                   "own authority's children, or a national administrator). Shielded children are never read.")
@click.option("--operator", metavar="USERNAME", help="The user the read is done as and audited under.")
@pass_ctx
def relevance_judgments(ctx: Context, count: int, seed: int, out_path: Path, real_children: bool,
                        operator: str | None):
    """Write a labelled query set built by corrupting synthetic children (made by demo-data) in the database."""
    from access_control import NotAllowed
    from search_service.evaluation import write_judgments

    from .offline import make_judgments

    if real_children and not operator:
        raise click.BadParameter("name the user who reads real children", param_hint="'--operator'")
    try:
        with ctx.sessions.begin() as session:
            judgments = make_judgments(session, _operator(session, operator), count, seed,
                                       synthetic_only=not real_children, destination=str(out_path))
    except NotAllowed as exc:
        raise click.ClickException(f"--operator {operator}: not allowed: {exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    write_judgments(out_path, judgments)
    click.echo(f"wrote {len(judgments)} judgments from {'real' if real_children else 'synthetic'} children "
               f"to {out_path}")


@relevance.command("evaluate")
@click.option("--judgments", "judgments_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", "profile_ref", default=None, help="NAME or NAME:VERSION (default: the active one).")
@click.option("--against", "against_ref", default=None, help="A second profile to compare with.")
@pass_ctx
def relevance_evaluate(ctx: Context, judgments_path: Path, profile_ref: str | None, against_ref: str | None):
    """Recall@1/5/10, MRR and nDCG of a profile on a judgment set; with --against, what got worse."""
    from access_control import audit
    from search_service.evaluation import format_comparison, format_report, read_judgments, regressions
    from search_service.profiles import ProfileError

    from .relevance_service import active_profile, evaluate_profiles, get_profile

    try:
        judgments = read_judgments(judgments_path)
        with ctx.sessions() as session:
            profiles = [get_profile(session, *_profile_ref(profile_ref)) if profile_ref else active_profile(session)]
            if against_ref:
                profiles.append(get_profile(session, *_profile_ref(against_ref)))
    except (ValueError, ProfileError) as exc:
        raise click.ClickException(str(exc)) from None
    es = ctx.es()
    with reported_errors():
        reports = evaluate_profiles(es, ctx.settings, ctx.sessions, profiles, judgments, str(judgments_path),
                                    audit.recorder(_cli_actor())).reports
    if len(reports) == 1:
        click.echo(format_report(reports[0].metrics, reports[0].label))
        return
    first, second = reports
    click.echo(format_comparison(first.metrics, second.metrics, first.label, second.label,
                                 regressions(first.outcomes, second.outcomes)))


@relevance.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def relevance_import(ctx: Context, file: Path):
    """Store a profile JSON file as the next version of its name (not activated)."""
    from access_control import audit
    from search_service.profiles import ProfileError

    from .relevance_service import save_version

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        with ctx.sessions.begin() as session:
            profile = save_version(session, data, _cli_actor(), audit.recorder(_cli_actor()))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"stored profile {profile.name} version {profile.version}")


@relevance.command("activate")
@click.argument("ref")
@pass_ctx
def relevance_activate(ctx: Context, ref: str):
    """Make NAME (newest version) or NAME:VERSION the profile every search uses."""
    from access_control import audit
    from search_service.profiles import ProfileError

    from .relevance_service import activate

    try:
        with ctx.sessions.begin() as session:
            profile = activate(session, *_profile_ref(ref), audit.recorder(_cli_actor()))
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"active profile: {profile.name} version {profile.version}")


@relevance.command("show")
@click.argument("ref", required=False)
@pass_ctx
def relevance_show(ctx: Context, ref: str | None):
    """Print a profile (default: the active one) as JSON."""
    from search_service.profiles import ProfileError

    from .relevance_service import active_profile, get_profile

    try:
        with ctx.sessions() as session:
            profile = get_profile(session, *_profile_ref(ref)) if ref else active_profile(session)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(profile.to_dict(), indent=2))


# --- record retention -------------------------------------------------------------------

@main.group()
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
    result = run_retention(ctx.sessions, day, years, record=audit.recorder(_cli_actor()), dry_run=dry_run)
    would = "would " if dry_run else ""
    verbs = ("archive", "purge") if dry_run else ("archived", "purged")
    click.echo(f"{would}{verbs[0]} {_children(len(result.archived))} at 18; "
               f"{would}{verbs[1]} {_children(len(result.purged))} after {years} year{'' if years == 1 else 's'}")
    if verbose:
        for cp_id in result.archived:
            click.echo(f"{verbs[0]}: {cp_id}")
        for cp_id in result.purged:
            click.echo(f"{verbs[1]}: {cp_id}")


@main.command("dev")
@click.option("--children", type=int, default=2000, show_default=True, help="Demo children for an empty database.")
@click.option("--port", type=int, default=8000, show_default=True)
@pass_ctx
def dev(ctx: Context, children: int, port: int):
    """Run everything locally: database, Elasticsearch, demo data, index, web app and indexer."""
    from .dev import run_dev

    with reported_errors():
        run_dev(ctx.settings, children=children, port=port)


cli_access.register(main)

if __name__ == "__main__":
    main()
