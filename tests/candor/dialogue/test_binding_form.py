"""The binding form: a bound candidate links another application (say, applied again with
another address) through the chat side's manual binding, asked for as a Rasa form."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import func, select

from bot.channels.registry import build_senders
from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.delivery.direct import deliver_due
from candor.delivery.ports import close_senders
from candor.models import Candidate, ChatDelivery, ChatIdentity
from nlu.model import NluModel
from tests.dialogue_world import actions_of, bound_chat, texts_of
from tests.outreach_world import World
from tests.smtp_server import running_smtp


async def test_the_form_asks_mails_a_code_after_commit_and_binds(
    world: World, nlu_model: NluModel
) -> None:
    with running_smtp() as smtp:
        settings = world.runtime.settings.model_copy(
            update={"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_starttls": False}
        )
        runtime = dataclasses.replace(world.runtime, settings=settings)
        gateway = ConversationGateway(runtime, engine=EmbeddedEngine(runtime, model=nlu_model))
        chat = await bound_chat(world, gateway, 1)
        await world.applicant(2, email="second@example.com")

        code_only = await chat.say("绑定一下，我的编号是AP-2026-000002")
        events = await chat.new_events()
        assert actions_of(events) == ["bind_form"]
        assert {"event": "active_loop", "name": "bind_form"} in events
        assert "手机号或邮箱" in texts_of(code_only)  # a code alone sends nothing
        asked = await chat.say("我的邮箱是 Second@Example.com")
        assert "验证码" in texts_of(asked)
        assert actions_of(await chat.new_events()) == ["bind_form"]
        assert smtp.handler.messages == []  # queued with the code's hash, sent by the loop
        senders = build_senders(settings)
        try:
            assert await deliver_due(runtime, senders) == 1
        finally:
            await close_senders(senders)
        [mail] = smtp.handler.bodies_to("second@example.com")
        code = re.search(r"验证码：(\d{6})", mail)
        assert code is not None

        wrong = await chat.say("000000" if code.group(1) != "000000" else "111111")
        assert "不正确" in texts_of(wrong)
        assert actions_of(await chat.new_events()) == ["bind_form"]  # asked again
        done = await chat.say(code.group(1))
        assert actions_of(await chat.new_events()) == ["bind_form", "action_bind_identity"]
        assert "绑定成功" in texts_of(done)

    async with world.runtime.sessionmaker() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "web-user-1")
        )
        second = await session.scalar(select(Candidate).where(Candidate.external_id == "cand-2"))
    assert identity is not None
    assert second is not None
    assert identity.candidate_id == second.id


async def test_an_unknown_contact_gets_the_same_answer_and_nothing_is_mailed(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await world.applicant(2, email="second@example.com")

    unknown = await chat.say("绑定一下，AP-2025-000777 nobody@example.com")
    await chat.say("我的面试结果出来了吗")  # talking about something else leaves the form
    assert actions_of(await chat.new_events())[-1] == "action_check_progress"
    mismatch = await chat.say("绑定一下，AP-2026-000002 third@example.com")

    assert texts_of(unknown) == texts_of(mismatch)
    assert "验证码" in texts_of(unknown)
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ChatDelivery)) == 0
