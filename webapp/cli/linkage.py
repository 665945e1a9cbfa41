"""`contactpoint linkage`: the record-linkage model — train, show, evaluate, activate, re-run."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..linkage_training import SAMPLE_DEFAULT, SAMPLE_MAX, SAMPLE_MIN
from .progress import progress
from .relevance import _profile_ref as _model_ref
from .support import Context, cli_actor, pass_ctx


@click.group()
def linkage():
    """Record-linkage models: versioned like relevance profiles, trained without labels."""


def _model(session, ref: str | None):
    from registry.linkage import store

    return store.find_model(session, *_model_ref(ref)) if ref else store.active_model(session)


def _fail_cleanly():
    from registry.linkage.model import LinkageModelError
    from registry.linkage.store import ModelError

    from ..linkage_training import PairsError

    return (ModelError, LinkageModelError, PairsError)


@linkage.command("train")
@click.option("--base", "base_ref", help="NAME[:VERSION] to start from (default: the active model).")
@click.option("--sample", type=click.IntRange(SAMPLE_MIN, SAMPLE_MAX), default=SAMPLE_DEFAULT, show_default=True,
              help="How many children (with all their source records) to train on.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--iterations", type=click.IntRange(1, 200), default=25, show_default=True, help="EM iterations.")
@pass_ctx
def linkage_train(ctx: Context, base_ref: str | None, sample: int, seed: int, iterations: int):
    """Estimate u by random sampling and m by expectation-maximisation; store the result as the next version.

    Reads a random sample of the directory (audited as a bulk read); the new version is not activated.
    """
    from access_control import audit

    from ..linkage_training import train

    try:
        with ctx.sessions.begin() as session, progress("training", " steps") as advance:
            model, facts = train(session, _model(session, base_ref), sample, seed, cli_actor(),
                                 audit.recorder(cli_actor()), iterations, on_total=advance.set_total,
                                 on_step=advance)
    except (*_fail_cleanly(), ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"stored linkage model {model.label} (not active): trained on {facts['children']} children, "
               f"{facts['records']} records, {facts['blocked_pairs']} blocked pairs; "
               f"`contactpoint linkage show {model.label}` prints it")


@linkage.command("show")
@click.argument("ref", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the whole body (term frequencies too) as JSON.")
@pass_ctx
def linkage_show(ctx: Context, ref: str | None, as_json: bool):
    """Print a model's levels with m, u and weight (default: the active model)."""
    try:
        with ctx.sessions() as session:
            model = _model(session, ref)
    except _fail_cleanly() as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(model.to_body(), indent=2))
        return
    click.echo(f"linkage model {model.label}: link at >= {model.upper:g} bits, review at >= {model.lower:g}, "
               f"prior {model.prior:g} ({model.prior_weight:+.2f} bits)")
    click.echo(f"{'field':<14} {'level':<13} {'m':>9} {'u':>10} {'weight':>8}")
    for field, levels in model.m.items():
        for level, m in levels.items():
            click.echo(f"{field:<14} {level:<13} {m:>9.4f} {model.u[field][level]:>10.6f} "
                       f"{model.weights[field][level]:>+8.2f}")
    trained = model.to_body().get("trained")
    if trained:
        click.echo(f"trained: {json.dumps(trained)}")


@linkage.command("evaluate")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='Labelled pairs, a JSON object a line: {"left": {...}, "right": {...}, "match": true}.')
@click.option("--model", "model_ref", help="NAME[:VERSION] (default: the active model).")
@click.option("--against", "against_ref", help="A second model to compare with, side by side.")
@pass_ctx
def linkage_evaluate(ctx: Context, pairs_path: Path, model_ref: str | None, against_ref: str | None):
    """Precision, recall, F1 and review rate of a model on labelled pairs (e.g. `linkage export-pairs`)."""
    from access_control import audit

    from ..linkage_training import evaluate_models, read_pairs

    try:
        with pairs_path.open(encoding="utf-8") as lines:
            pairs = list(read_pairs(lines))
        if not pairs:
            raise click.ClickException(f"{pairs_path}: holds no labelled pairs")
        with ctx.sessions.begin() as session:
            models = [_model(session, model_ref)] + ([_model(session, against_ref)] if against_ref else [])
            reports = evaluate_models(session, models, pairs, audit.recorder(cli_actor()))
    except _fail_cleanly() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(pairs)} labelled pairs")
    click.echo(f"{'':<12}" + "".join(f"{r['model']:>16}" for r in reports))
    for key in ("precision", "recall", "f1", "review_rate"):
        click.echo(f"{key:<12}" + "".join(f"{r[key]:>16.4f}" for r in reports))


@linkage.command("export-pairs")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def linkage_export_pairs(ctx: Context, out_path: Path):
    """Write the reviewers' decisions as labelled pairs, so a model can be evaluated (and learn) from them."""
    from access_control import audit

    from ..linkage_training import reviewed_pairs

    with ctx.sessions.begin() as session:
        pairs = reviewed_pairs(session, audit.recorder(cli_actor()), destination=str(out_path))
    with out_path.open("w", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(pair, ensure_ascii=False, default=str) + "\n")
    click.echo(f"wrote {len(pairs)} labelled pairs to {out_path}")


@linkage.command("activate")
@click.argument("ref")
@pass_ctx
def linkage_activate(ctx: Context, ref: str):
    """Make NAME (newest version) or NAME:VERSION the model every feed load uses."""
    from access_control import audit

    from ..linkage_training import activate

    try:
        with ctx.sessions.begin() as session:
            model = activate(session, *_model_ref(ref), cli_actor(), audit.recorder(cli_actor()))
    except _fail_cleanly() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"active linkage model: {model.label}")


@linkage.command("rerun")
@click.option("--model", "model_ref", help="NAME[:VERSION] (default: the active model).")
@click.option("--dry-run/--apply", default=True, show_default=True,
              help="Only report (default), or apply: merge review items the model would link, and send links it "
                   "would no longer make back to review.")
@pass_ctx
def linkage_rerun(ctx: Context, model_ref: str | None, dry_run: bool):
    """Which existing links a model would change."""
    from access_control import audit

    from ..linkage_training import rerun

    try:
        with ctx.sessions.begin() as session:
            report = rerun(session, _model(session, model_ref), not dry_run, cli_actor(), audit.recorder(cli_actor()))
    except _fail_cleanly() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {report['model']}: {report['links_checked']} automatic links checked; "
               f"{len(report['would_unlink'])} would no longer be made, {len(report['would_link'])} review items "
               f"would be linked" + ("; applied (unlinked records are waiting in the review queue)"
                                     if report["applied"] else " (dry run: nothing changed; --apply to apply)"))
    for change in report["would_unlink"]:
        click.echo(f"  unlink source record {change['source_record']} (weight {change['match_weight']:+.2f})")
    for change in report["would_link"]:
        click.echo(f"  link review item {change['review_item']} (weight {change['match_weight']:+.2f})")
