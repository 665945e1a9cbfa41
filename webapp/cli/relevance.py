"""`contactpoint relevance`: relevance profiles and their offline evaluation."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .progress import progress
from .support import Context, acting_viewer, cli_actor, pass_ctx, reported_errors


@click.group()
def relevance():
    """Relevance profiles and their offline evaluation."""


def _profile_ref(text: str) -> tuple[str, int | None]:
    name, _, version = text.partition(":")
    if version and not version.isdigit():
        raise click.BadParameter(f"{text!r}: use NAME or NAME:VERSION")
    return name, int(version) if version else None


def _operator(session, username: str | None):
    """Whom a bulk read is attributed to: the named user, or the operator at the console."""
    return acting_viewer(session, username, "relevance_admin", "--operator")


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

    from ..offline import make_judgments

    if real_children and not operator:
        raise click.BadParameter("name the user who reads real children", param_hint="'--operator'")
    try:
        with ctx.sessions.begin() as session, progress("reading children", " children") as advance:
            judgments = make_judgments(session, _operator(session, operator), count, seed,
                                       synthetic_only=not real_children, destination=str(out_path),
                                       on_total=advance.set_total, on_progress=advance)
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

    from ..relevance_service import active_profile, evaluate_profiles, get_profile

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
                                    audit.recorder(cli_actor())).reports
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

    from ..relevance_service import save_version

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        with ctx.sessions.begin() as session:
            profile = save_version(session, data, cli_actor(), audit.recorder(cli_actor()))
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

    from ..relevance_service import activate

    try:
        with ctx.sessions.begin() as session:
            profile = activate(session, *_profile_ref(ref), audit.recorder(cli_actor()))
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"active profile: {profile.name} version {profile.version}")


@relevance.command("show")
@click.argument("ref", required=False)
@pass_ctx
def relevance_show(ctx: Context, ref: str | None):
    """Print a profile (default: the active one) as JSON."""
    from search_service.profiles import ProfileError

    from ..relevance_service import active_profile, get_profile

    try:
        with ctx.sessions() as session:
            profile = get_profile(session, *_profile_ref(ref)) if ref else active_profile(session)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(profile.to_dict(), indent=2))
