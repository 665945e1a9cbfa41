"""A real SMTP server (aiosmtpd) on 127.0.0.1 for notification tests: it keeps what it accepted, or refuses, or stalls;
optionally over TLS (implicit, or STARTTLS required) with a certificate from a throwaway authority, and with a login."""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """The handler: ``reply`` is what DATA answers ("250 OK", "550 ...", "451 ..."); ``stall`` seconds before it."""

    def __init__(self):
        self.messages: list[Message] = []
        self.reply, self.stall = "250 OK", 0.0

    async def handle_DATA(self, server, session, envelope):
        if self.stall:
            await asyncio.sleep(self.stall)
        if self.reply.startswith("250"):
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(message)
        return self.reply

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """aiosmtpd's Controller on a fixed port (so a test can start it after a sender found the port closed).

    ``tls``: None (plain), "smtps" (TLS from the first byte) or "starttls" (required before anything is sent);
    ``certificate``: a trustme LeafCert for 127.0.0.1. ``login``: (user, password) the server then requires.
    """

    def __init__(self, port: int | None = None, tls: str | None = None, certificate=None,
                 login: tuple[str, str] | None = None):
        self.port, self.mailbox, self.controller = port or free_port(), Mailbox(), None
        self.tls, self.certificate, self.login = tls, certificate, login
        self.logins: list[str] = []

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.certificate.configure_cert(context)
        return context

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        user, password = auth_data.login.decode(), auth_data.password.decode()
        if (user, password) == self.login:
            self.logins.append(user)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self) -> "SmtpServer":
        options = {}
        if self.tls == "smtps":
            # aiosmtpd offers AUTH only after STARTTLS unless told otherwise; here the whole connection is TLS.
            options.update(ssl_context=self._context(), auth_require_tls=False)
        elif self.tls == "starttls":
            options.update(tls_context=self._context(), require_starttls=True)
        if self.login:
            options.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, ready_timeout=10,
                                     server_hostname="127.0.0.1", **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        scheme = {"smtps": "smtps", "starttls": "smtp+starttls"}.get(self.tls, "smtp")
        login = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        return f"{scheme}://{login}127.0.0.1:{self.port}"
