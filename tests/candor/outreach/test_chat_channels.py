"""Result outreach through the real chat channels: Telegram (fake Bot API) and SMTP
(aiosmtpd), with a candidate opting out of Telegram after the result was queued."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.channels.registry import build_senders
from bot.channels.telegram import TelegramChannel
from bot.conversation import ConversationGateway
from candor.chat.messages import InboundMessage
from candor.clock import utcnow
from candor.delivery.ports import ChannelSender, close_senders
from candor.models.enums import Channel
from candor.models.outreach import MessageState, OutboxItem, OutboxState, OutreachMessage
from candor.outreach.dispatcher import Dispatcher
from tests.fake_telegram_server import RunningFakeTelegram, running_fake_telegram
from tests.outreach_world import World
from tests.smtp_server import RunningSmtp, running_smtp


@pytest.fixture
def smtp() -> Iterator[RunningSmtp]:
    with running_smtp() as server:
        yield server


@pytest.fixture
async def telegram() -> AsyncIterator[RunningFakeTelegram]:
    async with running_fake_telegram() as running:
        yield running


async def _dispatcher(
    world: World, smtp: RunningSmtp, telegram: RunningFakeTelegram
) -> tuple[Dispatcher, dict[Channel, ChannelSender]]:
    settings = world.runtime.settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_starttls": False,
            "smtp_from": "Candor HR <hr@candor.test>",
            "telegram_bot_token": SecretStr(telegram.state.token),
            "telegram_api_base": telegram.base,
        }
    )
    senders = build_senders(settings, world.runtime.redis)
    assert isinstance(senders[Channel.TELEGRAM], TelegramChannel)
    return Dispatcher(world.runtime, senders, await world.context()), senders


async def _due_now(world: World) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))


async def test_results_go_by_telegram_then_by_email_after_stop(
    world: World, smtp: RunningSmtp, telegram: RunningFakeTelegram
) -> None:
    await world.applicant(
        1, bind=[Channel.TELEGRAM], preferred_channels=["telegram", "email"], email="li@example.com"
    )
    await world.applicant(
        2,
        bind=[Channel.TELEGRAM],
        preferred_channels=["telegram", "email"],
        email="han@example.com",
    )
    await world.decide(1, "advance")
    await world.decide(2, "advance")
    await _due_now(world)
    # Candidate 2 says STOP on Telegram after the result was queued there.
    await ConversationGateway(world.runtime).handle(
        InboundMessage(Channel.TELEGRAM, "telegram-user-2", utcnow(), text="退订")
    )
    dispatcher, senders = await _dispatcher(world, smtp, telegram)

    await dispatcher.run_once()
    await _due_now(world)
    await dispatcher.run_once()
    await close_senders(senders)

    assert [m["text"][:2] for m in telegram.state.sent_to("telegram-user-1")] == ["李雷"]
    assert telegram.state.sent_to("telegram-user-2") == []
    assert [to for _, [to] in smtp.handler.envelopes] == ["han@example.com"]
    async with world.runtime.sessionmaker() as session:
        messages = (
            await session.scalars(select(OutreachMessage).order_by(OutreachMessage.id))
        ).all()
        items = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    assert [(m.state, m.channel) for m in messages] == [
        (MessageState.SENT, Channel.TELEGRAM),
        (MessageState.SENT, Channel.EMAIL),
    ]
    assert [(i.channel, i.state) for i in items] == [
        (Channel.TELEGRAM, OutboxState.SENT),
        (Channel.TELEGRAM, OutboxState.PERMANENT_FAILURE),
        (Channel.EMAIL, OutboxState.SENT),
    ]
