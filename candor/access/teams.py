"""Teams: create and rename. A team's external id is the id the ATS uses for it in its
events (`team_external_id`), so it is fixed once created; the name is free to change."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.access.errors import AccessInputError, AccessNotFoundError, add_unique
from candor.audit.service import Action, record
from candor.logging import get_logger
from candor.models import Team, TeamMembership

log = get_logger(__name__)

MAX_NAME = 200
MAX_EXTERNAL_ID = 64


@dataclass(frozen=True, slots=True)
class TeamRow:
    team: Team
    members: int


def _name(value: str, problems: dict[str, str]) -> str:
    name = value.strip()
    if not name:
        problems["name"] = "enter a name"
    elif len(name) > MAX_NAME:
        problems["name"] = f"use at most {MAX_NAME} characters"
    return name


async def list_teams(session: AsyncSession) -> list[TeamRow]:
    members = (
        select(TeamMembership.team_id, func.count().label("n"))
        .group_by(TeamMembership.team_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(Team, func.coalesce(members.c.n, 0))
            .outerjoin(members, members.c.team_id == Team.id)
            .order_by(Team.name, Team.id)
        )
    ).all()
    return [TeamRow(team=team, members=int(n)) for team, n in rows]


async def create_team(session: AsyncSession, *, actor: str, external_id: str, name: str) -> Team:
    problems: dict[str, str] = {}
    label = _name(name, problems)
    code = external_id.strip()
    if not code:
        problems["external_id"] = "enter the id your ATS uses for this team"
    elif len(code) > MAX_EXTERNAL_ID:  # the ATS events' limit (candor.ats.schemas.ExternalId)
        problems["external_id"] = f"use at most {MAX_EXTERNAL_ID} characters"
    elif await session.scalar(select(Team.id).where(Team.external_id == code)):
        problems["external_id"] = f"a team with external id {code!r} exists"
    if problems:
        raise AccessInputError(problems)
    team = Team(external_id=code, name=label)
    await add_unique(
        session, team, field="external_id", problem=f"a team with external id {code!r} exists"
    )
    record(
        session,
        actor=actor,
        action=Action.TEAM_CREATED,
        object_type="team",
        object_id=team.id,
        team_id=team.id,
        after={"external_id": team.external_id, "name": team.name},
    )
    log.info("access.team_created", team_id=team.id, actor=actor)
    return team


async def rename_team(session: AsyncSession, *, actor: str, team_id: int, name: str) -> Team:
    team = await session.scalar(select(Team).where(Team.id == team_id).with_for_update())
    if team is None:
        raise AccessNotFoundError(f"no team {team_id}")
    problems: dict[str, str] = {}
    label = _name(name, problems)
    if problems:
        raise AccessInputError(problems)
    if label == team.name:
        return team
    before = {"external_id": team.external_id, "name": team.name}
    team.name = label
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.TEAM_RENAMED,
        object_type="team",
        object_id=team.id,
        team_id=team.id,
        before=before,
        after={"external_id": team.external_id, "name": team.name},
    )
    log.info("access.team_renamed", team_id=team.id, actor=actor)
    return team
