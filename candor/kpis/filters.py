"""What a KPI report covers: the filters, who may ask for them, and the scope they make.

Dates are local (Asia/Shanghai): a range is whole local days, weeks start on Monday.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from candor.auth.principals import HRPrincipal
from candor.auth.scope import team_condition, visible_teams
from candor.clock import BUSINESS_TZ
from candor.errors import CandorError
from candor.models import Application, HRUser, Job, Team

MAX_RANGE_DAYS = 400

Columns = TypeVarTuple("Columns")


class KpiFilterError(CandorError):
    """A filter the caller may not use (404, like any object of another team) or that makes
    no sense (422)."""

    code = "invalid_filter"
    http_status = 422


@dataclass(frozen=True, slots=True)
class KpiFilter:
    start: date  # first local day, included
    end: date  # last local day, included
    team_ids: tuple[int, ...] = ()
    recruiter_id: int | None = None
    job_id: int | None = None

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=BUSINESS_TZ)

    @property
    def end_utc(self) -> datetime:
        """The instant after the range: the start of the day after `end`."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=BUSINESS_TZ)

    def weeks(self) -> list[date]:
        """The Mondays of every week that overlaps the range."""
        first = monday_of(self.start)
        return [first + timedelta(weeks=i) for i in range((self.end - first).days // 7 + 1)]

    def for_team(self, team_id: int) -> KpiFilter:
        return KpiFilter(self.start, self.end, (team_id,), self.recruiter_id, self.job_id)


async def check_filter(session: AsyncSession, filters: KpiFilter, principal: HRPrincipal) -> None:
    """Refuse ranges that are inverted or too long, and teams, recruiters and jobs the
    principal cannot see: a filter narrows the principal's scope, it never widens it."""
    if filters.end < filters.start:
        raise KpiFilterError(f"'to' {filters.end} is before 'from' {filters.start}")
    if (filters.end - filters.start).days >= MAX_RANGE_DAYS:
        raise KpiFilterError(f"ask for at most {MAX_RANGE_DAYS} days at a time")
    visible = visible_teams(principal)
    hidden = [t for t in filters.team_ids if not visible.can_see(t)]
    if hidden:
        # As with any object: another team's figures are indistinguishable from no team.
        raise KpiFilterError(f"no team {hidden[0]}", http_status=404)
    if filters.recruiter_id is not None:
        recruiters = _recruiters_in_view(principal).where(HRUser.id == filters.recruiter_id)
        if await session.scalar(recruiters.with_only_columns(HRUser.id)) is None:
            raise KpiFilterError(f"no recruiter {filters.recruiter_id}", http_status=404)
    if filters.job_id is not None:
        jobs = _jobs_in_view(principal).where(Job.id == filters.job_id)
        if await session.scalar(jobs.with_only_columns(Job.id)) is None:
            raise KpiFilterError(f"no job {filters.job_id}", http_status=404)


def local_day(moment: datetime) -> date:
    return moment.astimezone(BUSINESS_TZ).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_of(moment: datetime) -> date:
    """The Monday of the local week `moment` falls in."""
    return monday_of(local_day(moment))


# --- Scope -------------------------------------------------------------------------------

# Every figure and every record is narrowed here and nowhere else: the teams the principal
# may see (`team_scope`, the one rule of `candor.auth.scope`), then the filters' team,
# recruiter and job (`scope`).


def team_scope(
    principal: HRPrincipal, team_column: InstrumentedAttribute[int]
) -> ColumnElement[bool] | None:
    """The teams `principal` may see, as a condition on `team_column`; None for an admin,
    who sees every team."""
    return team_condition(team_column, visible_teams(principal))


def _narrowing(principal: HRPrincipal, filters: KpiFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    visible = team_scope(principal, Job.team_id)
    if visible is not None:
        clauses.append(visible)
    if filters.team_ids:
        clauses.append(Job.team_id.in_(filters.team_ids))
    if filters.recruiter_id is not None:
        clauses.append(Job.recruiter_id == filters.recruiter_id)
    if filters.job_id is not None:
        clauses.append(Job.id == filters.job_id)
    return clauses


def scope(principal: HRPrincipal, filters: KpiFilter) -> ColumnElement[bool]:
    """Which jobs count: the principal's teams, narrowed by the team, recruiter and job."""
    return and_(true(), *_narrowing(principal, filters))


def in_scope(
    query: Select[*Columns], principal: HRPrincipal, filters: KpiFilter
) -> Select[*Columns]:
    """`query`, which reaches the application, narrowed through its job to `scope`."""
    return query.join(Job, Job.id == Application.job_id).where(scope(principal, filters))


def jobs_in_scope(principal: HRPrincipal, filters: KpiFilter) -> Select[int] | None:
    """The ids of the jobs in scope, or None when every job counts (an admin without
    filters): a few hundred rows, looked up once by the pre-aggregated figures."""
    if not _narrowing(principal, filters):
        return None
    return select(Job.id).where(scope(principal, filters))


async def teams_in_view(
    session: AsyncSession, principal: HRPrincipal, only: Sequence[int] = ()
) -> list[Team]:
    """The teams the principal may see (only those in `only`, if given), by name."""
    query = select(Team).order_by(Team.name, Team.id)
    visible = team_scope(principal, Team.id)
    if visible is not None:
        query = query.where(visible)
    if only:
        query = query.where(Team.id.in_(only))
    return list((await session.scalars(query)).all())


# --- What the filters offer ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterChoice:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """The teams, recruiters and jobs a principal may filter by, by name: exactly those of the
    teams they may see (an admin: all), so a list never shows another team's people or jobs."""

    teams: list[FilterChoice]
    recruiters: list[FilterChoice]
    jobs: list[FilterChoice]


def _jobs_in_view(principal: HRPrincipal) -> Select[Job]:
    query = select(Job)
    visible = team_scope(principal, Job.team_id)
    return query if visible is None else query.where(visible)


def _recruiters_in_view(principal: HRPrincipal) -> Select[HRUser]:
    """The recruiters owning a job the principal may see: the people the filter can narrow
    to (`recruiter_id` filters the jobs' owner)."""
    owns = _jobs_in_view(principal).where(Job.recruiter_id == HRUser.id)
    return select(HRUser).where(owns.exists())


async def filter_choices(session: AsyncSession, principal: HRPrincipal) -> FilterChoices:
    teams = [FilterChoice(t.id, t.name) for t in await teams_in_view(session, principal)]
    recruiters = await session.execute(
        _recruiters_in_view(principal)
        .with_only_columns(HRUser.id, HRUser.display_name)
        .order_by(HRUser.display_name, HRUser.id)
    )
    jobs = await session.execute(
        _jobs_in_view(principal)
        .join(Team, Team.id == Job.team_id)
        .with_only_columns(Job.id, Job.title, Team.name)
        .order_by(Job.title, Team.name, Job.id)
    )
    return FilterChoices(
        teams=teams,
        recruiters=[FilterChoice(user_id, name) for user_id, name in recruiters.all()],
        jobs=[FilterChoice(job_id, f"{title} · {team}") for job_id, title, team in jobs.all()],
    )
