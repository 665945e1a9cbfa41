"""`contactpoint audit`: checking the audit trail."""
from __future__ import annotations

import click

from .support import Context, pass_ctx


@click.group()
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
    altered or missing head (exit 1 if any). Prints each chain's head to record elsewhere for a later --expect."""
    from access_control import audit as trail

    ctx.audit_key()  # a clear error without the key
    with ctx.sessions() as session:
        problems = trail.verify(session, expect)
        heads = trail.current_heads(session)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"the audit trail has been tampered with ({len(problems)} problem(s))")
    click.echo("audit trail intact")
    if heads:
        checkpoints = [f"{seq}:{hash_}" for seq, hash_ in heads]
        click.echo(f"heads (one per chain): {' '.join(checkpoints)}")
        click.echo("keep them elsewhere; later: audit verify " + " ".join(f"--expect {c}" for c in checkpoints))
