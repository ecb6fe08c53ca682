"""Watching the 5-working-day promise: reminders, escalations, breaches and the daily digest.

For every result message not yet sent (pending approval, approved, or queued) with a
deadline, counted in working days from today (Asia/Shanghai, the working-day calendar):

- 2 working days left or fewer: **warn** the owning recruiter (the job's recruiter, else
  the team's recruiters);
- 1 working day left or fewer (the deadline is tomorrow or today): **escalate** to the
  team's team leads;
- the deadline passed: mark the message `breached_at` and notify owners and team leads.

A message first seen with 1 day left gets both the warning and the escalation; one first
seen after its deadline gets only the breach. When a level has nobody to tell, it goes to
the next level up (recruiters -> team leads -> admins), so no deadline passes unwatched.

Each (message, kind, recipient) is recorded once in `sla_notifications`
(`candor.outreach.hr_notices`); delivering them to HR by e-mail or Telegram is the
channels' job (`sent_at` stays empty until then). Every
function takes the caller's session and never commits; pass `now` explicitly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from candor.auth.principals import HRPrincipal
from candor.auth.scope import scoped, visible_teams
from candor.clock import BUSINESS_TZ
from candor.hr_chat.cards import add_message_cards
from candor.logging import get_logger
from candor.models import Application, HRUser, Job, Team, TeamMembership
from candor.models.enums import HrCardKind, Role
from candor.models.outreach import (
    MessageState,
    OutreachMessage,
    SlaNotification,
    SlaNotificationKind,
)
from candor.outreach.hr_notices import hr_people, record_notices
from candor.sla.calendar import WorkingCalendar
from candor.sla.service import current_calendar

log = get_logger(__name__)

# Messages the candidate has not received yet; the promise is still open for these.
UNSENT_STATES: tuple[MessageState, ...] = (
    MessageState.PENDING_APPROVAL,
    MessageState.NEEDS_ATTENTION,
    MessageState.APPROVED,
    MessageState.EDITED_AND_APPROVED,
    MessageState.QUEUED,
)
WARN_AT_WORKING_DAYS = 2
ESCALATE_AT_WORKING_DAYS = 1

_LOG_EVENTS = {
    SlaNotificationKind.WARN: "sla.warned",
    SlaNotificationKind.ESCALATE: "sla.escalated",
    SlaNotificationKind.BREACH: "sla.breached",
}


def _local_day(moment: datetime) -> date:
    return moment.astimezone(BUSINESS_TZ).date()


def working_days_left(calendar: WorkingCalendar, *, now: datetime, due_at: datetime) -> int:
    """Working days after today up to and including the due date: 0 when it is due today
    (or past), 1 when it is due on the next working day."""
    today, due_on = _local_day(now), _local_day(due_at)
    if due_on <= today:
        return 0
    return sum(1 for day in calendar.days(today + timedelta(days=1), due_on) if day.working)


def due_soon_cutoff(calendar: WorkingCalendar, *, now: datetime) -> datetime:
    """The end of the WARN_AT_WORKING_DAYS-th working day from today: a message due by then
    is due soon."""
    last_day, _ = calendar.add_working_days(_local_day(now), WARN_AT_WORKING_DAYS)
    return datetime.combine(last_day, time.max, tzinfo=BUSINESS_TZ)


def _open() -> ColumnElement[bool]:
    return and_(OutreachMessage.state.in_(UNSENT_STATES), OutreachMessage.due_at.is_not(None))


# --- the periodic check ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaCheck:
    """What one round recorded: new notifications by kind, and messages newly breached."""

    warned: int = 0
    escalated: int = 0
    breached_messages: int = 0
    breach_notices: int = 0

    @property
    def handled(self) -> int:
        return self.warned + self.escalated + self.breach_notices + self.breached_messages


async def check_deadlines(
    session: AsyncSession, *, now: datetime, calendar: WorkingCalendar | None = None
) -> SlaCheck:
    """Record the reminders, escalations and breaches due at `now`; each happens once."""
    calendar = calendar or await current_calendar(session)
    rows = (
        await session.execute(
            select(OutreachMessage, Job)
            .join(Application, Application.id == OutreachMessage.application_id)
            .join(Job, Job.id == Application.job_id)
            .where(
                _open(),
                OutreachMessage.breached_at.is_(None),
                OutreachMessage.due_at <= due_soon_cutoff(calendar, now=now),
            )
            .order_by(OutreachMessage.due_at, OutreachMessage.id)
        )
    ).all()
    if not rows:
        return SlaCheck()
    people = await hr_people(session, (job for _, job in rows))
    recorded = await _recorded(session, [message.id for message, _ in rows])
    counts: dict[SlaNotificationKind, int] = defaultdict(int)
    breached = 0
    for message, job in rows:
        assert message.due_at is not None  # _open()
        if message.due_at < now:
            if not await _mark_breached(session, message.id, now):
                continue  # sent (or decided) meanwhile
            breached += 1
            kinds = [SlaNotificationKind.BREACH]
            left = 0
        else:
            left = working_days_left(calendar, now=now, due_at=message.due_at)
            kinds = [SlaNotificationKind.WARN] if left <= WARN_AT_WORKING_DAYS else []
            if left <= ESCALATE_AT_WORKING_DAYS:
                kinds.append(SlaNotificationKind.ESCALATE)
        for kind in kinds:
            wanted = people.recipients(kind, job)
            new = [r for r in wanted if (message.id, kind, r) not in recorded]
            added = await record_notices(session, message.id, kind, new, now)
            counts[kind] += len(added)
            if (
                kind is SlaNotificationKind.WARN
                and added
                and message.state is MessageState.PENDING_APPROVAL
            ):
                # Those told by e-mail who take approvals in chat get a card to act on.
                await add_message_cards(
                    session, message, job, HrCardKind.SLA_WARNING, now=now, recipients=added
                )
            if added or kind is SlaNotificationKind.BREACH:
                emit = log.info if kind is SlaNotificationKind.WARN else log.warning
                emit(
                    _LOG_EVENTS[kind],
                    message_id=message.id,
                    team_id=job.team_id,
                    due_at=message.due_at.isoformat(),
                    working_days_left=left,
                    recipient_ids=added,
                )
            if not wanted:
                log.warning("sla.no_recipient", message_id=message.id, kind=kind.value)
    await session.flush()
    return SlaCheck(
        warned=counts[SlaNotificationKind.WARN],
        escalated=counts[SlaNotificationKind.ESCALATE],
        breached_messages=breached,
        breach_notices=counts[SlaNotificationKind.BREACH],
    )


async def _recorded(
    session: AsyncSession, message_ids: Sequence[int]
) -> set[tuple[int, SlaNotificationKind, int]]:
    rows = await session.execute(
        select(
            SlaNotification.message_id, SlaNotification.kind, SlaNotification.recipient_id
        ).where(SlaNotification.message_id.in_(message_ids))
    )
    return {(m, k, r) for m, k, r in rows.all()}


async def _mark_breached(session: AsyncSession, message_id: int, now: datetime) -> bool:
    """Set breached_at unless the message left the unsent states meanwhile. The conditional
    UPDATE re-checks the row under its lock, so a send committed a moment ago wins."""
    result = await session.execute(
        update(OutreachMessage)
        .where(
            OutreachMessage.id == message_id,
            OutreachMessage.state.in_(UNSENT_STATES),
            OutreachMessage.breached_at.is_(None),
        )
        .values(breached_at=now)
        .returning(OutreachMessage.id)
    )
    return result.first() is not None


# --- the API's overview ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamSla:
    team_id: int
    team_name: str
    due_soon: int  # unsent, due within WARN_AT_WORKING_DAYS working days, not yet past
    breached_open: int  # unsent and past the deadline


@dataclass(frozen=True, slots=True)
class SlaOverview:
    teams: list[TeamSla]
    notifications: list[SlaNotification]


async def sla_totals(
    session: AsyncSession, *, now: datetime, calendar: WorkingCalendar | None = None
) -> tuple[int, int]:
    """Every team's open results due soon (at risk) and past due (breached), as
    `sla_overview` counts them, in one query (the metrics scrape)."""
    calendar = calendar or await current_calendar(session)
    cutoff = due_soon_cutoff(calendar, now=now)
    due_soon = func.sum(
        case((and_(OutreachMessage.due_at >= now, OutreachMessage.due_at <= cutoff), 1), else_=0)
    )
    breached = func.sum(case((OutreachMessage.due_at < now, 1), else_=0))
    row = (await session.execute(select(due_soon, breached).where(_open()))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def sla_overview(
    session: AsyncSession,
    principal: HRPrincipal,
    *,
    now: datetime,
    calendar: WorkingCalendar | None = None,
    notification_limit: int = 100,
) -> SlaOverview:
    """For the principal's teams (an admin's: every team): how many messages are due soon or
    past due unsent; and the principal's own notifications not delivered yet."""
    calendar = calendar or await current_calendar(session)
    cutoff = due_soon_cutoff(calendar, now=now)
    visible = visible_teams(principal)
    teams_query = scoped(select(Team.id, Team.name).order_by(Team.id), Team.id, visible)
    teams = (await session.execute(teams_query)).all()
    due_soon = func.sum(
        case((and_(OutreachMessage.due_at >= now, OutreachMessage.due_at <= cutoff), 1), else_=0)
    )
    breached = func.sum(case((OutreachMessage.due_at < now, 1), else_=0))
    counts = {
        team_id: (int(soon or 0), int(late or 0))
        for team_id, soon, late in (
            await session.execute(
                select(Job.team_id, due_soon, breached)
                .select_from(OutreachMessage)
                .join(Application, Application.id == OutreachMessage.application_id)
                .join(Job, Job.id == Application.job_id)
                .where(_open(), Job.team_id.in_([team_id for team_id, _ in teams]))
                .group_by(Job.team_id)
            )
        ).all()
    }
    notifications_query = (
        select(SlaNotification)
        .join(OutreachMessage, OutreachMessage.id == SlaNotification.message_id)
        .join(Application, Application.id == OutreachMessage.application_id)
        .join(Job, Job.id == Application.job_id)
        .where(SlaNotification.recipient_id == principal.user_id, SlaNotification.sent_at.is_(None))
        .options(
            joinedload(SlaNotification.message)
            .joinedload(OutreachMessage.application)
            .joinedload(Application.job)
        )
        .order_by(SlaNotification.created_at.desc(), SlaNotification.id.desc())
        .limit(notification_limit)
    )
    notifications_query = scoped(notifications_query, Job.team_id, visible)
    notifications = (await session.scalars(notifications_query)).unique().all()
    return SlaOverview(
        teams=[TeamSla(team_id, name, *counts.get(team_id, (0, 0))) for team_id, name in teams],
        notifications=list(notifications),
    )


# --- the daily digest --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestItem:
    message_id: int
    application_code: str
    job_title: str
    team_id: int
    state: MessageState
    due_at: datetime | None
    working_days_left: int | None  # None without a deadline; 0 when due today or past


@dataclass(frozen=True, slots=True)
class DailyDigest:
    """One HR user's morning summary. A message may be in more than one list: a draft
    waiting for approval that is also due tomorrow is in both."""

    hr_user_id: int
    day: date
    pending_approval: list[DigestItem]
    due_soon: list[DigestItem]
    breached: list[DigestItem]

    @property
    def is_empty(self) -> bool:
        return not (self.pending_approval or self.due_soon or self.breached)


async def build_daily_digest(
    session: AsyncSession,
    hr_user_id: int,
    *,
    now: datetime,
    calendar: WorkingCalendar | None = None,
) -> DailyDigest | None:
    """The digest for one HR user, or None when the user is unknown or deactivated.

    Whose messages: a recruiter's are those of the jobs they own, and of their teams' jobs
    that have no recruiter (the same people the warnings go to); a team lead's are all of
    their teams'; an admin's are everyone's.
    """
    user = await session.get(HRUser, hr_user_id)
    if user is None or not user.is_active:
        return None
    calendar = calendar or await current_calendar(session)
    cutoff = due_soon_cutoff(calendar, now=now)
    query = (
        select(OutreachMessage, Job)
        .join(Application, Application.id == OutreachMessage.application_id)
        .join(Job, Job.id == Application.job_id)
        .options(joinedload(OutreachMessage.application))
        .where(
            OutreachMessage.state.in_(UNSENT_STATES),
            (OutreachMessage.state == MessageState.PENDING_APPROVAL)
            | (OutreachMessage.due_at <= cutoff),
        )
        .order_by(OutreachMessage.due_at.asc().nulls_last(), OutreachMessage.id)
    )
    if user.role is not Role.ADMIN:
        teams = select(TeamMembership.team_id).where(TeamMembership.user_id == user.id)
        if user.role is Role.TEAM_LEAD:
            query = query.where(Job.team_id.in_(teams))
        else:
            query = query.where(
                (Job.recruiter_id == user.id)
                | (Job.recruiter_id.is_(None) & Job.team_id.in_(teams))
            )
    pending: list[DigestItem] = []
    soon: list[DigestItem] = []
    late: list[DigestItem] = []
    for message, job in (await session.execute(query)).unique().all():
        left = (
            working_days_left(calendar, now=now, due_at=message.due_at)
            if message.due_at is not None
            else None
        )
        item = DigestItem(
            message_id=message.id,
            application_code=message.application.code,
            job_title=job.title,
            team_id=job.team_id,
            state=message.state,
            due_at=message.due_at,
            working_days_left=left,
        )
        if message.state is MessageState.PENDING_APPROVAL:
            pending.append(item)
        if message.due_at is not None and message.due_at < now:
            late.append(item)
        elif message.due_at is not None and message.due_at <= cutoff:
            soon.append(item)
    return DailyDigest(
        hr_user_id=user.id,
        day=_local_day(now),
        pending_approval=pending,
        due_soon=soon,
        breached=late,
    )
