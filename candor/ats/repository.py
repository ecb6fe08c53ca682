"""Queries over the ATS tables. Repositories flush when they must but never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.models import Application, Candidate, HRUser, Interview, Job, Team


async def team_by_external_id(session: AsyncSession, external_id: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.external_id == external_id))


async def job_by_external_id(session: AsyncSession, external_id: str) -> Job | None:
    return await session.scalar(select(Job).where(Job.external_id == external_id))


async def candidate_by_external_id(session: AsyncSession, external_id: str) -> Candidate | None:
    return await session.scalar(select(Candidate).where(Candidate.external_id == external_id))


async def hr_user_by_email(session: AsyncSession, email: str) -> HRUser | None:
    return await session.scalar(select(HRUser).where(HRUser.email == email.lower()))


async def application_by_external_id(
    session: AsyncSession, external_id: str, *, for_update: bool = False
) -> Application | None:
    query = select(Application).where(Application.external_id == external_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def application_by_code(session: AsyncSession, code: str) -> Application | None:
    return await session.scalar(select(Application).where(Application.code == code))


async def interview_by_external_id(session: AsyncSession, external_id: str) -> Interview | None:
    return await session.scalar(select(Interview).where(Interview.external_id == external_id))


async def latest_completed_interview(
    session: AsyncSession, application_id: int
) -> Interview | None:
    return await session.scalar(
        select(Interview)
        .where(Interview.application_id == application_id, Interview.completed_at.is_not(None))
        .order_by(Interview.completed_at.desc(), Interview.id.desc())
        .limit(1)
    )
