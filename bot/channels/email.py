"""The e-mail channel: candidates' fallback, over SMTP (`candor.mail.SmtpMailer`).

SMTP answers are classified for the dispatcher: 4xx (and a dropped connection, a timeout)
is `RetryAfter`; a refused recipient or another 5xx is `Permanent`, so the dispatcher moves on
or marks the message undeliverable and HR sees it.
"""

from __future__ import annotations

import smtplib

from candor.delivery.ports import Delivery, Permanent, RetryAfter, SendResult, Sent
from candor.logging import get_logger
from candor.mail import Email, Mailer
from candor.models.enums import Channel

log = get_logger(__name__)

TRANSIENT_DELAY = 60.0
AUTH_DELAY = 300.0  # someone has to fix the credentials


class EmailChannel:
    channel = Channel.EMAIL

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    async def send(self, delivery: Delivery) -> SendResult:
        email = Email(
            to=delivery.recipient,
            subject=delivery.subject,
            body=delivery.body,
            headers={"X-Candor-Idempotency-Key": delivery.idempotency_key},
        )
        try:
            message_id = await self.mailer.send(email)
        except (smtplib.SMTPException, OSError) as exc:
            result = classify_smtp_error(exc)
            log.info("email.send_failed", outcome=type(result).__name__, reason=result.reason)
            return result
        return Sent(message_id)

    async def aclose(self) -> None:
        return None


def classify_smtp_error(exc: BaseException) -> RetryAfter | Permanent:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        reason = f"recipient refused: {_describe(exc.recipients)}"
        if codes and all(400 <= code < 500 for code in codes):
            return RetryAfter(TRANSIENT_DELAY, reason)
        return Permanent(reason)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return RetryAfter(AUTH_DELAY, f"SMTP login failed ({exc.smtp_code}); check CANDOR_SMTP_*")
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            return RetryAfter(TRANSIENT_DELAY, reason)
        if 500 <= exc.smtp_code < 600:
            return Permanent(reason)
        return RetryAfter(TRANSIENT_DELAY, reason)
    # Disconnects, refused connections, timeouts, TLS failures: the server may be back soon.
    return RetryAfter(TRANSIENT_DELAY, f"SMTP unavailable: {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _describe(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{code} {_text(message)}" for code, message in refused.values())
