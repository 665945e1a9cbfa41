"""Notifications: the registry's events turned into per-user notices (in-app) and emails (an SMTP outbox).

``recipients`` works out who is told, ``content`` what each may see (at the moment it is shown or sent, through
the visibility policy), ``outbox`` writes the notices and the mail queue, ``mailer`` sends queued mail over SMTP.
Requests never talk to SMTP: `contactpoint notifications send` does.
"""
from .content import KINDS, describe
from .outbox import expand_events
from .mailer import SmtpSettings, parse_smtp_url, send_due

__all__ = ["KINDS", "SmtpSettings", "describe", "expand_events", "parse_smtp_url", "send_due"]
