from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs

from candor.clock import BUSINESS_TZ
from candor.models import Application, HRUser, Job
from candor.models.calendar import OverrideKind
from candor.models.enums import Role
from candor.models.outreach import (
    MessageState,
    OutreachMessage,
    SlaNotification,
    SlaNotificationKind,
)
from candor.outreach import service
from candor.outreach.sla_watch import (
    SlaCheck,
    build_daily_digest,
    check_deadlines,
    working_days_left,
)
from candor.sla.calendar import Override, WorkingCalendar
from tests.outreach_world import World

WARN, ESCALATE, BREACH = (
    SlaNotificationKind.WARN,
    SlaNotificationKind.ESCALATE,
    SlaNotificationKind.BREACH,
)
# Every applicant's AI interview completed Tue 2026-03-03, so the promise is due at the end
# of Tue 2026-03-10 (Wed 4, Thu 5, Fri 6, Mon 9, Tue 10).
DUE = datetime(2026, 3, 10, 23, 59, 59, tzinfo=BUSINESS_TZ)


def local(text: str) -> datetime:
    """An Asia/Shanghai time from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BUSINESS_TZ)


async def drafted(
    world: World,
    n: int,
    decision: str = "reject",
    team: str = "team-a",
    completed_at: str = "2026-03-03T10:00:00+08:00",
) -> int:
    await world.applicant(n, team=team, completed_at=completed_at)
    await world.decide(n, decision)
    async with world.runtime.sessionmaker() as session:
        message_id = await session.scalar(
            select(OutreachMessage.id).order_by(OutreachMessage.id.desc()).limit(1)
        )
    assert message_id is not None
    return message_id


async def check(world: World, now: datetime, calendar: WorkingCalendar | None = None) -> SlaCheck:
    async with world.runtime.transaction() as session:
        return await check_deadlines(session, now=now, calendar=calendar)


async def recorded(world: World) -> set[tuple[int, SlaNotificationKind, int]]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.execute(
            select(SlaNotification.message_id, SlaNotification.kind, SlaNotification.recipient_id)
        )
        return {(m, k, r) for m, k, r in rows.all()}


async def message(world: World, message_id: int) -> OutreachMessage:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(OutreachMessage, message_id)


async def set_job_recruiter(world: World, n: int, user: HRUser) -> None:
    async with world.runtime.transaction() as session:
        job_id = await session.scalar(
            select(Application.job_id).where(Application.external_id == f"app-{n}")
        )
        await session.execute(update(Job).where(Job.id == job_id).values(recruiter_id=user.id))


@pytest.fixture
async def lead(world: World) -> HRUser:
    user, _ = await world.member(Role.TEAM_LEAD, world.team)
    return user


# --- counting working days (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "left"),
    [
        ("2026-03-05 09:00", 3),  # Thu: Fri, Mon, Tue
        ("2026-03-06 23:00", 2),  # Fri: Mon, Tue
        ("2026-03-07 12:00", 2),  # Sat: the weekend does not count
        ("2026-03-09 08:00", 1),  # Mon: Tue
        ("2026-03-10 18:00", 0),  # Tue: due today
        ("2026-03-12 10:00", 0),  # past
    ],
)
def test_working_days_left_counts_working_days_after_today(now: str, left: int) -> None:
    assert working_days_left(WorkingCalendar(), now=local(now), due_at=DUE) == left


def test_a_holiday_is_not_a_working_day_left() -> None:
    calendar = WorkingCalendar(
        overrides={date(2026, 3, 9): Override(OverrideKind.HOLIDAY, "company day", "test")}
    )

    assert working_days_left(calendar, now=local("2026-03-06 10:00"), due_at=DUE) == 1


# --- reminders, escalations, breaches ----------------------------------------------------


async def test_three_working_days_out_nobody_is_told(world: World, lead: HRUser) -> None:
    await drafted(world, 1)

    result = await check(world, local("2026-03-05 10:00"))

    assert result == SlaCheck()
    assert await recorded(world) == set()


async def test_two_working_days_before_the_recruiter_is_warned_once(
    world: World, lead: HRUser
) -> None:
    message_id = await drafted(world, 1)

    with capture_logs() as logs:
        first = await check(world, local("2026-03-06 10:00"))
        again = await check(world, local("2026-03-06 10:05"))

    assert (first.warned, first.escalated) == (1, 0)
    assert again.handled == 0
    assert await recorded(world) == {(message_id, WARN, world.recruiter.id)}
    warned = [entry for entry in logs if entry["event"] == "sla.warned"]
    assert len(warned) == 1
    assert warned[0]["message_id"] == message_id
    assert warned[0]["working_days_left"] == 2
    assert warned[0]["recipient_ids"] == [world.recruiter.id]


async def test_one_working_day_before_the_team_lead_is_escalated_to(
    world: World, lead: HRUser
) -> None:
    message_id = await drafted(world, 1)
    await check(world, local("2026-03-06 10:00"))

    with capture_logs() as logs:
        result = await check(world, local("2026-03-09 10:00"))

    assert (result.warned, result.escalated) == (0, 1)
    assert await recorded(world) == {
        (message_id, WARN, world.recruiter.id),
        (message_id, ESCALATE, lead.id),
    }
    assert [entry["event"] for entry in logs if entry["event"].startswith("sla.")] == [
        "sla.escalated"
    ]


async def test_first_seen_a_day_before_both_warns_and_escalates(world: World, lead: HRUser) -> None:
    message_id = await drafted(world, 1)

    await check(world, local("2026-03-10 09:00"))

    assert await recorded(world) == {
        (message_id, WARN, world.recruiter.id),
        (message_id, ESCALATE, lead.id),
    }


async def test_the_jobs_own_recruiter_is_warned_not_the_whole_team(
    world: World, lead: HRUser
) -> None:
    owner, _ = await world.member(Role.RECRUITER, world.team)
    message_id = await drafted(world, 1)
    await set_job_recruiter(world, 1, owner)

    await check(world, local("2026-03-06 10:00"))

    assert await recorded(world) == {(message_id, WARN, owner.id)}


async def test_the_working_day_calendar_decides_how_close_a_deadline_is(
    world: World, lead: HRUser
) -> None:
    message_id = await drafted(world, 1)
    holiday_monday = WorkingCalendar(
        overrides={date(2026, 3, 9): Override(OverrideKind.HOLIDAY, "company day", "test")}
    )

    await check(world, local("2026-03-06 10:00"), holiday_monday)

    assert (message_id, ESCALATE, lead.id) in await recorded(world)


async def test_a_passed_deadline_marks_the_message_breached_once(
    world: World, lead: HRUser
) -> None:
    message_id = await drafted(world, 1)
    now = local("2026-03-11 00:00")

    with capture_logs() as logs:
        first = await check(world, now)
        again = await check(world, local("2026-03-11 00:05"))

    assert (first.breached_messages, first.breach_notices) == (1, 2)
    assert again.handled == 0
    assert (await message(world, message_id)).breached_at == now
    # Only the breach: reminders that can no longer help are not sent after the fact.
    assert await recorded(world) == {
        (message_id, BREACH, world.recruiter.id),
        (message_id, BREACH, lead.id),
    }
    breached = [entry for entry in logs if entry["event"] == "sla.breached"]
    assert len(breached) == 1
    assert breached[0]["message_id"] == message_id
    assert breached[0]["log_level"] == "warning"


async def test_queued_messages_are_watched_but_decided_ones_are_not(
    world: World, lead: HRUser
) -> None:
    queued = await drafted(world, 1, "advance")  # auto-approved and queued, not yet sent
    rejected = await drafted(world, 2)
    async with world.runtime.transaction() as session:
        draft = await session.get_one(OutreachMessage, rejected)
        await service.reject(session, draft, actor="user:1", reason="语气")
    await world.applicant(3, consent_contact=False)
    await world.decide(3, "advance")  # undeliverable

    result = await check(world, local("2026-03-11 00:00"))

    assert result.breached_messages == 1
    sla_notices = {m for m, kind, _ in await recorded(world) if kind in (WARN, ESCALATE, BREACH)}
    assert sla_notices == {queued}
    assert (await message(world, queued)).state is MessageState.QUEUED
    assert (await message(world, rejected)).breached_at is None


async def test_with_nobody_at_a_level_the_next_level_up_hears(world: World) -> None:
    admin, _ = await world.member(Role.ADMIN)
    message_id = await drafted(world, 1, team="team-b")  # team-b: one recruiter, no lead

    await check(world, local("2026-03-09 10:00"))

    assert await recorded(world) == {
        (message_id, WARN, world.outsider.id),
        (message_id, ESCALATE, admin.id),
    }


async def test_deactivated_people_are_not_told(world: World, lead: HRUser) -> None:
    message_id = await drafted(world, 1)
    async with world.runtime.transaction() as session:
        await session.execute(
            update(HRUser).where(HRUser.id == world.recruiter.id).values(is_active=False)
        )

    await check(world, local("2026-03-06 10:00"))

    # No recruiter left in the team: the warning goes to its lead instead.
    assert await recorded(world) == {(message_id, WARN, lead.id)}


# --- the daily digest --------------------------------------------------------------------


async def test_the_digest_summarises_my_pending_due_soon_and_breached_messages(
    world: World, lead: HRUser
) -> None:
    pending = await drafted(world, 1)  # due Tue 10, waits for approval
    queued = await drafted(world, 2, "advance")  # due Tue 10, queued
    later = await drafted(world, 3, completed_at="2026-03-05T10:00:00+08:00")  # due Thu 12
    await drafted(world, 4, team="team-b")  # another team's

    async with world.runtime.sessionmaker() as session:
        monday = await build_daily_digest(
            session, world.recruiter.id, now=local("2026-03-09 09:00")
        )
        thursday = await build_daily_digest(
            session, world.recruiter.id, now=local("2026-03-12 09:00")
        )

    assert monday is not None
    assert monday.day == date(2026, 3, 9)
    assert [i.message_id for i in monday.pending_approval] == [pending, later]
    assert [i.message_id for i in monday.due_soon] == [pending, queued]
    assert [i.working_days_left for i in monday.due_soon] == [1, 1]
    assert monday.breached == []
    assert monday.due_soon[0].application_code.startswith("AP-2026-")
    assert thursday is not None
    assert [i.message_id for i in thursday.breached] == [pending, queued]
    assert [i.message_id for i in thursday.due_soon] == [later]


async def test_a_recruiter_digest_leaves_out_jobs_owned_by_a_colleague(
    world: World, lead: HRUser
) -> None:
    colleague, _ = await world.member(Role.RECRUITER, world.team)
    message_id = await drafted(world, 1)
    await set_job_recruiter(world, 1, colleague)
    now = local("2026-03-09 09:00")

    async with world.runtime.sessionmaker() as session:
        mine = await build_daily_digest(session, world.recruiter.id, now=now)
        theirs = await build_daily_digest(session, colleague.id, now=now)
        leads = await build_daily_digest(session, lead.id, now=now)
        outsider = await build_daily_digest(session, world.outsider.id, now=now)

    assert mine is not None
    assert mine.is_empty
    assert theirs is not None
    assert [i.message_id for i in theirs.pending_approval] == [message_id]
    assert leads is not None
    assert [i.message_id for i in leads.pending_approval] == [message_id]
    assert outsider is not None
    assert outsider.is_empty


async def test_no_digest_for_an_unknown_user(world: World) -> None:
    async with world.runtime.sessionmaker() as session:
        assert await build_daily_digest(session, 999999, now=local("2026-03-09 09:00")) is None
