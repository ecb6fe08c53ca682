"""Result outreach by SMS end to end: ATS events, drafting with the template's SMS form, the
real dispatcher and the SMS channel built from settings, against the fake providers (which
check every request's signature); and the fallback to and from SMS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import time
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.channels.registry import build_senders
from bot.channels.sms.channel import SmsChannel
from candor.clock import utcnow
from candor.delivery.ports import ChannelSender, close_senders
from candor.devtools.fake_sms import FakeSmsState
from candor.models import Candidate
from candor.models.enums import Channel
from candor.models.outreach import (
    MessageState,
    MessageTemplate,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.outreach.dispatcher import Dispatcher
from candor.outreach.service import deliverable_channels
from candor.settings import SmsProvider
from tests.fake_sms_server import Provider, RunningFakeSms, running_fake_sms
from tests.outreach_world import World
from tests.smtp_server import RunningSmtp, running_smtp

SMS_FORM = {
    "aliyun": ("SMS_100001", {"name": "{{ candidate_name }}", "job": "{{ job_title }}",
                              "link": "c.example/r"}),
    "tencent": ("100001", {"1": "{{ candidate_name }}", "2": "{{ job_title }}",
                           "3": "c.example/r"}),
}  # fmt: skip
NO_QUIET_HOURS = time(0, 0)  # start == end: never quiet (tests run at any hour)


@pytest.fixture(params=["aliyun", "tencent"])
async def sms(request: pytest.FixtureRequest) -> AsyncIterator[RunningFakeSms]:
    async with running_fake_sms(request.param) as running:
        yield running


@pytest.fixture
def smtp() -> Iterator[RunningSmtp]:
    with running_smtp() as server:
        yield server


async def _dispatcher(
    world: World, sms: RunningFakeSms, smtp: RunningSmtp
) -> tuple[Dispatcher, dict[Channel, ChannelSender]]:
    state = FakeSmsState()
    settings = world.runtime.settings.model_copy(
        update={
            "sms_provider": SmsProvider(sms.provider),
            "sms_access_key_id": state.access_key_id,
            "sms_access_key_secret": SecretStr(state.access_key_secret),
            "sms_sdk_app_id": state.sdk_app_id,
            "sms_sign_name": "Candor",
            "sms_endpoint": sms.endpoint,
            "sms_quiet_hours_start": NO_QUIET_HOURS,
            "sms_quiet_hours_end": NO_QUIET_HOURS,
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_starttls": False,
        }
    )
    senders = build_senders(settings, world.runtime.redis)
    assert isinstance(senders[Channel.SMS], SmsChannel)
    return Dispatcher(world.runtime, senders, await world.context()), senders


async def _sms_form(world: World, provider: Provider) -> None:
    code, params = SMS_FORM[provider]
    async with world.runtime.transaction() as session:
        await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.key == "advance.zh-CN")
            .values(sms_template_code=code, sms_params=params)
        )


async def _due_now(world: World) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))


async def _advance(world: World, provider: Provider, **candidate: Any) -> None:
    await _sms_form(world, provider)
    await world.applicant(1, bind=[], **candidate)
    await world.decide(1, "advance")
    await _due_now(world)


async def _message(world: World) -> OutreachMessage:
    async with world.runtime.sessionmaker() as session:
        return (await session.scalars(select(OutreachMessage))).one()


async def _items(world: World) -> list[OutboxItem]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def test_a_result_for_a_candidate_who_prefers_sms_is_texted(
    world: World, sms: RunningFakeSms, smtp: RunningSmtp
) -> None:
    await _advance(world, sms.provider, preferred_channels=["sms", "email"])
    worker, senders = await _dispatcher(world, sms, smtp)

    assert await worker.run_once() == 1
    await close_senders(senders)

    [text] = sms.state.sent_to("+8613800138000")
    assert text["text"] == "【Candor】您好李雷，您应聘的后端工程师有了结果，请查看：c.example/r"
    [item] = await _items(world)
    assert item.channel is Channel.SMS
    assert item.state is OutboxState.SENT
    assert item.provider_message_id == text["id"]
    assert text["reference"] == item.idempotency_key
    message = await _message(world)
    assert message.state is MessageState.SENT
    assert message.channel is Channel.SMS
    assert smtp.handler.messages == []


async def test_a_number_the_provider_refuses_falls_back_to_email(
    world: World, sms: RunningFakeSms, smtp: RunningSmtp
) -> None:
    await _advance(world, sms.provider, preferred_channels=["sms", "email"])
    code = {"aliyun": "isv.MOBILE_NUMBER_ILLEGAL",
            "tencent": "InvalidParameterValue.IncorrectPhoneNumber"}[sms.provider]  # fmt: skip
    sms.state.script("+8613800138000", code)
    worker, senders = await _dispatcher(world, sms, smtp)

    await worker.run_once()
    await _due_now(world)  # the fallback may have been queued for after quiet hours
    await worker.run_once()
    await close_senders(senders)

    first, second = await _items(world)
    assert (first.channel, first.state) == (Channel.SMS, OutboxState.PERMANENT_FAILURE)
    assert code in (first.last_error or "")
    assert (second.channel, second.state) == (Channel.EMAIL, OutboxState.SENT)
    assert len(smtp.handler.messages) == 1
    assert sms.state.sent == []


async def test_a_chat_channel_that_fails_falls_back_to_sms(
    world: World, sms: RunningFakeSms, smtp: RunningSmtp
) -> None:
    # WeChat is preferred and bound, but not configured here: Permanent, then SMS.
    await _sms_form(world, sms.provider)
    await world.applicant(1, bind=[Channel.WECHAT], preferred_channels=["wechat", "sms"])
    await world.decide(1, "advance")
    await _due_now(world)
    worker, senders = await _dispatcher(world, sms, smtp)

    await worker.run_once()
    await _due_now(world)
    await worker.run_once()
    await close_senders(senders)

    first, second = await _items(world)
    assert (first.channel, first.state) == (Channel.WECHAT, OutboxState.PERMANENT_FAILURE)
    assert (second.channel, second.state) == (Channel.SMS, OutboxState.SENT)
    assert len(sms.state.sent) == 1
    assert (await _message(world)).channel is Channel.SMS


async def test_a_template_without_an_sms_form_moves_on_to_the_next_channel(
    world: World, sms: RunningFakeSms, smtp: RunningSmtp
) -> None:
    await world.applicant(1, bind=[], preferred_channels=["sms", "email"])
    await world.decide(1, "advance")
    await _due_now(world)
    worker, senders = await _dispatcher(world, sms, smtp)

    await worker.run_once()
    await _due_now(world)
    await worker.run_once()
    await close_senders(senders)

    first, second = await _items(world)
    assert first.state is OutboxState.PERMANENT_FAILURE
    assert "no SMS template" in (first.last_error or "")
    assert (second.channel, second.state) == (Channel.EMAIL, OutboxState.SENT)


@pytest.mark.parametrize(
    ("mobile", "offered"),
    [("13800138000", True), ("+44 7400 123456", True), ("010 6552 9988", False), (None, False)],
)
async def test_sms_is_offered_only_to_a_number_that_can_take_a_text(
    world: World, mobile: str | None, offered: bool
) -> None:
    await world.applicant(1, bind=[], mobile=mobile, preferred_channels=["sms", "email"])

    async with world.runtime.transaction() as session:
        candidate = (await session.scalars(select(Candidate))).one()
        channels = await deliverable_channels(session, candidate)
        candidate.sms_opted_out_at = utcnow()  # replied TD
        after_td = await deliverable_channels(session, candidate)

    assert channels == ([Channel.SMS, Channel.EMAIL] if offered else [Channel.EMAIL])
    assert after_td == [Channel.EMAIL]


async def test_the_ats_may_list_every_channel_sms_included(world: World) -> None:
    every = ["sms", "wechat", "telegram", "web", "email"]
    await world.applicant(1, bind=[], preferred_channels=every)

    async with world.runtime.sessionmaker() as session:
        candidate = (await session.scalars(select(Candidate))).one()

    assert candidate.preferred_channels == every
