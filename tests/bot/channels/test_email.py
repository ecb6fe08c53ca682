from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from bot.channels.email import EmailChannel, classify_smtp_error
from candor.delivery.ports import Delivery, Permanent, RetryAfter, Sent
from candor.mail import SmtpMailer
from candor.models.enums import Channel
from tests.fakes import free_port
from tests.smtp_server import RunningSmtp, running_smtp


def _delivery(recipient: str) -> Delivery:
    return Delivery(
        idempotency_key="7:1:email",
        channel=Channel.EMAIL,
        recipient=recipient,
        subject="面试结果通知",
        body="李雷您好，感谢参加面试。",
        locale="zh-CN",
    )


def _channel(server: RunningSmtp) -> EmailChannel:
    mailer = SmtpMailer(
        host=server.host, port=server.port, sender="HR <hr@candor.test>", starttls=False
    )
    return EmailChannel(mailer)


@pytest.fixture
def smtp() -> Iterator[RunningSmtp]:
    with running_smtp() as server:
        yield server


async def test_a_message_reaches_the_smtp_server(smtp: RunningSmtp) -> None:
    result = await _channel(smtp).send(_delivery("lilei@example.com"))

    assert isinstance(result, Sent)
    [message] = smtp.handler.messages
    assert message["Message-ID"] == result.provider_message_id
    assert message["Subject"] == "面试结果通知"
    assert message["X-Candor-Idempotency-Key"] == "7:1:email"
    assert smtp.handler.bodies_to("lilei@example.com") == ["李雷您好，感谢参加面试。"]


async def test_a_refused_recipient_is_permanent(smtp: RunningSmtp) -> None:
    smtp.handler.refuse["gone@example.com"] = "550 5.1.1 mailbox unavailable"

    result = await _channel(smtp).send(_delivery("gone@example.com"))

    assert isinstance(result, Permanent)
    assert "550" in result.reason
    assert smtp.handler.messages == []


async def test_a_temporarily_refused_recipient_is_retried(smtp: RunningSmtp) -> None:
    smtp.handler.refuse["busy@example.com"] = "451 4.3.0 try again later"

    result = await _channel(smtp).send(_delivery("busy@example.com"))

    assert isinstance(result, RetryAfter)
    assert "451" in result.reason


async def test_an_unreachable_server_is_retried() -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=free_port(), sender="hr@candor.test")

    result = await EmailChannel(mailer).send(_delivery("lilei@example.com"))

    assert isinstance(result, RetryAfter)
    assert "unavailable" in result.reason


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (smtplib.SMTPDataError(554, b"spam"), Permanent),
        (smtplib.SMTPDataError(452, b"insufficient storage"), RetryAfter),
        (smtplib.SMTPSenderRefused(553, b"not allowed", "hr@candor.test"), Permanent),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), RetryAfter),
        (smtplib.SMTPServerDisconnected("gone"), RetryAfter),
        (
            smtplib.SMTPRecipientsRefused({"a@x.test": (450, b"busy"), "b@x.test": (550, b"no")}),
            Permanent,
        ),
        (TimeoutError("timed out"), RetryAfter),
    ],
)
def test_smtp_errors_are_classified(error: Exception, expected: type) -> None:
    assert isinstance(classify_smtp_error(error), expected)
