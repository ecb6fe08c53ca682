"""Helpers for HR-side scheduling tests: a job with a self-scheduling policy, candidates who
chat (a bound account with its conversation), and reading what the candidate was sent."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlparse

from sqlalchemy import select, update

from candor.clock import utcnow
from candor.models import (
    Application,
    Candidate,
    ChatDelivery,
    ChatIdentity,
    ChatMessage,
    Conversation,
    InterviewSlot,
)
from candor.models.chat import Direction
from candor.models.enums import Channel, InterviewKind
from candor.scheduling import service
from tests.booking_chat_world import working_days
from tests.outreach_world import World


async def scheduling_job(world: World, n: int = 1, *, team: str = "team-a") -> int:
    """Applicant `n` in `team`'s job, whose candidates book their onsite round; the job id."""
    await world.applicant(n, team=team)
    application = await world.application(n)
    async with world.runtime.transaction() as session:
        await service.set_policy(
            session,
            application.job_id,
            interview_kind=InterviewKind.ONSITE,
            preparation="身份证和简历",
            actor="test",
        )
    return application.job_id


async def chats_on(world: World, n: int, channel: Channel = Channel.TELEGRAM) -> int:
    """Candidate `n` has a bound `channel` account and its conversation; the conversation id."""
    application = await world.application(n)
    async with world.runtime.transaction() as session:
        identity = ChatIdentity(
            channel=channel,
            external_user_id=f"{channel.value}-user-{n}",
            candidate_id=application.candidate_id,
            bound_at=utcnow(),
        )
        session.add(identity)
        await session.flush()
        conversation = Conversation(
            chat_identity_id=identity.id,
            channel=channel,
            candidate_id=application.candidate_id,
        )
        session.add(conversation)
        await session.flush()
        return conversation.id


async def set_candidate(world: World, n: int, **values: object) -> None:
    application = await world.application(n)
    async with world.runtime.transaction() as session:
        await session.execute(
            update(Candidate).where(Candidate.id == application.candidate_id).values(**values)
        )


async def next_working_days(world: World, count: int, *, after: int = 7) -> list[date]:
    """The first `count` working days (China's calendar) at least `after` days from today."""
    return await working_days(world, count, from_days=after)


async def sent_in_chat(world: World, conversation_id: int) -> list[str]:
    """Candor's messages to the conversation, oldest first, each with its delivery queued."""
    async with world.runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(ChatMessage.text, ChatDelivery.id)
                .outerjoin(ChatDelivery, ChatDelivery.chat_message_id == ChatMessage.id)
                .where(
                    ChatMessage.conversation_id == conversation_id,
                    ChatMessage.direction == Direction.OUTBOUND,
                )
                .order_by(ChatMessage.id)
            )
        ).all()
    assert all(delivery is not None for _text, delivery in rows)
    return [text or "" for text, _delivery in rows]


async def emails_to(world: World, address: str) -> list[ChatDelivery]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(ChatDelivery)
            .where(ChatDelivery.channel == Channel.EMAIL)
            .order_by(ChatDelivery.id)
        )
        return [row for row in rows if row.recipient == address]


async def slot_starts_passed(world: World, slot_id: int) -> None:
    """The slot's time comes: it began an hour ago (attendance can be recorded)."""
    async with world.runtime.transaction() as session:
        slot = await session.get_one(InterviewSlot, slot_id)
        length = slot.ends_at - slot.starts_at
        slot.starts_at = utcnow() - timedelta(hours=1)
        slot.ends_at = slot.starts_at + length


def ics_path(text: str) -> str:
    """The path and query of the .ics link in a message."""
    link = next(word for word in text.split() if ".ics?sig=" in word)
    parsed = urlparse(link[link.index("http") :])
    return f"{parsed.path}?{parsed.query}"


async def application_code(world: World, n: int) -> str:
    async with world.runtime.sessionmaker() as session:
        code = await session.scalar(
            select(Application.code).where(Application.external_id == f"app-{n}")
        )
        assert code is not None
        return code
