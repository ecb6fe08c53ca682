"""What the console shows of conversations: the handoff queue, recent conversations, one
candidate's transcript across channels, their bound chat accounts, and escalations.

Reads only. Visibility has the chat side's one definition (`candor.chat.teams`): a
conversation is seen by the team of the application it is about and by the team of its open
hand-off's; a candidate's page by a team that sees one of their conversations or has their
latest application; another team's is absent. On a candidate's page a team sees only its
own applications of the candidate: the messages of the conversations it sees, the results
of its own applications, and the codes of its own applications.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from candor.auth.principals import HRPrincipal
from candor.auth.scope import VisibleTeams, scoped, visible_teams
from candor.chat.teams import (
    application_of_conversation,
    can_see_candidate,
    conversation_condition,
    message_condition,
    scoped_conversations,
    team_of_candidate,
    visible_application_ids,
)
from candor.dialogue.hr import (
    Author,
    ConversationOut,
    TranscriptLineOut,
    author_of,
    last_messages,
    open_handoffs,
)
from candor.dialogue.service import active_handoff
from candor.ids import MAX_ROW_ID
from candor.models import (
    Application,
    Candidate,
    ChatIdentity,
    ChatMessage,
    Conversation,
    HRUser,
    IdentityEvent,
    Job,
    OutboxItem,
    OutreachMessage,
    SlaNotification,
    Team,
)
from candor.models.chat import IdentityAction
from candor.models.dialogue import Handoff
from candor.models.enums import Channel, Role
from candor.models.outreach import OutboxState, SlaNotificationKind
from candor.outreach.sla_watch import UNSENT_STATES
from candor.privacy.queries import is_hidden

RECENT_LIMIT = 50
TRANSCRIPT_LIMIT = 500


class LineKind(IntEnum):
    """What a transcript line is; at the same instant a chat message comes first."""

    CHAT = 0  # a chat message (its id is the chat message's)
    RESULT = 1  # a result as delivered on a channel without a transcript (the outbox row's)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(\d{1,19})\.([01])\.(\d{1,19})")


@dataclass(frozen=True, slots=True, order=True)
class LineKey:
    """Where a line sits in a transcript (time, kind, id): the order, and the paging cursor."""

    at: datetime
    kind: LineKind
    id: int

    @property
    def cursor(self) -> str:
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.kind.value}.{self.id}"

    @classmethod
    def parse(cls, cursor: str) -> LineKey | None:
        """The key a `cursor` names; None when it is not one."""
        match = _CURSOR.fullmatch(cursor)
        if match is None or int(match[3]) > MAX_ROW_ID:
            return None
        try:
            at = _EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError:
            return None
        return cls(at, LineKind(int(match[2])), int(match[3]))

    def later(self, at: Any, kind: LineKind, row_id: Any) -> ColumnElement[bool]:
        """The condition that a row of `kind` at `at` with `row_id` comes after this key."""
        if kind > self.kind:
            return at >= self.at  # type: ignore[no-any-return]
        if kind < self.kind:
            return at > self.at  # type: ignore[no-any-return]
        return or_(at > self.at, and_(at == self.at, row_id > self.id))


# Before every line: the API's first page of a transcript starts after it.
TRANSCRIPT_START = LineKey(_EPOCH, LineKind.CHAT, 0)


@dataclass(frozen=True, slots=True)
class Line:
    at: datetime
    channel: Channel
    author: Author
    actor: str | None  # "user:12", "outreach", "engine:embedded", ...
    text: str
    conversation_id: int | None
    key: LineKey


async def visible_candidate(
    session: AsyncSession, principal: HRPrincipal, candidate_id: int
) -> Candidate | None:
    """The candidate if the principal's teams see one of their conversations or have their
    latest application (`candor.chat.teams`); None otherwise."""
    candidate = await session.get(Candidate, candidate_id)
    if candidate is None or await is_hidden(session, candidate_id):
        return None
    if await can_see_candidate(session, visible_teams(principal), candidate_id):
        return candidate
    return None


async def visible_identity(
    session: AsyncSession, principal: HRPrincipal, identity_id: int
) -> ChatIdentity | None:
    """A chat account bound to a candidate the principal sees, locked for the change."""
    identity = await session.get(ChatIdentity, identity_id, with_for_update=True)
    if identity is None or identity.candidate_id is None:
        return None
    if await visible_candidate(session, principal, identity.candidate_id) is None:
        return None
    return identity


@dataclass(frozen=True, slots=True)
class QueueRow:
    conversation_id: int
    channel: Channel
    candidate: Candidate | None
    application_code: str | None  # the application the hand-off is about: the reader's team's
    reason: str
    opened_at: datetime
    last_inbound: str | None


async def handoff_queue(session: AsyncSession, principal: HRPrincipal) -> list[QueueRow]:
    """Conversations waiting for a person, longest waiting first, with what was said last."""
    handoffs = await open_handoffs(session, principal)
    said = await last_messages(
        session, principal, {h.conversation_id for h in handoffs}, inbound_only=True
    )
    rows = []
    for handoff in handoffs:
        conversation = await session.get_one(Conversation, handoff.conversation_id)
        candidate = (
            await session.get(Candidate, handoff.candidate_id)
            if handoff.candidate_id is not None
            else None
        )
        last = said.get(conversation.id)
        rows.append(
            QueueRow(
                conversation.id,
                conversation.channel,
                candidate,
                handoff.application_code,
                handoff.reason,
                handoff.opened_at,
                last.text if last is not None else None,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class RecentRow:
    conversation: Conversation
    candidate: Candidate | None
    with_hr: bool


async def recent_conversations(
    session: AsyncSession, principal: HRPrincipal, *, limit: int = RECENT_LIMIT
) -> list[RecentRow]:
    query = (
        select(Conversation, Candidate)
        .outerjoin(Candidate, Candidate.id == Conversation.candidate_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    query = scoped_conversations(query, visible_teams(principal))
    rows = (await session.execute(query)).all()
    open_ids = set(
        (
            await session.scalars(
                select(Handoff.conversation_id).where(
                    Handoff.closed_at.is_(None),
                    Handoff.conversation_id.in_([c.id for c, _ in rows]),
                )
            )
        ).all()
    )
    return [RecentRow(c, candidate, c.id in open_ids) for c, candidate in rows]


async def candidates_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Candidate]:
    """The candidates a page's rows are about, in one query; the rows were scoped already."""
    if not ids:
        return {}
    found = await session.scalars(select(Candidate).where(Candidate.id.in_(ids)))
    return {candidate.id: candidate for candidate in found}


async def conversation_candidate(
    session: AsyncSession, conversation: Conversation
) -> Candidate | None:
    """The candidate of a conversation already shown to the principal; None when unbound."""
    if conversation.candidate_id is None:
        return None
    return await session.get(Candidate, conversation.candidate_id)


async def candidate_conversations(session: AsyncSession, candidate_id: int) -> list[Conversation]:
    """The candidate's conversations now (one per bound chat account), latest first."""
    rows = await session.scalars(
        select(Conversation)
        .where(Conversation.candidate_id == candidate_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    )
    return list(rows.all())


async def transcript(
    session: AsyncSession,
    visible: VisibleTeams,
    *,
    candidate_id: int | None,
    conversation_id: int | None = None,
    limit: int = TRANSCRIPT_LIMIT,
    after: LineKey | None = None,
) -> list[Line]:
    """Every message the candidate wrote or received, on every channel, in time order: chat
    messages recorded while the account was theirs, and their result messages as delivered
    on channels that do not keep a transcript (e-mail, WeChat, Telegram; the web chat's
    deliveries are chat messages already). Without a candidate (an account nobody is bound
    to), the one conversation's messages. Only what `visible` may see: of the conversations
    it sees, the messages about no application or one of its teams' (`message_condition`),
    and the results of its teams' applications, never another team's.

    Without `after`, the latest `limit` lines (the console's page); with it, the first
    `limit` lines after that key (the API's pages, from `TRANSCRIPT_START` on)."""
    forward = after is not None
    messages = await _visible_chat_messages(
        session, visible, candidate_id=candidate_id, conversation_id=conversation_id
    )
    readable = message_condition(visible)
    if readable is not None:
        # Another team's application's messages are left out before the limit, in SQL.
        messages = messages.where(readable)
    if after is not None:
        messages = messages.where(after.later(ChatMessage.at, LineKind.CHAT, ChatMessage.id))
    in_order = (ChatMessage.at, ChatMessage.id) if forward else (ChatMessage.id.desc(),)
    chat_rows = (await session.scalars(messages.order_by(*in_order).limit(limit))).all()
    lines = [
        Line(
            at=row.at,
            channel=row.channel,
            author=author_of(row.direction, row.author),
            actor=row.author,
            text=row.text if row.text is not None else f"[{row.event or 'event'}]",
            conversation_id=row.conversation_id,
            key=LineKey(row.at, LineKind.CHAT, row.id),
        )
        for row in chat_rows
    ]
    if candidate_id is not None:
        sent = (
            select(OutboxItem, OutreachMessage)
            .join(OutreachMessage, OutreachMessage.id == OutboxItem.message_id)
            .join(Application, Application.id == OutreachMessage.application_id)
            .join(Job, Job.id == Application.job_id)
            .where(
                Application.candidate_id == candidate_id,
                OutboxItem.state == OutboxState.SENT,
                OutboxItem.channel != Channel.WEB,
                OutboxItem.sent_at.is_not(None),
            )
            .limit(limit)
        )
        if after is not None:
            sent = sent.where(after.later(OutboxItem.sent_at, LineKind.RESULT, OutboxItem.id))
        sent = sent.order_by(
            *((OutboxItem.sent_at, OutboxItem.id) if forward else (OutboxItem.sent_at.desc(),))
        )
        results = await session.execute(scoped(sent, Job.team_id, visible))
        for item, message in results.all():
            assert item.sent_at is not None
            text = (
                f"{message.subject}\n\n{message.body}"
                if item.channel is Channel.EMAIL
                else (message.body)
            )
            key = LineKey(item.sent_at, LineKind.RESULT, item.id)
            lines.append(
                Line(item.sent_at, item.channel, Author.RESULT, "outreach", text, None, key)
            )
    lines.sort(key=lambda line: line.key)
    return lines[:limit] if forward else lines[-limit:]


async def _visible_chat_messages(
    session: AsyncSession,
    visible: VisibleTeams,
    *,
    candidate_id: int | None,
    conversation_id: int | None,
) -> Select[ChatMessage]:
    """The chat messages of the transcript's conversations that `visible` sees, whatever
    application each is about."""
    messages = select(ChatMessage).join(
        Conversation, Conversation.id == ChatMessage.conversation_id
    )
    if candidate_id is not None:
        messages = messages.where(ChatMessage.candidate_id == candidate_id)
    else:
        messages = messages.where(ChatMessage.conversation_id == conversation_id)
    seen = conversation_condition(visible)
    if seen is not None:
        if candidate_id is not None and visible.can_see(
            await team_of_candidate(session, candidate_id)
        ):
            # What they said on an account that is no longer theirs has no application any
            # more: it stays with the team of their latest application, as it always did.
            seen = or_(
                seen,
                Conversation.candidate_id.is_(None),
                Conversation.candidate_id != candidate_id,
            )
        messages = messages.where(seen)
    return messages


async def hidden_message_count(
    session: AsyncSession,
    visible: VisibleTeams,
    *,
    candidate_id: int | None,
    conversation_id: int | None = None,
) -> int:
    """How many messages of the transcript `visible` sees the conversation of but may not
    read: those about another team's application. The page says so."""
    readable = message_condition(visible)
    if readable is None:
        return 0
    messages = await _visible_chat_messages(
        session, visible, candidate_id=candidate_id, conversation_id=conversation_id
    )
    hidden = messages.where(not_(readable)).with_only_columns(func.count(ChatMessage.id))
    return int(await session.scalar(hidden) or 0)


async def actor_names(session: AsyncSession, lines: list[Line]) -> dict[str, str]:
    """HR users' names for the transcript's "user:<id>" authors."""
    ids = {
        int(line.actor.removeprefix("user:"))
        for line in lines
        if line.actor is not None
        and line.actor.startswith("user:")
        and line.actor.removeprefix("user:").isdigit()
    }
    if not ids:
        return {}
    rows = await session.execute(select(HRUser.id, HRUser.display_name).where(HRUser.id.in_(ids)))
    return {f"user:{user_id}": name for user_id, name in rows.all()}


@dataclass(frozen=True, slots=True)
class BoundAccount:
    identity: ChatIdentity
    conversation_id: int | None  # None when the reader does not see the conversation
    # The application the account was bound through, if known and the reader's team's.
    application_code: str | None
    # The application the conversation is about now, if it is the reader's team's.
    about: Application | None


async def bound_accounts(
    session: AsyncSession, visible: VisibleTeams, candidate_id: int
) -> list[BoundAccount]:
    """The candidate's bound chat accounts, each with its conversation if `visible` sees it
    and with only the applications of `visible`'s teams."""
    own = await visible_application_ids(session, visible, candidate_id)
    identities = (
        await session.scalars(
            select(ChatIdentity)
            .where(ChatIdentity.candidate_id == candidate_id, ChatIdentity.bound_at.is_not(None))
            .order_by(ChatIdentity.channel, ChatIdentity.id)
        )
    ).all()
    accounts = []
    for identity in identities:
        conversation_id = await session.scalar(
            scoped_conversations(
                select(Conversation.id).where(Conversation.chat_identity_id == identity.id),
                visible,
            )
        )
        bound_through = (
            await session.execute(
                select(Application.id, Application.code)
                .join(IdentityEvent, IdentityEvent.application_id == Application.id)
                .where(
                    IdentityEvent.chat_identity_id == identity.id,
                    IdentityEvent.action.in_([IdentityAction.BOUND, IdentityAction.REBOUND]),
                )
                .order_by(IdentityEvent.id.desc())
                .limit(1)
            )
        ).first()
        code = bound_through.code if bound_through is not None and bound_through.id in own else None
        about = None
        if conversation_id is not None:
            about_id = await application_of_conversation(session, conversation_id)
            if about_id is not None and about_id in own:
                about = await session.get(Application, about_id)
        accounts.append(BoundAccount(identity, conversation_id, code, about))
    return accounts


async def candidate_conversations_out(
    session: AsyncSession, principal: HRPrincipal, candidate_id: int
) -> list[ConversationOut]:
    """The candidate's conversations that the principal sees, latest first, each with the
    application it concerns when that is one of the principal's teams'."""
    visible = visible_teams(principal)
    own = await visible_application_ids(session, visible, candidate_id)
    query = scoped_conversations(
        select(Conversation)
        .where(Conversation.candidate_id == candidate_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()),
        visible,
    )
    conversations = list((await session.scalars(query)).all())
    with_hr = await open_handoff_ids(session, [c.id for c in conversations])
    found = []
    for conversation in conversations:
        about_id = await application_of_conversation(session, conversation.id)
        code = None
        if about_id is not None and about_id in own:
            code = await session.scalar(select(Application.code).where(Application.id == about_id))
        found.append(
            ConversationOut(
                id=conversation.id,
                channel=conversation.channel,
                candidate_id=conversation.candidate_id,
                application_code=code,
                last_message_at=conversation.last_message_at,
                with_hr=conversation.id in with_hr,
            )
        )
    return found


def line_out(line: Line) -> TranscriptLineOut:
    return TranscriptLineOut(
        cursor=line.key.cursor,
        at=line.at,
        channel=line.channel,
        author=line.author,
        actor=line.actor,
        text=line.text,
        conversation_id=line.conversation_id,
    )


@dataclass(frozen=True, slots=True)
class AccountEvent:
    event: IdentityEvent
    channel: Channel
    application_code: str | None


async def account_history(
    session: AsyncSession, visible: VisibleTeams, candidate_id: int, *, limit: int = 50
) -> list[AccountEvent]:
    """The binding history of the candidate's chat accounts, newest first: bound, rebound,
    unbound (by the candidate or HR), replaced, opt-outs and preferences; an application's
    code only when it is one of `visible`'s teams'."""
    own = await visible_application_ids(session, visible, candidate_id)
    rows = await session.execute(
        select(IdentityEvent, ChatIdentity.channel, Application.code)
        .join(ChatIdentity, ChatIdentity.id == IdentityEvent.chat_identity_id)
        .outerjoin(Application, Application.id == IdentityEvent.application_id)
        .where(
            (IdentityEvent.candidate_id == candidate_id)
            | (IdentityEvent.previous_candidate_id == candidate_id)
        )
        .order_by(IdentityEvent.id.desc())
        .limit(limit)
    )
    return [
        AccountEvent(event, channel, code if event.application_id in own else None)
        for event, channel, code in rows.all()
    ]


async def open_handoff_ids(session: AsyncSession, conversation_ids: list[int]) -> set[int]:
    found = set()
    for conversation_id in conversation_ids:
        if await active_handoff(session, conversation_id) is not None:
            found.add(conversation_id)
    return found


# -- escalations (team leads and admins) ----------------------------------------------------


def sees_escalations(principal: HRPrincipal) -> bool:
    return principal.role in (Role.TEAM_LEAD, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Escalation:
    message: OutreachMessage
    team_name: str
    kinds: list[SlaNotificationKind]
    first_at: datetime


async def escalations(session: AsyncSession, principal: HRPrincipal) -> list[Escalation]:
    """Results of the principal's teams that sla_watch escalated or found breached and that
    the candidate has still not received, earliest deadline first."""
    query = (
        select(SlaNotification, Team.name)
        .join(OutreachMessage, OutreachMessage.id == SlaNotification.message_id)
        .join(Application, Application.id == OutreachMessage.application_id)
        .join(Job, Job.id == Application.job_id)
        .join(Team, Team.id == Job.team_id)
        .where(
            SlaNotification.kind.in_([SlaNotificationKind.ESCALATE, SlaNotificationKind.BREACH]),
            OutreachMessage.state.in_(UNSENT_STATES),
        )
        .options(
            joinedload(SlaNotification.message)
            .joinedload(OutreachMessage.application)
            .options(joinedload(Application.candidate), joinedload(Application.job))
        )
        .order_by(SlaNotification.created_at)
    )
    query = scoped(query, Job.team_id, visible_teams(principal))
    grouped: dict[int, Escalation] = {}
    for notification, team_name in (await session.execute(query)).unique().all():
        found = grouped.get(notification.message_id)
        if found is None:
            grouped[notification.message_id] = Escalation(
                notification.message, team_name, [notification.kind], notification.created_at
            )
        elif notification.kind not in found.kinds:
            found.kinds.append(notification.kind)
    return sorted(
        grouped.values(),
        key=lambda e: (e.message.due_at or e.first_at, e.message.id),
    )
