from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bot.conversation import ConversationGateway
from candor.chat.demo import demo_chat_links
from candor.chat.messages import InboundMessage
from candor.clock import utcnow
from candor.models import ChatIdentity
from candor.models.enums import Channel
from tests.outreach_world import World


async def test_demo_candidates_get_working_web_chat_links(world: World) -> None:
    await world.applicant(1, bind=[Channel.WEB])  # web-user-1: not a demo identity
    await world.applicant(2)
    application = await world.application(2)
    async with world.runtime.transaction() as session:
        session.add(
            ChatIdentity(
                channel=Channel.WEB,
                external_user_id="demo-web-1",
                candidate_id=application.candidate_id,
                bound_at=utcnow(),
            )
        )

    async with world.runtime.transaction() as session:
        [link] = await demo_chat_links(session, public_url="http://127.0.0.1:8000/")

    assert link.application_code == application.code
    assert link.url.startswith("http://127.0.0.1:8000/chat?bind=")
    token = parse_qs(urlsplit(link.url).query)["bind"][0]
    [reply] = await ConversationGateway(world.runtime).handle(
        InboundMessage(Channel.WEB, "web:browser", utcnow(), event="start", event_key=token)
    )
    assert application.code in reply.text
