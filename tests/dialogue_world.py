"""A conversation with a bound candidate, driven through the real gateway and the embedded
engine (one NLU model per test session)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine, shared_model
from candor.chat.messages import InboundMessage, Reply
from candor.clock import utcnow
from candor.db import aftercommit
from candor.dialogue.state import recent_events
from candor.models import ChatIdentity, Conversation
from candor.models.enums import Channel
from nlu.model import NluModel
from nlu.project import RasaProject
from tests.outreach_world import World


@pytest.fixture(scope="session")
def nlu_model() -> NluModel:
    from candor.settings import Settings

    return shared_model(Settings(), RasaProject.default().root)


@pytest.fixture(scope="session")
def uncertain_nlu_model(tmp_path_factory: pytest.TempPathFactory) -> NluModel:
    """The same data trained without calibration, whose confidences stay below 1: for tests
    that need every message to fall below a threshold (a calibrated model is certain of the
    texts it was trained on)."""
    from nlu.model import open_tokenizer, train

    project = RasaProject.default()
    return train(
        project.training_data(),
        tokenizer=open_tokenizer(project, tmp_path_factory.mktemp("nlu")),
        thresholds=project.fallback_thresholds(),
        calibrate=False,
    )


@pytest.fixture
def unsure_gateway(world: World, uncertain_nlu_model: NluModel) -> ConversationGateway:
    """A gateway whose engine is unsure of every message (a threshold nothing reaches), for
    tests of what happens to messages below the threshold."""
    settings = world.runtime.settings.model_copy(update={"nlu_fallback_threshold": 0.999})
    runtime = dataclasses.replace(world.runtime, settings=settings)
    return ConversationGateway(runtime, engine=EmbeddedEngine(runtime, model=uncertain_nlu_model))


@dataclass
class Chat:
    """One candidate's chat account talking to the gateway."""

    world: World
    gateway: ConversationGateway
    user: str
    channel: Channel = Channel.WEB
    _seen_events: int = field(default=0)

    async def say(self, text: str | None = None, **extra: Any) -> list[Reply]:
        replies = await self.gateway.handle(
            InboundMessage(
                channel=self.channel,
                external_user_id=self.user,
                received_at=utcnow(),
                text=text,
                **extra,
            )
        )
        await aftercommit.drain()
        return replies

    async def press(self, payload: str) -> list[Reply]:
        return await self.say(None, event="button", event_key=payload)

    async def conversation_id(self) -> int:
        async with self.world.runtime.sessionmaker() as session:
            found = await session.scalar(
                select(Conversation.id)
                .join(ChatIdentity, ChatIdentity.id == Conversation.chat_identity_id)
                .where(
                    ChatIdentity.channel == self.channel,
                    ChatIdentity.external_user_id == self.user,
                )
            )
            assert found is not None
            return int(found)

    async def events(self) -> list[dict[str, Any]]:
        async with self.world.runtime.sessionmaker() as session:
            return await recent_events(session, await self.conversation_id())

    async def new_events(self) -> list[dict[str, Any]]:
        """The events since the last call."""
        events = await self.events()
        fresh = events[self._seen_events :] if self._seen_events <= len(events) else events
        self._seen_events = len(events)
        return fresh


@pytest.fixture
def engine(world: World, nlu_model: NluModel) -> EmbeddedEngine:
    return EmbeddedEngine(world.runtime, model=nlu_model)


@pytest.fixture
def gateway(world: World, engine: EmbeddedEngine) -> ConversationGateway:
    return ConversationGateway(world.runtime, engine=engine)


async def bound_chat(world: World, gateway: ConversationGateway, n: int, **kwargs: Any) -> Chat:
    """Candidate n applied, finished the AI interview and bound a web-chat account."""
    await world.applicant(n, bind=[Channel.WEB], **kwargs)
    return Chat(world, gateway, f"web-user-{n}")


def actions_of(events: list[dict[str, Any]]) -> list[str]:
    return [
        str(e["name"])
        for e in events
        if e.get("event") == "action"
        and e.get("name") != "action_listen"
        and not str(e.get("name")).startswith("validate_")
    ]


async def result_sent(world: World, n: int, decision: str = "reject") -> None:
    """The ATS decided candidate n's result and the message reached them."""
    from candor.models import Application, OutreachMessage
    from candor.models.outreach import MessageState

    await world.decide(n, decision)
    async with world.runtime.transaction() as session:
        application = await session.scalar(
            select(Application).where(Application.external_id == f"app-{n}")
        )
        assert application is not None
        message = await session.scalar(
            select(OutreachMessage).where(
                OutreachMessage.application_id == application.id,
                OutreachMessage.result_version == application.result_version,
            )
        )
        assert message is not None
        message.state, message.sent_at = MessageState.SENT, utcnow()


def texts_of(replies: list[Reply]) -> str:
    return "\n".join(reply.text for reply in replies)
