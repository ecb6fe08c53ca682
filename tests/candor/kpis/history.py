"""A small hiring history written by hand, whose KPIs are worked out in its docstring.

Promise: 5 working days (March 2026 has no holidays). `NOW` is Friday 2026-03-20 12:00.

| # | team | completed (local) | promised by | sent        | working days | status  |
|---|------|-------------------|-------------|-------------|--------------|---------|
| 1 | A    | Mon 03-02         | Mon 03-09   | Wed 03-04   | 2            | in time |
| 2 | A    | Tue 03-03         | Tue 03-10   | Thu 03-12   | 7            | late    |
| 3 | A    | Wed 03-04         | Wed 03-11   | — (pending approval: an open breach) | missed |
| 4 | B    | Mon 03-09         | Mon 03-16   | Mon 03-09   | 0            | in time |
| 5 | B    | Thu 03-19         | Thu 03-26   | —           |              | pending |
| 6 | A    | Fri 03-06         | Fri 03-13   | Mon 03-09   | 1            | in time |

Application 7 applied without an interview yet; application 8 applied before the range.
HR approval latency: #1 2 h, #2 10 h, #6 64 h (#4 was approved automatically).
Deliveries: wechat sent #1 and #6 and failed #2; e-mail sent #2; telegram sent #4.
Stages now: #1 phone interview, #4 offer, #6 hired, the others AI interview (#7 applied).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import BUSINESS_TZ
from candor.kpis.service import KpiFilter
from candor.models import Application, Candidate, HRUser, Interview, Job, Team, TeamMembership
from candor.models.enums import Channel, Decision, InterviewKind, Role, Stage
from candor.models.outreach import (
    MessageState,
    MessageTemplate,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)

START, END = date(2026, 3, 1), date(2026, 3, 20)
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=BUSINESS_TZ)
PROMISE_DAYS = 5


def local(day: str, clock: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"2026-{day}T{clock}:00+08:00")


def due(day: str) -> datetime:
    return local(day, "23:59").replace(second=59)


@dataclass(frozen=True)
class History:
    team_a: Team
    team_b: Team
    recruiter_a: HRUser
    job_a: Job
    job_b: Job
    codes: dict[int, str]

    def filters(self, **kwargs: object) -> KpiFilter:
        return KpiFilter(START, END, **kwargs)  # type: ignore[arg-type]


async def write_history(session: AsyncSession) -> History:
    team_a = Team(external_id="kpi-a", name="A 组")
    team_b = Team(external_id="kpi-b", name="B 组")
    session.add_all([team_a, team_b])
    recruiter = HRUser(email="a@example.com", display_name="A", role=Role.RECRUITER)
    session.add(recruiter)
    await session.flush()
    session.add(TeamMembership(team_id=team_a.id, user_id=recruiter.id))
    job_a = Job(external_id="kpi-job-a", team_id=team_a.id, title="后端", recruiter_id=recruiter.id)
    job_b = Job(external_id="kpi-job-b", team_id=team_b.id, title="销售")
    session.add_all([job_a, job_b])
    await session.flush()
    template_id = await session.scalar(select(MessageTemplate.id).limit(1))
    assert template_id is not None, "the shipped templates are loaded first"

    codes: dict[int, str] = {}

    async def application(n: int, job: Job, applied: datetime, stage: Stage) -> Application:
        candidate = Candidate(external_id=f"kpi-c{n}", name=f"候选人{n}", email=f"c{n}@example.com")
        session.add(candidate)
        await session.flush()
        app = Application(
            code=f"AP-2026-{n:06d}",
            external_id=f"kpi-app-{n}",
            candidate_id=candidate.id,
            job_id=job.id,
            stage=stage,
            applied_at=applied,
            result_version=1,
        )
        session.add(app)
        await session.flush()
        codes[n] = app.code
        return app

    async def interview(app: Application, n: int, completed: datetime) -> Interview:
        row = Interview(
            external_id=f"kpi-iv-{n}",
            application_id=app.id,
            kind=InterviewKind.AI_VIDEO,
            completed_at=completed,
            decision=Decision.REJECT,
        )
        session.add(row)
        await session.flush()
        return row

    async def message(
        app: Application,
        row: Interview,
        *,
        due_at: datetime,
        created: datetime,
        state: MessageState,
        decided_by: str | None = None,
        decided_at: datetime | None = None,
        sent_at: datetime | None = None,
    ) -> OutreachMessage:
        msg = OutreachMessage(
            application_id=app.id,
            interview_id=row.id,
            result_version=1,
            outcome=Decision.REJECT,
            template_id=template_id,
            state=state,
            subject="面试结果",
            body="正文",
            interview_completed_at=row.completed_at,
            due_at=due_at,
            decided_by=decided_by,
            decided_at=decided_at,
            sent_at=sent_at,
            created_at=created,
        )
        session.add(msg)
        await session.flush()
        return msg

    def delivery(msg: OutreachMessage, channel: Channel, state: OutboxState, at: datetime) -> None:
        session.add(
            OutboxItem(
                message_id=msg.id,
                channel=channel,
                idempotency_key=f"{msg.id}:{channel.value}",
                state=state,
                attempts=1,
                next_attempt_at=at,
                created_at=at,
            )
        )

    app1 = await application(1, job_a, local("02-25"), Stage.PHONE_INTERVIEW)
    iv1 = await interview(app1, 1, local("03-02"))
    m1 = await message(
        app1,
        iv1,
        due_at=due("03-09"),
        created=local("03-03", "17:00"),
        state=MessageState.SENT,
        decided_by=f"user:{recruiter.id}",
        decided_at=local("03-03", "19:00"),
        sent_at=local("03-04", "09:00"),
    )
    delivery(m1, Channel.WECHAT, OutboxState.SENT, local("03-03", "19:00"))

    app2 = await application(2, job_a, local("03-01"), Stage.AI_INTERVIEW)
    iv2 = await interview(app2, 2, local("03-03"))
    m2 = await message(
        app2,
        iv2,
        due_at=due("03-10"),
        created=local("03-05", "08:00"),
        state=MessageState.SENT,
        decided_by=f"user:{recruiter.id}",
        decided_at=local("03-05", "18:00"),
        sent_at=local("03-12", "11:00"),
    )
    delivery(m2, Channel.WECHAT, OutboxState.PERMANENT_FAILURE, local("03-05", "18:00"))
    delivery(m2, Channel.EMAIL, OutboxState.SENT, local("03-12"))

    app3 = await application(3, job_a, local("03-01"), Stage.AI_INTERVIEW)
    iv3 = await interview(app3, 3, local("03-04"))
    await message(
        app3, iv3, due_at=due("03-11"), created=local("03-05"), state=MessageState.PENDING_APPROVAL
    )

    app4 = await application(4, job_b, local("03-02"), Stage.OFFER)
    iv4 = await interview(app4, 4, local("03-09"))
    m4 = await message(
        app4,
        iv4,
        due_at=due("03-16"),
        created=local("03-09", "12:00"),
        state=MessageState.DELIVERED,
        decided_by="system:auto-approval",
        decided_at=local("03-09", "12:00"),
        sent_at=local("03-09", "12:01"),
    )
    delivery(m4, Channel.TELEGRAM, OutboxState.SENT, local("03-09", "12:00"))

    app5 = await application(5, job_b, local("03-10"), Stage.AI_INTERVIEW)
    await interview(app5, 5, local("03-19"))

    app6 = await application(6, job_a, local("03-02"), Stage.HIRED)
    iv6 = await interview(app6, 6, local("03-06"))
    m6 = await message(
        app6,
        iv6,
        due_at=due("03-13"),
        created=local("03-06", "10:00"),
        state=MessageState.SENT,
        decided_by=f"user:{recruiter.id}",
        decided_at=local("03-06", "10:00") + timedelta(hours=64),
        sent_at=local("03-09", "15:00"),
    )
    delivery(m6, Channel.WECHAT, OutboxState.SENT, local("03-09", "02:00"))

    await application(7, job_a, local("03-18"), Stage.APPLIED)
    await application(8, job_b, local("02-20"), Stage.AI_INTERVIEW)
    await session.flush()
    return History(team_a, team_b, recruiter, job_a, job_b, codes)
