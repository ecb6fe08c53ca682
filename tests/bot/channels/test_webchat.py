from __future__ import annotations

from sqlalchemy import select, update

from bot.channels.registry import build_senders
from bot.channels.webchat import WebChatChannel
from bot.conversation import ConversationGateway
from candor.chat import transcript
from candor.chat.cli import issue_link
from candor.chat.messages import InboundMessage
from candor.clock import utcnow
from candor.delivery.ports import Delivery, Permanent, Sent, close_senders
from candor.models import OutboxItem, OutreachMessage
from candor.models.enums import Channel
from candor.models.outreach import MessageState
from candor.outreach.dispatcher import Dispatcher
from tests.outreach_world import World


async def _bind_browser(world: World, n: int, browser: str) -> None:
    application = await world.application(n)
    issued = await issue_link(world.runtime.settings, application.code, Channel.WEB, actor="t")
    assert issued is not None
    await ConversationGateway(world.runtime).handle(
        InboundMessage(Channel.WEB, browser, utcnow(), event="start", event_key=issued.plaintext)
    )


async def test_a_result_arrives_in_the_candidates_web_chat(world: World) -> None:
    await world.applicant(1, preferred_channels=["web", "email"])
    await _bind_browser(world, 1, "web:browser-1")
    await world.decide(1, "advance")  # approved automatically, queued on the web chat
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
    senders = build_senders(world.runtime.settings, world.runtime.redis, world.runtime.sessionmaker)

    await Dispatcher(world.runtime, senders, await world.context()).run_once()
    await close_senders(senders)

    async with world.runtime.sessionmaker() as session:
        message = await session.scalar(select(OutreachMessage))
        conversation_id = await transcript.conversation_id_of(session, Channel.WEB, "web:browser-1")
        assert conversation_id is not None
        lines = await transcript.transcript(session, conversation_id)
    assert message is not None
    assert (message.state, message.channel) == (MessageState.SENT, Channel.WEB)
    assert (lines[-1].author, lines[-1].text) == ("outreach", message.body)


async def test_delivery_is_idempotent_and_needs_a_bound_session(world: World) -> None:
    await world.applicant(1)
    await _bind_browser(world, 1, "web:browser-1")
    channel = WebChatChannel(world.runtime.sessionmaker)

    def delivery(recipient: str) -> Delivery:
        return Delivery("1:1:web", Channel.WEB, recipient, "结果", "恭喜进入下一轮", "zh-CN")

    first = await channel.send(delivery("web:browser-1"))
    again = await channel.send(delivery("web:browser-1"))
    stranger = await channel.send(delivery("web:nobody"))

    assert isinstance(first, Sent)
    assert again == first
    assert isinstance(stranger, Permanent)
    async with world.runtime.sessionmaker() as session:
        conversation_id = await transcript.conversation_id_of(session, Channel.WEB, "web:browser-1")
        assert conversation_id is not None
        texts = [m.text for m in await transcript.transcript(session, conversation_id)]
    assert texts.count("恭喜进入下一轮") == 1
