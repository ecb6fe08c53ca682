from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.channels.email import EmailChannel
from candor.clock import utcnow
from candor.mail import SmtpMailer
from candor.models import OutreachMessage, SlaNotification
from candor.models.enums import Channel
from candor.models.outreach import SlaNotificationKind
from candor.notify.hr_mail import deliver_hr_notices
from tests.outreach_world import World
from tests.smtp_server import RunningSmtp, running_smtp


@pytest.fixture
def smtp() -> Iterator[RunningSmtp]:
    with running_smtp() as server:
        yield server


async def _notify(world: World, kind: SlaNotificationKind) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")  # waits for HR approval
    async with world.runtime.transaction() as session:
        message = await session.scalar(select(OutreachMessage))
        assert message is not None
        session.add(
            SlaNotification(message_id=message.id, kind=kind, recipient_id=world.recruiter.id)
        )


async def test_notifications_are_mailed_once(world: World, smtp: RunningSmtp) -> None:
    await _notify(world, SlaNotificationKind.ESCALATE)
    application = await world.application(1)
    mailer = SmtpMailer(host=smtp.host, port=smtp.port, sender="candor@x.test", starttls=False)

    first = await deliver_hr_notices(world.runtime, {Channel.EMAIL: EmailChannel(mailer)})
    second = await deliver_hr_notices(world.runtime, {Channel.EMAIL: EmailChannel(mailer)})

    assert (first, second) == (1, 0)
    [mail] = smtp.handler.messages
    assert mail["To"] == world.recruiter.email
    assert application.code in str(mail["Subject"])
    [body] = smtp.handler.bodies_to(world.recruiter.email)
    assert "pending_approval" in body
    async with world.runtime.sessionmaker() as session:
        notification = await session.scalar(select(SlaNotification))
    assert notification is not None
    assert notification.sent_at is not None


async def test_a_refused_mail_stays_pending(world: World, smtp: RunningSmtp) -> None:
    await _notify(world, SlaNotificationKind.BREACH)
    smtp.handler.refuse[world.recruiter.email] = "450 4.2.1 mailbox busy"
    mailer = SmtpMailer(host=smtp.host, port=smtp.port, sender="candor@x.test", starttls=False)

    assert await deliver_hr_notices(world.runtime, {Channel.EMAIL: EmailChannel(mailer)}) == 0
    async with world.runtime.transaction() as session:
        notification = await session.scalar(select(SlaNotification))
        assert notification is not None
        assert notification.sent_at is None
        assert notification.last_error is not None
        assert "450" in notification.last_error
        assert notification.next_attempt_at is not None
        assert notification.next_attempt_at > utcnow()  # retried later, not in a hot loop
        notification.next_attempt_at = utcnow()  # that later has come

    del smtp.handler.refuse[world.recruiter.email]
    assert await deliver_hr_notices(world.runtime, {Channel.EMAIL: EmailChannel(mailer)}) == 1


async def test_an_undeliverable_result_is_mailed_to_the_recruiter(
    world: World, smtp: RunningSmtp
) -> None:
    await world.applicant(1, email=None, preferred_channels=["telegram"])  # nothing bound
    await world.decide(1, "advance")
    application = await world.application(1)
    mailer = SmtpMailer(host=smtp.host, port=smtp.port, sender="candor@x.test", starttls=False)

    assert await deliver_hr_notices(world.runtime, {Channel.EMAIL: EmailChannel(mailer)}) == 1

    [mail] = smtp.handler.messages
    assert mail["To"] == world.recruiter.email
    assert "undeliverable" in str(mail["Subject"]).lower()
    assert application.code in str(mail["Subject"])
    [body] = smtp.handler.bodies_to(world.recruiter.email)
    assert "reached the candidate on no channel" in body
