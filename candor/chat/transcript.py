"""Chat identities, their conversations and the transcript.

Everything here runs in the caller's transaction and only flushes. A message costs few
round trips: the identity, its conversation and its candidate come in one query, and the
inbound row is one `INSERT ... ON CONFLICT DO NOTHING RETURNING`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.models import Candidate, ChatIdentity, ChatMessage, Conversation
from candor.models.chat import Direction
from candor.models.enums import Channel


@dataclass(frozen=True, slots=True)
class Thread:
    """A chat account, its conversation, and the candidate it is bound to (if any)."""

    identity: ChatIdentity
    conversation: Conversation
    candidate: Candidate | None


def _is_identity(channel: Channel, external_user_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions for one chat account: it is unique per channel."""
    return (
        ChatIdentity.channel == channel,
        ChatIdentity.external_user_id == external_user_id,
    )


def _thread_query(
    channel: Channel, external_user_id: str
) -> Select[ChatIdentity, Conversation, Candidate]:
    return (
        select(ChatIdentity, Conversation, Candidate)
        .outerjoin(Conversation, Conversation.chat_identity_id == ChatIdentity.id)
        .outerjoin(Candidate, Candidate.id == ChatIdentity.candidate_id)
        .where(*_is_identity(channel, external_user_id))
    )


async def find_thread(
    session: AsyncSession, channel: Channel, external_user_id: str
) -> Thread | None:
    """The account's thread if it has written before; nothing is created."""
    row = (await session.execute(_thread_query(channel, external_user_id))).one_or_none()
    if row is None or row[1] is None:
        return None
    identity, conversation, candidate = row
    return Thread(identity, conversation, candidate if identity.bound_at is not None else None)


async def open_thread(session: AsyncSession, channel: Channel, external_user_id: str) -> Thread:
    """The account's thread, its identity and conversation created on first contact."""
    row = (await session.execute(_thread_query(channel, external_user_id))).one_or_none()
    if row is None:
        identity = await _create_identity(session, channel, external_user_id)
        conversation, candidate = None, None
    else:
        identity, conversation, candidate = row
    if conversation is None:
        conversation = await _create_conversation(session, identity)
    if identity.bound_at is None:
        candidate = None
    return Thread(identity, conversation, candidate)


async def _create_identity(
    session: AsyncSession, channel: Channel, external_user_id: str
) -> ChatIdentity:
    try:
        # A SAVEPOINT: two first messages racing each other both try; the loser reads.
        async with session.begin_nested():
            identity = ChatIdentity(channel=channel, external_user_id=external_user_id)
            session.add(identity)
        return identity
    except IntegrityError:
        found = await session.scalar(
            select(ChatIdentity).where(*_is_identity(channel, external_user_id))
        )
        assert found is not None
        return found


async def _create_conversation(session: AsyncSession, identity: ChatIdentity) -> Conversation:
    try:
        async with session.begin_nested():
            conversation = Conversation(
                chat_identity_id=identity.id,
                channel=identity.channel,
                candidate_id=identity.candidate_id,
            )
            session.add(conversation)
        return conversation
    except IntegrityError:
        found = await session.scalar(
            select(Conversation).where(Conversation.chat_identity_id == identity.id)
        )
        assert found is not None
        return found


async def record_inbound(
    session: AsyncSession,
    conversation: Conversation,
    *,
    text: str | None,
    event: str | None,
    payload: dict[str, Any] | None,
    provider_message_id: str | None,
    at: datetime,
) -> int | None:
    """Record what the candidate sent and return its id; None when this provider message was
    recorded before (a provider's retry that got past the adapter's Redis de-duplication)."""
    return await _insert_once(
        session,
        conversation,
        Direction.INBOUND,
        provider_message_id,
        at=at,
        text=text,
        event=event,
        payload=payload,
    )


async def record_delivery(
    session: AsyncSession,
    conversation: Conversation,
    *,
    text: str,
    author: str,
    provider_message_id: str,
    at: datetime,
) -> int:
    """An outbound message pushed by a channel sender (a result), once per provider id;
    returns its id, the existing one for a redelivery."""
    inserted = await _insert_once(
        session,
        conversation,
        Direction.OUTBOUND,
        provider_message_id,
        at=at,
        text=text,
        author=author,
    )
    if inserted is not None:
        return inserted
    existing = await session.scalar(
        _provider_message_id(conversation.channel, Direction.OUTBOUND, provider_message_id)
    )
    assert existing is not None
    return int(existing)


async def _insert_once(
    session: AsyncSession,
    conversation: Conversation,
    direction: Direction,
    provider_message_id: str | None,
    *,
    at: datetime,
    **values: Any,
) -> int | None:
    """Insert the message unless the provider's id for it is recorded already (one statement,
    so a concurrent duplicate cannot slip in between a check and the insert; a message without
    one always goes in). Its id, or None for a duplicate, which leaves the conversation's last
    message time alone."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted: int | None = await session.scalar(
        insert(ChatMessage)
        .values(
            conversation_id=conversation.id,
            candidate_id=conversation.candidate_id,
            direction=direction,
            channel=conversation.channel,
            provider_message_id=provider_message_id,
            at=at,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["channel", "direction", "provider_message_id"])
        .returning(ChatMessage.id)
    )
    if inserted is not None:
        conversation.last_message_at = at
    return inserted


def _provider_message_id(
    channel: Channel, direction: Direction, provider_message_id: str
) -> Select[int]:
    """The id of the message the provider knows by `provider_message_id` (unique per channel
    and direction)."""
    return select(ChatMessage.id).where(
        ChatMessage.channel == channel,
        ChatMessage.direction == direction,
        ChatMessage.provider_message_id == provider_message_id,
    )


async def unanswered_inbound(
    session: AsyncSession, channel: Channel, provider_message_id: str
) -> int | None:
    """The id of the recorded inbound message with this provider id if nothing answered it."""
    message_id = await session.scalar(
        _provider_message_id(channel, Direction.INBOUND, provider_message_id)
    )
    if message_id is None:
        return None
    answered = await session.scalar(
        select(ChatMessage.id).where(ChatMessage.reply_to_id == message_id).limit(1)
    )
    return message_id if answered is None else None


def record_outbound(
    session: AsyncSession,
    *,
    conversation_id: int,
    channel: Channel,
    candidate_id: int | None,
    text: str,
    author: str,
    at: datetime,
    reply_to: int | None,
    buttons: Sequence[tuple[str, str]] = (),
    provider_message_id: str | None = None,
) -> ChatMessage:
    message = ChatMessage(
        conversation_id=conversation_id,
        candidate_id=candidate_id,
        direction=Direction.OUTBOUND,
        channel=channel,
        text=text,
        payload={"buttons": [[title, value] for title, value in buttons]} if buttons else None,
        provider_message_id=provider_message_id,
        author=author,
        reply_to_id=reply_to,
        at=at,
    )
    session.add(message)
    return message


async def touch(session: AsyncSession, conversation_id: int, at: datetime) -> None:
    await session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(last_message_at=at)
    )


async def transcript(
    session: AsyncSession, conversation_id: int, *, after_id: int = 0, limit: int = 100
) -> list[ChatMessage]:
    """A conversation's messages in order, optionally only those after `after_id`."""
    rows = await session.scalars(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation_id, ChatMessage.id > after_id)
        .order_by(ChatMessage.id)
        .limit(limit)
    )
    return list(rows.all())


async def conversation_id_of(
    session: AsyncSession, channel: Channel, external_user_id: str
) -> int | None:
    found: int | None = await session.scalar(
        select(Conversation.id)
        .join(ChatIdentity, ChatIdentity.id == Conversation.chat_identity_id)
        .where(*_is_identity(channel, external_user_id))
    )
    return found


async def last_message_id(session: AsyncSession, conversation_id: int | None) -> int:
    if conversation_id is None:
        return 0
    last = await session.scalar(
        select(func.max(ChatMessage.id)).where(ChatMessage.conversation_id == conversation_id)
    )
    return int(last or 0)
