"""Sending e-mail over SMTP, for the e-mail channel (`bot.channels.email`): candidate
messages, one-time binding codes and HR notices all reach it through the delivery loop.

smtplib is synchronous, so each message is sent in a worker thread: the event loop never
waits on the network. Errors are raised as smtplib raised them; `bot.channels.email`
classifies them for the dispatcher.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from candor.logging import get_logger
from candor.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    async def send(self, email: Email) -> str:
        """Send; return the Message-ID. Raises smtplib/OS errors."""
        ...


class SmtpMailer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        assert settings.smtp_host is not None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )

    def compose(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        domain = self.sender.rpartition("@")[2].strip(" >") or "localhost"
        message["Message-ID"] = make_msgid(domain=domain)
        for name, value in email.headers.items():
            message[name] = value
        message.set_content(email.body)
        return message

    async def send(self, email: Email) -> str:
        message = self.compose(email)
        await asyncio.to_thread(self._send_sync, message)
        return str(message["Message-ID"])

    def _send_sync(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(message)
