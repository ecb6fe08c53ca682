"""Which team a chat belongs to: the one definition every team-scoped read and audit uses.

A conversation (and its candidate) belongs to the team of the candidate's latest application's
job: latest by `applied_at`, then by id. A conversation of no candidate, or of a candidate
with no application, belongs to no team, which only an admin sees.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from candor.models import Application, Conversation, Job


def _latest_team(candidate_id: Any) -> Select[Any]:
    return (
        select(Job.team_id)
        .join(Application, Application.job_id == Job.id)
        .where(Application.candidate_id == candidate_id)
        .order_by(Application.applied_at.desc(), Application.id.desc())
        .limit(1)
    )


def conversation_application() -> ScalarSelect[int]:
    """The id of the application that decides the conversation's team (its candidate's
    latest), correlated to `Conversation`: the KPIs count a conversation for that
    application's job, and so for its team and recruiter."""
    latest = aliased(Application)
    return (
        select(latest.id)
        .where(latest.candidate_id == Conversation.candidate_id)
        .order_by(latest.applied_at.desc(), latest.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )


def conversation_team() -> ScalarSelect[int]:
    """The conversation's team as a SQL expression, correlated to `Conversation`, for
    `candor.auth.scope.scoped`."""
    return _latest_team(Conversation.candidate_id).scalar_subquery()


async def team_of_candidate(session: AsyncSession, candidate_id: int | None) -> int | None:
    if candidate_id is None:
        return None
    found: int | None = await session.scalar(_latest_team(candidate_id))
    return found


async def team_of_conversation(session: AsyncSession, conversation: Conversation) -> int | None:
    """The team whose HR may read and answer this conversation."""
    return await team_of_candidate(session, conversation.candidate_id)


async def team_of_application(session: AsyncSession, application_id: int) -> int:
    """The team of one application's job: what an action about that application is audited
    under (a conversation, which outlives applications, follows the latest one instead)."""
    result = await session.execute(
        select(Job.team_id)
        .join(Application, Application.job_id == Job.id)
        .where(Application.id == application_id)
    )
    return result.scalar_one()
