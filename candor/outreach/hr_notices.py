"""Telling HR about a result message: who is told, and the record that they were.

Each (message, kind, recipient) is recorded once in `sla_notifications`: the SLA watch's
reminders, escalations and breaches (`candor.outreach.sla_watch`), and `undeliverable` when a
decided result could not reach the candidate on any channel. Delivering the records to HR (by
e-mail, Telegram) is the notification channels' job; `sent_at` stays empty until then.

Who is told, by kind: a warning or an undeliverable message goes to the owning recruiter (the
job's recruiter, else the team's recruiters), else the team leads; an escalation to the team
leads; a breach to owners and leads. When nobody fits, the admins: nothing goes unwatched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from candor.logging import get_logger
from candor.models import Application, HRUser, Job, TeamMembership
from candor.models.enums import Role
from candor.models.outreach import OutreachMessage, SlaNotification, SlaNotificationKind

log = get_logger(__name__)


@dataclass(slots=True)
class TeamPeople:
    recruiters: list[int] = field(default_factory=list)
    leads: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HRPeople:
    teams: dict[int, TeamPeople]
    active_owners: frozenset[int]
    admins: list[int]

    def owners(self, job: Job) -> list[int]:
        if job.recruiter_id is not None and job.recruiter_id in self.active_owners:
            return [job.recruiter_id]
        return self.teams.get(job.team_id, TeamPeople()).recruiters

    def leads(self, job: Job) -> list[int]:
        return self.teams.get(job.team_id, TeamPeople()).leads

    def recipients(self, kind: SlaNotificationKind, job: Job) -> list[int]:
        owners, leads = self.owners(job), self.leads(job)
        if kind in (SlaNotificationKind.WARN, SlaNotificationKind.UNDELIVERABLE):
            chosen = owners or leads
        elif kind is SlaNotificationKind.ESCALATE:
            chosen = leads
        else:
            chosen = sorted({*owners, *leads})
        return chosen or self.admins


async def hr_people(session: AsyncSession, jobs: Iterable[Job]) -> HRPeople:
    jobs = list(jobs)
    team_ids = {job.team_id for job in jobs}
    owner_ids = {job.recruiter_id for job in jobs if job.recruiter_id is not None}
    teams: dict[int, TeamPeople] = defaultdict(TeamPeople)
    rows = await session.execute(
        select(TeamMembership.team_id, HRUser.id, HRUser.role)
        .join(HRUser, HRUser.id == TeamMembership.user_id)
        .where(TeamMembership.team_id.in_(team_ids), HRUser.is_active.is_(True))
        .order_by(HRUser.id)
    )
    for team_id, user_id, role in rows.all():
        if role is Role.RECRUITER:
            teams[team_id].recruiters.append(user_id)
        elif role is Role.TEAM_LEAD:
            teams[team_id].leads.append(user_id)
    active_owners = (
        await session.scalars(
            select(HRUser.id).where(HRUser.id.in_(owner_ids), HRUser.is_active.is_(True))
        )
    ).all()
    admins = (
        await session.scalars(
            select(HRUser.id)
            .where(HRUser.role == Role.ADMIN, HRUser.is_active.is_(True))
            .order_by(HRUser.id)
        )
    ).all()
    return HRPeople(dict(teams), frozenset(active_owners), list(admins))


async def record_notices(
    session: AsyncSession,
    message_id: int,
    kind: SlaNotificationKind,
    recipients: Sequence[int],
    now: datetime,
) -> list[int]:
    """Insert the notifications not recorded yet; returns the recipients newly recorded."""
    if not recipients:
        return []
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(SlaNotification)
        .values(
            [
                {"message_id": message_id, "kind": kind, "recipient_id": r, "created_at": now}
                for r in recipients
            ]
        )
        .on_conflict_do_nothing(index_elements=["message_id", "kind", "recipient_id"])
        .returning(SlaNotification.recipient_id)
    )
    return sorted(result.scalars().all())


async def notify_undeliverable(
    session: AsyncSession, message: OutreachMessage, *, reason: str, now: datetime
) -> list[int]:
    """Tell HR that this decided result reached the candidate on no channel; returns the HR
    users newly told (once per message and user, however often it is called)."""
    job = await session.scalar(
        select(Job)
        .join(Application, Application.job_id == Job.id)
        .where(Application.id == message.application_id)
    )
    assert job is not None  # an application always has its job
    people = await hr_people(session, [job])
    told = await record_notices(
        session,
        message.id,
        SlaNotificationKind.UNDELIVERABLE,
        people.recipients(SlaNotificationKind.UNDELIVERABLE, job),
        now,
    )
    log.warning(
        "outreach.hr_told_undeliverable",
        message_id=message.id,
        state=message.state.value,
        reason=reason,
        recipient_ids=told,
    )
    return told
