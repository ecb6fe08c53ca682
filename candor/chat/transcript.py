"""Chat identities, their conversations and the transcript.

Everything here runs in the caller's transaction and only flushes. A message costs few
round trips: the identity, its conversation and its candidate come in one query, and the
inbound row is one `INSERT ... ON CONFLICT DO NOTHING RETURNING`; on PostgreSQL both, with
the conversation's last message time, are one statement (`open_thread_with_inbound`). The
statements every message runs are built once, with bind parameters: building and hashing a
statement per call cost about as much CPU as executing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from candor.chat.teams import conversation_application
from candor.crypto.fields import current_keyring
from candor.crypto.lookups import chat_id_index, has_chat_id, stored
from candor.models import Candidate, ChatIdentity, ChatMessage, Conversation
from candor.models.chat import Direction
from candor.models.enums import Channel
from candor.privacy.links import mask_export_links

# The tables, for the per-message statements: Core statements skip the ORM's bookkeeping.
_MESSAGES: Table = ChatMessage.__table__  # type: ignore[assignment]
_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]


def _concerned_by(conversation_id: Any) -> Any:
    """The application the conversation concerns now, as a scalar subquery: what a message
    written now is tagged with, in the statement that writes it (no extra round trip)."""
    return (
        select(conversation_application())
        .where(Conversation.id == conversation_id)
        .scalar_subquery()
    )


# Every message-writing statement below binds `p_conversation_id`.
_CONCERNED = _concerned_by(bindparam("p_conversation_id"))


@dataclass(frozen=True, slots=True)
class Thread:
    """A chat account, its conversation, and the candidate it is bound to (if any)."""

    identity: ChatIdentity
    conversation: Conversation
    candidate: Candidate | None


def _is_identity(channel: Channel, external_user_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions for one chat account: it is unique per channel."""
    return has_chat_id(channel, external_user_id)


def _is_account(prefix: str) -> tuple[ColumnElement[bool], ...]:
    """`has_chat_id` with bind parameters, for the statements built once: the account's
    blind index, or its stored value while it is legacy plaintext (index NULL)."""
    return (
        ChatIdentity.channel == bindparam(f"{prefix}channel"),
        or_(
            ChatIdentity.external_user_id_index == bindparam(f"{prefix}chat_id_index"),
            and_(
                ChatIdentity.external_user_id_index.is_(None),
                stored(ChatIdentity.external_user_id.expression)
                == bindparam(f"{prefix}external_user_id", type_=Text()),
            ),
        ),
    )


def _account(prefix: str, channel: Channel, external_user_id: str) -> dict[str, Any]:
    # With plaintext lookups off the legacy branch compares with NULL (never true), and the
    # chat id is not sent to the database at all.
    legacy = external_user_id if current_keyring().plaintext_lookups else None
    return {
        f"{prefix}channel": channel,
        f"{prefix}chat_id_index": chat_id_index(external_user_id),
        f"{prefix}external_user_id": legacy,
    }


_THREAD: Select[ChatIdentity, Conversation, Candidate] = (
    select(ChatIdentity, Conversation, Candidate)
    .outerjoin(Conversation, Conversation.chat_identity_id == ChatIdentity.id)
    .outerjoin(Candidate, Candidate.id == ChatIdentity.candidate_id)
    .where(*_is_account(""))
)


async def _thread_row(
    session: AsyncSession, channel: Channel, external_user_id: str
) -> tuple[ChatIdentity, Conversation | None, Candidate | None] | None:
    result = await session.execute(_THREAD, _account("", channel, external_user_id))
    row = result.one_or_none()
    return None if row is None else (row[0], row[1], row[2])


async def find_thread(
    session: AsyncSession, channel: Channel, external_user_id: str
) -> Thread | None:
    """The account's thread if it has written before; nothing is created."""
    row = await _thread_row(session, channel, external_user_id)
    if row is None:
        return None
    identity, conversation, candidate = row
    if conversation is None:
        return None
    return Thread(identity, conversation, candidate if identity.bound_at is not None else None)


async def open_thread(session: AsyncSession, channel: Channel, external_user_id: str) -> Thread:
    """The account's thread, its identity and conversation created on first contact."""
    row = await _thread_row(session, channel, external_user_id)
    return await _opened(session, channel, external_user_id, row)


async def _opened(
    session: AsyncSession,
    channel: Channel,
    external_user_id: str,
    row: tuple[ChatIdentity, Conversation | None, Candidate | None] | None,
) -> Thread:
    """The thread from its row (None: no identity yet), creating what is missing."""
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


async def open_thread_with_inbound(
    session: AsyncSession,
    channel: Channel,
    external_user_id: str,
    *,
    text: str | None,
    event: str | None,
    payload: dict[str, Any] | None,
    provider_message_id: str | None,
    at: datetime,
) -> tuple[Thread, int | None]:
    """`open_thread`, then `record_inbound` in its conversation. On PostgreSQL, for an
    account that has a conversation (every message but the first), both are one statement:
    the thread is read, the message inserted and the conversation's last message time moved
    in one round trip."""
    if session.get_bind().dialect.name == "postgresql":
        params = {
            **_account("p_", channel, external_user_id),
            "p_direction": Direction.INBOUND,
            "p_text": _storable(text),
            "p_event": event,
            "p_payload": payload,
            "p_provider_message_id": provider_message_id,
            "p_at": at,
        }
        row = (await session.execute(_THREAD_WITH_INBOUND, params)).one_or_none()
        identity, conversation, candidate, added = row if row is not None else (None,) * 4
        if identity is not None and conversation is not None:
            if added is not None:
                # The statement read the row before moving it: tell the loaded object.
                set_committed_value(conversation, "last_message_at", at)
            bound = candidate if identity.bound_at is not None else None
            return Thread(identity, conversation, bound), added
        # A first message: what the statement read is reused, the rest is created.
        read = None if identity is None else (identity, conversation, candidate)
        thread = await _opened(session, channel, external_user_id, read)
    else:
        thread = await open_thread(session, channel, external_user_id)
    inserted = await record_inbound(
        session,
        thread.conversation,
        text=text,
        event=event,
        payload=payload,
        provider_message_id=provider_message_id,
        at=at,
    )
    return thread, inserted


def _thread_with_inbound() -> Select[ChatIdentity, Conversation | None, Candidate | None, int]:
    """PostgreSQL: the thread's row, with the id of the inbound message it inserted (None
    for a duplicate or when the account has no conversation yet)."""
    is_account = _is_account("p_")
    conversation = (
        select(_CONVERSATIONS.c.id, _CONVERSATIONS.c.candidate_id, _CONVERSATIONS.c.channel)
        .join(ChatIdentity, ChatIdentity.id == _CONVERSATIONS.c.chat_identity_id)
        .where(*is_account)
        .cte("conversation")
    )
    columns = ("direction", "text", "event", "payload", "provider_message_id", "at")
    typed = {name: bindparam(f"p_{name}", type_=_MESSAGES.c[name].type) for name in columns}
    added = (
        pg_insert(_MESSAGES)
        .from_select(
            ["conversation_id", "candidate_id", "channel", "application_id", *columns],
            select(
                conversation.c.id,
                conversation.c.candidate_id,
                conversation.c.channel,
                _concerned_by(conversation.c.id),
                *typed.values(),
            ),
        )
        .on_conflict_do_nothing(index_elements=["channel", "direction", "provider_message_id"])
        .returning(_MESSAGES.c.id, _MESSAGES.c.conversation_id)
        .cte("added")
    )
    moved = (
        update(_CONVERSATIONS)
        .where(_CONVERSATIONS.c.id == added.c.conversation_id)
        .values(last_message_at=bindparam("p_at"))
        .cte("moved")
    )
    return (
        select(ChatIdentity, Conversation, Candidate, added.c.id)
        .outerjoin(Conversation, Conversation.chat_identity_id == ChatIdentity.id)
        .outerjoin(Candidate, Candidate.id == ChatIdentity.candidate_id)
        .outerjoin(added, true())
        .where(*is_account)
        .add_cte(moved)
    )


_THREAD_WITH_INBOUND = _thread_with_inbound()


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


def _storable(text: str | None) -> str | None:
    """A candidate's text as it can be stored: PostgreSQL's text cannot hold a NUL."""
    return text.replace("\x00", "") if text else text


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
        text=_storable(text),
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
    buttons: Sequence[tuple[str, str]] = (),
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
        payload={"buttons": [[title, value] for title, value in buttons]} if buttons else None,
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
    one always goes in), and move the conversation's last message time to it. Its id, or None
    for a duplicate, which leaves the conversation's last message time alone.

    On PostgreSQL the insert and the conversation's update are one statement (a
    data-modifying CTE): one round trip for what is two on SQLite."""
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _insert_once_statement(postgres, tuple(sorted(values)))
    params = {
        "p_conversation_id": conversation.id,
        "p_candidate_id": conversation.candidate_id,
        "p_direction": direction,
        "p_channel": conversation.channel,
        "p_provider_message_id": provider_message_id,
        "p_at": at,
        **{f"p_{name}": value for name, value in values.items()},
    }
    inserted: int | None = await session.scalar(statement, params)
    if inserted is not None:
        if not postgres:
            await session.execute(_TOUCH, {"p_conversation_id": conversation.id, "p_at": at})
        # Written above: the loaded object learns the value without a flush writing it again.
        set_committed_value(conversation, "last_message_at", at)
    return inserted


_INSERT_ONCE: dict[tuple[bool, tuple[str, ...]], Insert | Update] = {}
_TOUCH: Update = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("p_conversation_id"))
    .values(last_message_at=bindparam("p_at"))
)


def _insert_once_statement(postgres: bool, extra: tuple[str, ...]) -> Insert | Update:
    """`_insert_once`'s statement for one database and set of columns, built once."""
    statement = _INSERT_ONCE.get((postgres, extra))
    if statement is not None:
        return statement
    columns: tuple[str, ...] = ("conversation_id", "candidate_id", "direction", "channel")
    columns += ("provider_message_id", "at", *extra)
    new_message = (
        (pg_insert if postgres else sqlite_insert)(_MESSAGES)
        .values(
            {**{name: bindparam(f"p_{name}") for name in columns}, "application_id": _CONCERNED}
        )
        .on_conflict_do_nothing(index_elements=["channel", "direction", "provider_message_id"])
    )
    if postgres:
        added = new_message.returning(_MESSAGES.c.id, _MESSAGES.c.conversation_id).cte("added")
        statement = (
            update(_CONVERSATIONS)
            .where(_CONVERSATIONS.c.id == added.c.conversation_id)
            .values(last_message_at=bindparam("p_at"))
            .returning(added.c.id)
        )
    else:
        statement = new_message.returning(_MESSAGES.c.id)
    _INSERT_ONCE[(postgres, extra)] = statement
    return statement


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
        text=mask_export_links(text),
        payload={"buttons": [[title, value] for title, value in buttons]} if buttons else None,
        provider_message_id=provider_message_id,
        author=author,
        reply_to_id=reply_to,
        application_id=_concerned_by(conversation_id),
        at=at,
    )
    session.add(message)
    return message


async def record_replies(
    session: AsyncSession,
    *,
    conversation_id: int,
    channel: Channel,
    candidate_id: int | None,
    replies: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    author: str,
    at: datetime,
    reply_to: int | None,
) -> None:
    """Outbound messages (text, buttons) answering `reply_to`, and the conversation's last
    message time moved to `at`: the rows of `record_outbound` and `touch`, without the ORM.
    A single reply on PostgreSQL is one statement (a data-modifying CTE).

    The replies and the message they answer are tagged with the application the
    conversation concerns now, after the turn's actions: the one the dialogue settled the
    candidate was asking about, so a question goes with its answer to that team."""
    if not replies:
        return
    rows = [
        {
            "conversation_id": conversation_id,
            "candidate_id": candidate_id,
            "direction": Direction.OUTBOUND,
            "channel": channel,
            "text": mask_export_links(text),  # a data-export link's token is never stored
            "payload": {"buttons": [[title, value] for title, value in buttons]}
            if buttons
            else None,
            "author": author,
            "reply_to_id": reply_to,
            "at": at,
        }
        for text, buttons in replies
    ]
    touched = {"p_conversation_id": conversation_id, "p_at": at}
    if len(rows) == 1 and session.get_bind().dialect.name == "postgresql":
        only = {f"p_{key}": value for key, value in rows[0].items()}
        statement = _REPLY_AND_TOUCH if reply_to is not None else _LONE_REPLY_AND_TOUCH
        await session.execute(statement, {**only, **touched})
        return
    await session.execute(_INSERT_MESSAGES, [{f"p_{k}": v for k, v in row.items()} for row in rows])
    if reply_to is not None:
        await session.execute(_TAG_QUESTION, {"p_reply_to_id": reply_to, **touched})
    await session.execute(_TOUCH, touched)


_REPLY_COLUMNS = (
    *("conversation_id", "candidate_id", "direction", "channel", "text", "payload"),
    *("author", "reply_to_id", "at"),
)
_INSERT_MESSAGES = insert(_MESSAGES).values(
    {**{name: bindparam(f"p_{name}") for name in _REPLY_COLUMNS}, "application_id": _CONCERNED}
)
# The question a turn answered goes with its answer: tagged like the replies.
_TAG_QUESTION = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("p_reply_to_id"))
    .values(application_id=_CONCERNED)
)
# One reply (and its question's tag) and the conversation's last message time in one
# statement (PostgreSQL). Several replies go in as one executemany: a multi-row VALUES
# statement cannot be cached, and compiling it costs more than the round trip it saves.
_LONE_REPLY_AND_TOUCH = _TOUCH.add_cte(_INSERT_MESSAGES.cte("reply"))
_REPLY_AND_TOUCH = _LONE_REPLY_AND_TOUCH.add_cte(_TAG_QUESTION.cte("question"))


async def touch(session: AsyncSession, conversation_id: int, at: datetime) -> None:
    await session.execute(_TOUCH, {"p_conversation_id": conversation_id, "p_at": at})


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
