"""Factory functions for test data. Each takes a session, flushes, and returns the row."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.tokens import Scope, issue_token
from candor.models import HRUser, Team, TeamMembership
from candor.models.enums import Role

_counter = itertools.count(1)


async def make_team(
    session: AsyncSession, *, external_id: str | None = None, name: str = "招聘一组"
) -> Team:
    team = Team(external_id=external_id or f"team-{next(_counter)}", name=name)
    session.add(team)
    await session.flush()
    return team


async def make_hr_user(
    session: AsyncSession,
    *,
    team: Team | None = None,
    role: Role = Role.RECRUITER,
    email: str | None = None,
    locale: str | None = "en",
) -> HRUser:
    """An HR user. The console speaks zh_CN to users without a language (locale None);
    factory users chose English, so tests asserting the console's English text read it.
    tests/api/console/test_i18n.py passes `locale=None` for the Chinese default."""
    user = HRUser(
        email=email or f"hr{next(_counter)}@example.com",
        display_name="王招聘",
        role=role,
        password_hash=None,
        locale=locale,
    )
    session.add(user)
    await session.flush()
    if team is not None:
        session.add(TeamMembership(team_id=team.id, user_id=user.id))
        await session.flush()
    return user


async def make_ats_token(session: AsyncSession, *, scopes: list[str] | None = None) -> str:
    issued = await issue_token(
        session, name="test-ats", scopes=[Scope.ATS_WRITE] if scopes is None else scopes
    )
    return issued.plaintext


def at(text: str) -> datetime:
    """A UTC datetime from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def application_created(
    *,
    event_id: str,
    application: str = "ext-app-1",
    candidate: str = "ext-cand-1",
    job: str = "ext-job-1",
    team: str = "team-a",
    applied_at: str = "2026-03-02T10:00:00+08:00",
    **candidate_fields: Any,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "application_created",
        "data": {
            "application_external_id": application,
            "applied_at": applied_at,
            "candidate": {
                "external_id": candidate,
                "name": "李雷",
                "mobile": "13800138000",
                "email": "lilei@example.com",
                "preferred_channels": ["wechat", "email"],
                **candidate_fields,
            },
            "job": {"external_id": job, "title": "后端工程师", "team_external_id": team},
        },
    }


async def make_hr_token(session: AsyncSession, user: HRUser) -> str:
    issued = await issue_token(session, name=f"hr-{user.id}", scopes=[Scope.HR], hr_user_id=user.id)
    return issued.plaintext
