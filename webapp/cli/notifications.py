"""`contactpoint notifications`: turning the registry's events into notices and sending the mail outbox."""
from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid

import click

from .support import Context, pass_ctx, reported_errors


@click.group()
def notifications():
    """In-app notices and notification email."""


def _round(ctx: Context, smtp, owner: str, batch: int, once: bool) -> tuple[int, int, int]:
    """Expand waiting events, then send due email until none is due (``once``: one batch); (notices, sent, failed)."""
    from webapp.notifications import expand_events, send_due

    notices = expand_events(ctx.sessions, batch)
    sent = failed = 0
    while smtp is not None:
        result = send_due(ctx.sessions, smtp, owner, batch)
        sent, failed = sent + result.sent, failed + result.failed
        if once or result.failed or result.sent + result.dropped + result.failed < batch:
            break
    return notices, sent, failed


@notifications.command("send")
@click.option("--follow", is_flag=True, help="Keep running: a round every --interval seconds.")
@click.option("--once", is_flag=True, help="One batch of events and one batch of email, then exit.")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=5, show_default=True,
              help="With --follow: seconds between rounds.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Events per transaction, and emails claimed at a time.")
@pass_ctx
def notifications_send(ctx: Context, follow: bool, once: bool, interval: float, batch: int):
    """Write notices for new events and send queued email over CONTACTPOINT_SMTP_URL.

    Without CONTACTPOINT_SMTP_URL the notices are written and email stays queued. A refusing, unreachable or
    slow server delays email (retried with a growing delay) and loses none; several senders may run at once.
    """
    from sqlalchemy.exc import OperationalError
    from tenacity import Retrying, retry_if_exception_type, wait_exponential_jitter

    smtp = ctx.settings.smtp()
    if smtp is None:
        click.echo("CONTACTPOINT_SMTP_URL is not set: notices are written, email stays queued", err=True)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    if not follow:
        with reported_errors():
            notices, sent, failed = _round(ctx, smtp, owner, batch, once)
        click.echo(f"{notices} notices written; {sent} emails sent, {failed} failed (queued for a retry)")
        return
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo("sending notifications (Ctrl-C to stop)")

    def waiting(state):  # the database is down: wait for it, like the indexer
        click.echo(f"notifications send: {state.outcome.exception()}; retrying in {state.next_action.sleep:.1f}s",
                   err=True)

    retrying = Retrying(retry=retry_if_exception_type(OperationalError), wait=wait_exponential_jitter(1, 60),
                        before_sleep=waiting, reraise=True)
    try:
        while not stopping:
            notices, sent, failed = retrying(_round, ctx, smtp, owner, batch, once)
            if notices or sent or failed:
                click.echo(f"{notices} notices written; {sent} emails sent, {failed} failed")
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
