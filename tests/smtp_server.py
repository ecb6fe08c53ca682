"""A real SMTP server on loopback (aiosmtpd) that records what it accepts.

Recipients can be scripted to be refused: `refuse["x@example.com"] = "550 5.1.1 no such user"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from tests.fakes import free_port


@dataclass
class RecordingHandler:
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"

    def bodies_to(self, address: str) -> list[str]:
        found = []
        for message in self.messages:
            if message["To"] == address:
                payload = message.get_payload(decode=True)
                assert isinstance(payload, bytes)
                found.append(payload.decode().replace("\r\n", "\n").rstrip("\n"))
        return found


@dataclass(frozen=True, slots=True)
class RunningSmtp:
    host: str
    port: int
    handler: RecordingHandler


@contextmanager
def running_smtp() -> Iterator[RunningSmtp]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield RunningSmtp("127.0.0.1", port, handler)
    finally:
        controller.stop()
