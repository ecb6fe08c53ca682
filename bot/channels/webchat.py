"""The web chat as a result channel: the message is added to the candidate's web-chat
conversation, and the page (which polls its transcript) shows it.

Delivery is idempotent: the outbox row's idempotency key is the transcript row's provider
message id, so a redelivery after a crash adds nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from candor.chat import transcript
from candor.clock import utcnow
from candor.delivery.ports import Delivery, Permanent, SendResult, Sent
from candor.models.enums import Channel

AUTHOR = "outreach"


class WebChatChannel:
    channel = Channel.WEB

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def send(self, delivery: Delivery) -> SendResult:
        async with self.sessionmaker() as session, session.begin():
            thread = await transcript.find_thread(session, Channel.WEB, delivery.recipient)
            if thread is None or thread.candidate is None:
                return Permanent("the web-chat session is gone or no longer bound")
            message_id = await transcript.record_delivery(
                session,
                thread.conversation,
                text=delivery.body,
                author=AUTHOR,
                provider_message_id=delivery.idempotency_key,
                buttons=[(button.title, button.payload) for button in delivery.buttons],
                at=utcnow(),
            )
        return Sent(f"web:{message_id}")

    async def aclose(self) -> None:
        return None
