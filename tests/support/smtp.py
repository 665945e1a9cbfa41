"""A real SMTP server (aiosmtpd) on 127.0.0.1 for notification tests: it keeps what it accepted, or refuses, or stalls."""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from email.message import Message

from aiosmtpd.controller import Controller


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
    """aiosmtpd's Controller on a fixed port (so a test can start it after a sender found the port closed)."""

    def __init__(self, port: int | None = None):
        self.port, self.mailbox, self.controller = port or free_port(), Mailbox(), None

    def start(self) -> "SmtpServer":
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"
