"""Which team a chat belongs to: the one definition every team-scoped read and audit uses.

A candidate may have applications in several teams while writing in one conversation per
chat account, so a conversation is routed by the application it concerns, never simply by
the candidate:

- A conversation concerns one application at a time: the one recorded for it
  (`ConversationApplication`: the application its account was bound through, or the one the
  dialogue last settled the candidate was asking about), as long as that application is its
  candidate's; otherwise (nothing recorded, or the account was bound to someone else since)
  the candidate's latest application, latest by `applied_at`, then by id.
- A hand-off concerns the application its conversation concerned when it was opened
  (`HandoffApplication`; one without a row follows its conversation). Only the team of that
  application's job sees it in the queue, and answers it.
- A conversation is visible to the team of the application it concerns, and to the team of
  each of its open hand-offs' applications, so the team a hand-off waits for can read and
  answer the conversation until it hands it back. A closed hand-off grants nothing.
- A candidate (the console's page of their transcript and accounts) is visible to a team
  that sees one of their conversations, or to the team of their latest application.
- Whoever sees a conversation or a candidate sees only their own teams' applications of that
  candidate: codes, statuses and results of another team's applications stay hidden, and the
  messages of a conversation they do not see with them.
- Each message records the application the conversation concerned when it was written (a
  turn's question and answers: the one the dialogue settled in that turn). Of a conversation
  they see, a team reads the messages of its own applications and the untagged ones (written
  while it concerned no application, or before messages were tagged), never another team's.
- A conversation of no candidate, or of a candidate with no application, belongs to no team;
  only an admin sees it. Admins see everything.

The KPIs count a conversation for the application it concerns and a hand-off for its own
(`conversation_application`, `handoff_application`); migration 0015 keeps the KPI facts by
the same rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from candor.auth.scope import Query, VisibleTeams, team_condition
from candor.models import (
    Application,
    ChatMessage,
    Conversation,
    ConversationApplication,
    Handoff,
    HandoffApplication,
    Job,
)


def _latest_team(candidate_id: Any) -> Select[Any]:
    job, application = aliased(Job), aliased(Application)
    return (
        select(job.team_id)
        .join(application, application.job_id == job.id)
        .where(application.candidate_id == candidate_id)
        .order_by(application.applied_at.desc(), application.id.desc())
        .limit(1)
    )


def conversation_application() -> ColumnElement[int]:
    """The id of the application the conversation concerns, correlated to `Conversation`:
    the recorded one while it is the candidate's, else the candidate's latest. The KPIs count
    a conversation for that application's job, and so for its team and recruiter."""
    recorded, latest = aliased(Application), aliased(Application)
    chosen = (
        select(recorded.id)
        .join(ConversationApplication, ConversationApplication.application_id == recorded.id)
        .where(
            ConversationApplication.conversation_id == Conversation.id,
            recorded.candidate_id == Conversation.candidate_id,
        )
        .correlate(Conversation)
        .scalar_subquery()
    )
    newest = (
        select(latest.id)
        .where(latest.candidate_id == Conversation.candidate_id)
        .order_by(latest.applied_at.desc(), latest.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    return func.coalesce(chosen, newest)


def handoff_application() -> ColumnElement[int]:
    """The id of the application a hand-off concerns, correlated to `Handoff` and to its
    `Conversation` (the query joins the hand-off's conversation)."""
    recorded = (
        select(HandoffApplication.application_id)
        .where(HandoffApplication.handoff_id == Handoff.id)
        .correlate(Handoff)
        .scalar_subquery()
    )
    return func.coalesce(recorded, conversation_application())


def _team_of(application_id: ColumnElement[int]) -> ScalarSelect[int]:
    job, application = aliased(Job), aliased(Application)
    return (
        select(job.team_id)
        .join(application, application.job_id == job.id)
        .where(application.id == application_id)
        .scalar_subquery()
    )


def conversation_team() -> ScalarSelect[int]:
    """The team of the application the conversation concerns, correlated to `Conversation`."""
    return _team_of(conversation_application())


def handoff_team() -> ScalarSelect[int]:
    """The team that answers a hand-off, correlated to `Handoff` and its `Conversation`."""
    return _team_of(handoff_application())


def conversation_condition(visible: VisibleTeams) -> ColumnElement[bool] | None:
    """That a `Conversation` row is visible: its application's team, or the team of one of
    its open hand-offs' applications. None when every team is."""
    if visible.all_teams:
        return None
    if not visible.team_ids:
        return false()
    current = team_condition(conversation_team(), visible)
    assert current is not None
    job, application = aliased(Job), aliased(Application)
    waiting = exists(
        select(Handoff.id)
        .join(HandoffApplication, HandoffApplication.handoff_id == Handoff.id)
        .join(application, application.id == HandoffApplication.application_id)
        .join(job, job.id == application.job_id)
        .where(
            Handoff.conversation_id == Conversation.id,
            Handoff.closed_at.is_(None),
            job.team_id.in_(sorted(visible.team_ids)),
        )
        .correlate(Conversation)
    )
    return or_(current, waiting)


def message_condition(visible: VisibleTeams) -> ColumnElement[bool] | None:
    """That a `ChatMessage` row may be read by `visible` (whose conversation is already
    visible): untagged, or about one of its teams' applications. None when every team is."""
    if visible.all_teams:
        return None
    ours = select(Application.id).join(Job, Job.id == Application.job_id)
    condition = team_condition(Job.team_id, visible)
    assert condition is not None
    return or_(
        ChatMessage.application_id.is_(None), ChatMessage.application_id.in_(ours.where(condition))
    )


def message_id_condition(message_id: Any, visible: VisibleTeams) -> ColumnElement[bool] | None:
    """That the chat message `message_id` (a column; NULL for none) may be read by `visible`:
    no message, or one `message_condition` admits. None when every team may."""
    readable = message_condition(visible)
    if readable is None:
        return None
    unreadable = exists(select(ChatMessage.id).where(ChatMessage.id == message_id, ~readable))
    return ~unreadable


def scoped_conversations(query: Query, visible: VisibleTeams) -> Query:
    """`query`, which reaches `Conversation`, narrowed to the conversations `visible` sees."""
    condition = conversation_condition(visible)
    return query if condition is None else query.where(condition)


async def can_see_conversation(
    session: AsyncSession, visible: VisibleTeams, conversation_id: int
) -> bool:
    found = await session.scalar(
        scoped_conversations(
            select(Conversation.id).where(Conversation.id == conversation_id), visible
        )
    )
    return found is not None


async def can_see_candidate(
    session: AsyncSession, visible: VisibleTeams, candidate_id: int
) -> bool:
    """Whether a team of `visible` sees one of the candidate's conversations, or has their
    latest application."""
    if visible.can_see(await team_of_candidate(session, candidate_id)):
        return True
    found = await session.scalar(
        scoped_conversations(
            select(Conversation.id).where(Conversation.candidate_id == candidate_id).limit(1),
            visible,
        )
    )
    return found is not None


async def visible_application_ids(
    session: AsyncSession, visible: VisibleTeams, candidate_id: int
) -> set[int]:
    """The candidate's applications in `visible`'s teams: the only ones shown with them."""
    query = (
        select(Application.id)
        .join(Job, Job.id == Application.job_id)
        .where(Application.candidate_id == candidate_id)
    )
    condition = team_condition(Job.team_id, visible)
    if condition is not None:
        query = query.where(condition)
    return set((await session.scalars(query)).all())


async def team_of_candidate(session: AsyncSession, candidate_id: int | None) -> int | None:
    """The team of the candidate's latest application."""
    if candidate_id is None:
        return None
    found: int | None = await session.scalar(_latest_team(candidate_id))
    return found


async def application_of_conversation(session: AsyncSession, conversation_id: int) -> int | None:
    """The id of the application the conversation concerns now (None: no candidate, or one
    without applications)."""
    found: int | None = await session.scalar(
        select(conversation_application()).where(Conversation.id == conversation_id)
    )
    return found


async def team_of_conversation(session: AsyncSession, conversation: Conversation) -> int | None:
    """The team of the application the conversation concerns: what a decision about the
    conversation is audited under."""
    found: int | None = await session.scalar(
        select(conversation_team()).where(Conversation.id == conversation.id)
    )
    return found


async def team_of_handoff(session: AsyncSession, handoff: Handoff) -> int | None:
    """The team that answers the hand-off."""
    found: int | None = await session.scalar(
        select(handoff_team())
        .select_from(Handoff)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.id == handoff.id)
    )
    return found


async def team_of_application(session: AsyncSession, application_id: int) -> int:
    """The team of one application's job: what an action about that application is audited
    under."""
    result = await session.execute(
        select(Job.team_id)
        .join(Application, Application.job_id == Job.id)
        .where(Application.id == application_id)
    )
    return result.scalar_one()


async def concern(
    session: AsyncSession, conversation_id: int, application: Application, *, now: datetime
) -> None:
    """Record that the conversation is about `application` now (the candidate bound through
    it, or the dialogue settled that they mean it): its team sees the conversation from here
    on. Flushes; the caller commits."""
    row = await session.get(ConversationApplication, conversation_id)
    if row is None:
        session.add(
            ConversationApplication(
                conversation_id=conversation_id, application_id=application.id, at=now
            )
        )
    elif row.application_id != application.id:
        row.application_id, row.at = application.id, now
    await session.flush()
