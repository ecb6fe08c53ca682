"""A small hiring history written by hand, whose KPIs are worked out in its docstring.

Promise: 5 working days (March 2026 has no holidays). `NOW` is Friday 2026-03-20 12:00.

| # | team | completed (local) | promised by | sent        | working days | status  |
|---|------|-------------------|-------------|-------------|--------------|---------|
| 1 | A    | Mon 03-02         | Mon 03-09   | Wed 03-04   | 2            | in time |
| 2 | A    | Tue 03-03         | Tue 03-10   | Thu 03-12   | 7            | late    |
| 3 | A    | Wed 03-04         | Wed 03-11   | — (pending approval: an open breach) | missed |
| 4 | B    | Mon 03-09         | Mon 03-16   | Mon 03-09   | 0            | in time |
| 5 | B    | Thu 03-19         | Thu 03-26   | — (its template failed: needs attention) | pending |
| 6 | A    | Fri 03-06         | Fri 03-13   | Mon 03-09   | 1            | in time |

Application 7 applied without an interview yet; application 8 applied before the range.
HR approval latency: #1 2 h, #2 10 h, #6 64 h (#4 was approved automatically).
Deliveries: wechat sent #1 and #6 and failed #2; e-mail sent #2; telegram sent #4.
Stages now: #1 phone interview, #4 offer, #6 hired, the others AI interview (#7 applied).
Outcomes: #4 and #6 advance, the others reject.

Chat (every candidate's conversation counts for their latest application's job):

| conv | candidate | started | needed a person?                  | contained |
|------|-----------|---------|-----------------------------------|-----------|
| C1   | 1 (A)     | 03-02   | no                                | yes       |
| C2   | 2 (A)     | 03-04   | hand-off 03-12 12:00              | no        |
| C3   | 3 (A)     | 03-06   | an HR task (reschedule)           | no        |
| C4   | 4 (B)     | 03-09   | a question drafted for HR         | no        |
| C6   | 6 (A)     | 03-10   | hand-offs 03-10 09:00 and 03-16   | no        |
| C7   | 7 (A)     | 03-18   | no                                | yes       |
| C8   | 8 (B)     | 02-25   | (started before the range)        |           |
| U    | unbound   | 03-05   | (no candidate: no team)           |           |

Containment 2 / 6 (team A 2 / 5, team B 0 / 1).
Replies within 7 days of a sent result: #1 (03-05), #4 (12:30 the same day), #6 (03-10);
#2 wrote before its result (03-12 10:00) and 8 days after it (03-20 09:00): not a reply.
Reply rate 3 / 4.
Hand-offs: C2 answered by HR after 3 h (a bot message at 12:30 does not count); C6's first
answered after 24 h, closed 03-11; an HR message on 03-12 falls between C6's hand-offs;
C6's second (03-16) is unanswered. 3 hand-offs, 2 answered, median 3 h, p90 24 h.
CSAT: asked about #1 (rated 5), #2 (2), #4 (4), #6 (no answer): 3 of 4 answered, mean
11/3; advance 1 of 2 (mean 4), reject 2 of 2 (mean 3.5); promise met (#1, #4, #6) 2 of 3,
mean 4.5; missed (#2) 1 of 1, mean 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ
from candor.kpis import drilldown, figures
from candor.kpis.figures import KpiReport
from candor.kpis.filters import KpiFilter
from candor.models import (
    Application,
    Candidate,
    ChatIdentity,
    ChatMessage,
    Conversation,
    CsatRating,
    Handoff,
    HrTask,
    HRUser,
    Interview,
    Job,
    JobQuestion,
    Team,
    TeamMembership,
)
from candor.models.chat import Direction
from candor.models.dialogue import HrTaskKind, JobQuestionState
from candor.models.enums import Channel, Decision, InterviewKind, Locale, Role, Stage
from candor.models.outreach import (
    MessageState,
    MessageTemplate,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.runtime import Runtime
from candor.sla.service import load_calendar

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
    conversations: dict[str, int]

    def filters(self, **kwargs: object) -> KpiFilter:
        return KpiFilter(START, END, **kwargs)  # type: ignore[arg-type]


async def write_history(session: AsyncSession) -> History:
    team_a = Team(external_id="kpi-a", name="A 组")
    team_b = Team(external_id="kpi-b", name="B 组")
    session.add_all([team_a, team_b])
    recruiter = HRUser(email="a@example.com", display_name="A", role=Role.RECRUITER, locale="en")
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
    candidates: dict[int, int] = {}

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
        candidates[n] = candidate.id
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
        outcome: Decision = Decision.REJECT,
        decided_by: str | None = None,
        decided_at: datetime | None = None,
        sent_at: datetime | None = None,
    ) -> OutreachMessage:
        msg = OutreachMessage(
            application_id=app.id,
            interview_id=row.id,
            result_version=1,
            outcome=outcome,
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
        outcome=Decision.ADVANCE,
        decided_by="system:auto-approval",
        decided_at=local("03-09", "12:00"),
        sent_at=local("03-09", "12:01"),
    )
    delivery(m4, Channel.TELEGRAM, OutboxState.SENT, local("03-09", "12:00"))

    app5 = await application(5, job_b, local("03-10"), Stage.AI_INTERVIEW)
    iv5 = await interview(app5, 5, local("03-19"))
    await message(
        app5, iv5, due_at=due("03-26"), created=local("03-19"), state=MessageState.NEEDS_ATTENTION
    )

    app6 = await application(6, job_a, local("03-02"), Stage.HIRED)
    iv6 = await interview(app6, 6, local("03-06"))
    m6 = await message(
        app6,
        iv6,
        due_at=due("03-13"),
        created=local("03-06", "10:00"),
        state=MessageState.SENT,
        outcome=Decision.ADVANCE,
        decided_by=f"user:{recruiter.id}",
        decided_at=local("03-06", "10:00") + timedelta(hours=64),
        sent_at=local("03-09", "15:00"),
    )
    delivery(m6, Channel.WECHAT, OutboxState.SENT, local("03-09", "02:00"))

    await application(7, job_a, local("03-18"), Stage.APPLIED)
    await application(8, job_b, local("02-20"), Stage.AI_INTERVIEW)
    await session.flush()

    conversations: dict[str, int] = {}

    async def conversation(
        name: str, candidate: int | None, channel: Channel, started: datetime
    ) -> Conversation:
        identity = ChatIdentity(
            channel=channel,
            external_user_id=f"kpi-{name}",
            candidate_id=candidates[candidate] if candidate is not None else None,
            bound_at=started if candidate is not None else None,
        )
        session.add(identity)
        await session.flush()
        row = Conversation(
            chat_identity_id=identity.id,
            channel=channel,
            candidate_id=identity.candidate_id,
            started_at=started,
            last_message_at=started,
        )
        session.add(row)
        await session.flush()
        conversations[name] = row.id
        return row

    def said(
        conv: Conversation, at: datetime, *, inbound: bool = True, author: str | None = None
    ) -> None:
        session.add(
            ChatMessage(
                conversation_id=conv.id,
                candidate_id=conv.candidate_id,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                channel=conv.channel,
                text="…",
                author=author,
                at=at,
            )
        )

    hr = f"user:{recruiter.id}"
    c1 = await conversation("C1", 1, Channel.WECHAT, local("03-02", "11:00"))
    said(c1, local("03-05"))
    c2 = await conversation("C2", 2, Channel.WECHAT, local("03-04"))
    said(c2, local("03-12", "10:00"))
    session.add(Handoff(conversation_id=c2.id, reason="asked", opened_at=local("03-12", "12:00")))
    said(c2, local("03-12", "12:30"), inbound=False, author="engine:embedded")
    said(c2, local("03-12", "15:00"), inbound=False, author=hr)
    said(c2, local("03-20", "09:00"))
    c3 = await conversation("C3", 3, Channel.WECHAT, local("03-06"))
    session.add(
        HrTask(
            kind=HrTaskKind.RESCHEDULE,
            team_id=team_a.id,
            candidate_id=candidates[3],
            application_id=app3.id,
            conversation_id=c3.id,
            created_at=local("03-06", "10:05"),
        )
    )
    c4 = await conversation("C4", 4, Channel.TELEGRAM, local("03-09", "09:00"))
    said(c4, local("03-09", "12:30"))
    session.add(
        JobQuestion(
            conversation_id=c4.id,
            candidate_id=candidates[4],
            job_id=job_b.id,
            team_id=team_b.id,
            topic="salary",
            locale=Locale.ZH_CN,
            question="工资多少?",
            draft="面议",
            state=JobQuestionState.PENDING,
            asked_at=local("03-09", "12:31"),
        )
    )
    c6 = await conversation("C6", 6, Channel.WEB, local("03-10", "08:00"))
    said(c6, local("03-10", "08:00"))
    session.add(
        Handoff(
            conversation_id=c6.id,
            reason="complaint",
            opened_at=local("03-10", "09:00"),
            closed_at=local("03-11", "10:00"),
            closed_by=hr,
        )
    )
    said(c6, local("03-11", "09:00"), inbound=False, author=hr)
    said(c6, local("03-12", "09:00"), inbound=False, author=hr)
    session.add(Handoff(conversation_id=c6.id, reason="fallback", opened_at=local("03-16")))
    c7 = await conversation("C7", 7, Channel.WECHAT, local("03-18", "12:00"))
    said(c7, local("03-18", "12:00"))
    await conversation("C8", 8, Channel.TELEGRAM, local("02-25"))
    await conversation("U", None, Channel.WECHAT, local("03-05"))

    for msg, conv, asked, rating in (
        (m1, c1, local("03-04", "09:05"), 5),
        (m2, c2, local("03-12", "11:05"), 2),
        (m4, c4, local("03-09", "12:05"), 4),
        (m6, c6, local("03-09", "15:05"), None),
    ):
        session.add(
            CsatRating(
                outreach_message_id=msg.id,
                candidate_id=conv.candidate_id,
                conversation_id=conv.id,
                asked_at=asked,
                rating=rating,
                rated_at=None if rating is None else asked + timedelta(minutes=3),
            )
        )
    await session.flush()
    return History(team_a, team_b, recruiter, job_a, job_b, codes, conversations)


ADMIN = HRPrincipal(user_id=0, role=Role.ADMIN, team_ids=frozenset())


async def report(
    runtime: Runtime,
    filters: KpiFilter,
    principal: HRPrincipal = ADMIN,
    *,
    compare: bool = False,
) -> KpiReport:
    """The history's report, as of `NOW`."""
    async with runtime.sessionmaker() as session:
        return await figures.report(
            session,
            principal,
            filters,
            await load_calendar(session),
            promise_working_days=PROMISE_DAYS,
            compare_teams=compare,
            now=NOW,
        )


async def records(
    runtime: Runtime, history: History, selection: drilldown.Selection
) -> drilldown.Records:
    """The records behind one of the history's figures, as an admin sees them at `NOW`."""
    async with runtime.sessionmaker() as session:
        return await drilldown.records(
            session,
            ADMIN,
            history.filters(),
            await load_calendar(session),
            selection,
            promise_working_days=PROMISE_DAYS,
            now=NOW,
        )
