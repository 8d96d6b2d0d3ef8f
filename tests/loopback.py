"""What tests run on loopback: a free port, and an SMTP inbox for aiosmtpd."""

from __future__ import annotations

import email
import socket
from email import policy
from email.message import EmailMessage
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses the addresses it is told to refuse."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse = set(refuse)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return f"250 2.0.0 queued as Q{len(self.received)}"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=policy.default) for _, _, raw in self.received]


class DropsAfterData(Inbox):
    """Stores the first message it is sent, then drops the connection before answering: the sender cannot
    know whether it arrived. Later messages are answered as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if not self.dropped:
            self.dropped = True
            server.transport.abort()
        return reply


class AnswersAt(Inbox):
    """Answers ``reply`` at one step of the dialogue (MAIL, RCPT or DATA) instead of accepting."""

    def __init__(self, step: str, reply: str) -> None:
        super().__init__()
        self.step, self.reply = step, reply

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.step == "MAIL":
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.step == "RCPT":
            return self.reply
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.step == "DATA":
            return self.reply
        return await super().handle_DATA(server, session, envelope)
