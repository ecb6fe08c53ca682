from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from candor.auth.principals import HRPrincipal
from candor.auth.tokens import Scope, authenticate
from candor.clock import BUSINESS_TZ
from candor.demo.content import JOBS
from candor.demo.seed import (
    CANDIDATE_COUNT,
    DEMO_ATS_TOKEN,
    DEMO_PASSWORD,
    HISTORY_DAYS,
    DemoSummary,
    adoption_day,
    example_ats_event,
    plan_demo,
    seed_demo_if_absent,
)
from candor.demo.story import read_story
from candor.kpis import figures
from candor.kpis.filters import KpiFilter
from candor.models import (
    ApiToken,
    Application,
    AtsEvent,
    Candidate,
    ChatIdentity,
    HRUser,
    Interview,
    Job,
    StageChange,
    Team,
    TeamMembership,
)
from candor.models.enums import (
    ApplicationStatus,
    Channel,
    Decision,
    InterviewKind,
    Locale,
    Role,
    Stage,
)
from candor.models.outreach import MessageState, OutboxItem, OutboxState, OutreachMessage
from candor.runtime import Runtime
from candor.sla.service import current_calendar

# A Monday, 12:00 in Shanghai: fixed so that every run of the tests sees the same company.
NOW = datetime(2026, 3, 16, 4, 0, tzinfo=UTC)


async def seed(runtime: Runtime) -> DemoSummary | None:
    # Each of the ~1000 ingested events logs a line; captured here so failures stay readable.
    with structlog.testing.capture_logs():
        async with runtime.transaction() as session:
            return await seed_demo_if_absent(session, runtime.settings, now=NOW)


async def applications(runtime: Runtime) -> list[Application]:
    async with runtime.sessionmaker() as session:
        result = await session.scalars(
            select(Application)
            .options(
                selectinload(Application.candidate),
                selectinload(Application.interviews),
                selectinload(Application.stage_changes),
            )
            .order_by(Application.id)
        )
        return list(result)


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def ai_interview(application: Application) -> Interview | None:
    return next((i for i in application.interviews if i.kind is InterviewKind.AI_VIDEO), None)


async def test_the_seed_is_a_realistic_company_that_tells_its_story(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """One seed, every aspect: seeding takes tens of seconds, so the tests seed only once."""
    summary = await seed(runtime)

    assert summary is not None
    apps = await applications(runtime)
    check_every_stage_status_and_ai_interview_state(summary, apps)
    check_ai_reports_are_in_the_candidates_language(apps)
    check_candidates_look_real_and_history_is_complete(apps)
    await check_logins_token_and_web_identities(runtime, summary)
    await check_decided_results_have_their_messages(runtime, apps)
    await check_every_message_agrees_with_its_outbox(runtime)
    await check_the_story_through_the_kpi_service(runtime)
    await check_the_approval_inbox_is_a_handful_due_soon(runtime)
    await check_seeding_again_is_a_no_op_and_the_printed_example_works(runtime, client)


async def check_every_message_agrees_with_its_outbox(runtime: Runtime) -> None:
    """A message is sent once its outbox row is, and one still awaiting approval has no row:
    otherwise approving it from today's inbox collides with its own earlier delivery."""
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(OutreachMessage.id, OutreachMessage.state, OutboxItem.state).join(
                    OutboxItem, OutboxItem.message_id == OutreachMessage.id
                )
            )
        ).all()
    assert rows
    awaiting = {MessageState.PENDING_APPROVAL, MessageState.NEEDS_ATTENTION}
    assert [r for r in rows if r[1] in awaiting] == []
    sent = {MessageState.SENT, MessageState.DELIVERED}
    assert [r for r in rows if r[2] is OutboxState.SENT and r[1] not in sent] == []


async def check_the_story_through_the_kpi_service(runtime: Runtime) -> None:
    async with runtime.sessionmaker() as session:
        calendar = await current_calendar(session)
        story = await read_story(session, calendar, now=NOW, promise_working_days=5)
        admin = HRPrincipal(
            user_id=await session.scalar(select(HRUser.id).where(HRUser.role == Role.ADMIN)) or 0,
            role=Role.ADMIN,
            team_ids=frozenset(),
        )
        today = NOW.astimezone(BUSINESS_TZ).date()
        # What a user sees on /console/kpis: the default range, the 90 days ending today.
        default_view = await figures.report(
            session,
            admin,
            KpiFilter(today - timedelta(days=89), today),
            calendar,
            promise_working_days=5,
            compare_teams=True,
            now=NOW,
        )
    before, after = story.before, story.after
    # Unmanaged, most results came late or never; managed, nearly all within the promise.
    assert before.interviews_completed > 80
    assert after.interviews_completed > 80
    assert before.timeliness_rate is not None
    assert before.timeliness_rate < 0.5
    assert after.timeliness_rate is not None
    assert after.timeliness_rate > 0.85
    assert before.time_to_feedback_median is not None
    assert after.time_to_feedback_median is not None
    assert after.time_to_feedback_median < before.time_to_feedback_median <= 20
    assert before.csat.mean is not None
    assert after.csat.mean is not None
    assert before.csat.rated >= 10
    assert after.csat.rated >= 10
    assert after.csat.mean - before.csat.mean >= 0.5
    assert 0.1 < (after.reply_rate or 0) < 0.7
    assert after.handoffs >= 3
    assert after.handoffs_answered == after.handoffs
    assert after.hr_first_response_median_hours is not None
    assert after.hr_first_response_median_hours < 4
    # The overlooked drafts, and results for candidates who withdrew consent to be contacted.
    assert 1 <= after.breaches_open <= 10
    funnel = after.funnel
    assert funnel["applied"] > funnel["ai_interview_completed"] > funnel["next_round"] > 0

    # The default view holds both halves, week by week.
    adopted = adoption_day(NOW)
    weeks = default_view.figures.weeks
    unmanaged = [w for w in weeks if w.week < adopted - timedelta(weeks=1)]
    managed = [w for w in weeks if w.week >= adopted + timedelta(weeks=1)]
    assert len(unmanaged) >= 3
    assert len(managed) >= 5
    for half, low, high in ((unmanaged, 0.0, 0.5), (managed, 0.85, 1.0)):
        in_time = sum(w.in_time for w in half)
        decided = sum(w.completed - w.pending for w in half)
        assert low <= in_time / decided < high, (in_time, decided)
    assert all(w.completed for w in weeks)
    # Every team shows the turn in the comparison.
    assert len(default_view.teams) == 3
    for team in default_view.teams:
        assert team.figures.interviews_completed > 10


async def check_the_approval_inbox_is_a_handful_due_soon(runtime: Runtime) -> None:
    today = NOW.astimezone(BUSINESS_TZ).date()
    async with runtime.sessionmaker() as session:
        drafts = (
            await session.execute(
                select(Job.recruiter_id, OutreachMessage.due_at)
                .join(Application, Application.id == OutreachMessage.application_id)
                .join(Job, Job.id == Application.job_id)
                .where(OutreachMessage.state == MessageState.PENDING_APPROVAL)
            )
        ).all()
    per_recruiter = Counter(recruiter for recruiter, _ in drafts)
    assert len(per_recruiter) >= 5  # nearly every recruiter has a few
    assert 12 <= len(drafts) <= 40
    assert all(1 <= n <= 8 for n in per_recruiter.values()), per_recruiter
    due_soon = [
        due
        for _, due in drafts
        if due is not None
        and today <= due.astimezone(BUSINESS_TZ).date() <= today + timedelta(days=9)
    ]
    assert len(due_soon) >= 0.8 * len(drafts)


async def check_decided_results_have_their_messages(
    runtime: Runtime, apps: list[Application]
) -> None:
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(OutreachMessage.outcome, OutreachMessage.state, func.count()).group_by(
                    OutreachMessage.outcome, OutreachMessage.state
                )
            )
        ).all()
    by_outcome_state = {(outcome, state): n for outcome, state, n in rows}
    # Rejections wait for HR, advances go straight out; every decided result has one message
    # per result version, superseded drafts included.
    assert by_outcome_state.get((Decision.REJECT, MessageState.PENDING_APPROVAL), 0) > 0
    assert by_outcome_state.get((Decision.ADVANCE, MessageState.SENT), 0) > 0
    assert by_outcome_state.get((Decision.REJECT, MessageState.SENT), 0) > 0
    assert sum(by_outcome_state.values()) == sum(a.result_version for a in apps)


def check_every_stage_status_and_ai_interview_state(
    summary: DemoSummary, apps: list[Application]
) -> None:
    assert summary.candidates == CANDIDATE_COUNT
    assert summary.applications == len(apps) > CANDIDATE_COUNT  # some applied twice
    combos = Counter((a.stage, a.status) for a in apps)
    assert dict(combos) == summary.by_stage_and_status
    assert {stage for stage, _ in combos} == set(Stage)
    assert {status for _, status in combos} == set(ApplicationStatus)
    assert {
        (Stage.APPLIED, ApplicationStatus.ACTIVE),
        (Stage.APPLIED, ApplicationStatus.WITHDRAWN),
        (Stage.AI_INTERVIEW, ApplicationStatus.ACTIVE),
        (Stage.AI_INTERVIEW, ApplicationStatus.ON_HOLD),
        (Stage.AI_INTERVIEW, ApplicationStatus.REJECTED),
        (Stage.AI_INTERVIEW, ApplicationStatus.WITHDRAWN),
        (Stage.PHONE_INTERVIEW, ApplicationStatus.ACTIVE),
        (Stage.PHONE_INTERVIEW, ApplicationStatus.REJECTED),
        (Stage.ONSITE_INTERVIEW, ApplicationStatus.ACTIVE),
        (Stage.ONSITE_INTERVIEW, ApplicationStatus.ON_HOLD),
        (Stage.ONSITE_INTERVIEW, ApplicationStatus.REJECTED),
        (Stage.OFFER, ApplicationStatus.ACTIVE),
        (Stage.OFFER, ApplicationStatus.WITHDRAWN),
        (Stage.HIRED, ApplicationStatus.HIRED),
    } <= set(combos)

    at_ai = [a for a in apps if a.stage is Stage.AI_INTERVIEW]
    ai = [i for a in at_ai if (i := ai_interview(a)) is not None]
    waiting = [
        i
        for a in at_ai
        if a.status is ApplicationStatus.ACTIVE
        and (i := ai_interview(a)) is not None
        and i.completed_at is None
    ]
    assert waiting
    assert all(i.scheduled_at is not None and i.scheduled_at > NOW for i in waiting)
    assert any(i.completed_at is not None and i.decision is None for i in ai)
    assert {i.decision for i in ai if i.decision is not None} == set(Decision)


def check_ai_reports_are_in_the_candidates_language(apps: list[Application]) -> None:
    locales = Counter(c.locale for c in {a.candidate_id: a.candidate for a in apps}.values())
    english = CANDIDATE_COUNT // 4
    assert locales == {Locale.ZH_CN: CANDIDATE_COUNT - english, Locale.EN: english}
    completed = [
        (a.candidate, i)
        for a in apps
        if (i := ai_interview(a)) is not None and i.completed_at is not None
    ]
    assert len(completed) > 100
    for candidate, interview in completed:
        assert interview.score is not None
        assert 0 <= interview.score <= 100
        assert interview.report_summary
        assert 2 <= len(interview.strengths) <= 3
        assert 1 <= len(interview.improvements) <= 3
        prefix = "AI 视频面试" if candidate.locale is Locale.ZH_CN else "AI video interview"
        assert interview.report_summary.startswith(prefix)
        if interview.decision is not None:
            assert interview.decided_at is not None
            assert interview.completed_at is not None
            assert interview.decided_at >= interview.completed_at
    assert {c.locale for c, i in completed if i.decision is Decision.REJECT} == set(Locale)


def check_candidates_look_real_and_history_is_complete(apps: list[Application]) -> None:
    for application in apps:
        candidate = application.candidate
        if candidate.locale is Locale.ZH_CN:
            assert candidate.mobile is not None
            assert re.fullmatch(r"1[3-9]\d{9}", candidate.mobile)
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", candidate.name)
        if candidate.email is not None:
            assert candidate.email.endswith(("@example.com", "@example.net", "@example.org"))
        assert candidate.preferred_channels
        assert set(candidate.preferred_channels) <= {c.value for c in Channel}

        assert application.applied_at.tzinfo is not None
        assert NOW - timedelta(days=HISTORY_DAYS) <= application.applied_at < NOW
        history = application.stage_changes
        assert history[0].from_stage is None
        assert history[0].to_stage is Stage.APPLIED
        assert (history[-1].to_stage, history[-1].to_status) == (
            application.stage,
            application.status,
        )
        times = [change.changed_at for change in history]
        assert times == sorted(times)
        assert times[-1] < NOW
        assert all(change.source.startswith("ats:demo-") for change in history)
    assert any(not a.candidate.consent_contact for a in apps)
    assert any(a.candidate.consent_talent_pool for a in apps)


async def check_logins_token_and_web_identities(runtime: Runtime, summary: DemoSummary) -> None:
    async with runtime.sessionmaker() as session:
        token = await authenticate(session, DEMO_ATS_TOKEN)
        assert token is not None
        assert Scope.ATS_WRITE in token.scopes

        users = list(await session.scalars(select(HRUser)))
        assert Counter(u.role for u in users) == {
            Role.ADMIN: 1,
            Role.TEAM_LEAD: 3,
            Role.RECRUITER: 6,
        }
        hasher = PasswordHasher()
        for user in users:
            assert user.password_hash is not None
            assert hasher.verify(user.password_hash, DEMO_PASSWORD)

        jobs = list(await session.scalars(select(Job)))
        assert len(jobs) == len(JOBS)
        assert all(job.recruiter_id is not None and job.location for job in jobs)

        identities = list(
            await session.scalars(
                select(ChatIdentity)
                .where(ChatIdentity.channel == Channel.WEB)
                .options(selectinload(ChatIdentity.candidate))
                .order_by(ChatIdentity.id)
            )
        )
    # Counted outside the session above: on SQLite every transaction takes the write lock.
    assert await count(runtime, Team) == 3
    assert await count(runtime, TeamMembership) == 9
    assert [i.external_user_id for i in identities] == [
        b.external_user_id for b in summary.web_bindings
    ]
    assert len(identities) >= 6
    for identity, binding in zip(identities, summary.web_bindings, strict=True):
        assert identity.channel is Channel.WEB
        assert identity.candidate is not None
        assert identity.candidate.external_id == binding.candidate_external_id
        assert identity.bound_at is not None


SEEDED = (Application, Candidate, AtsEvent, HRUser, ApiToken, StageChange, ChatIdentity)


async def check_seeding_again_is_a_no_op_and_the_printed_example_works(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    counts = [await count(runtime, model) for model in SEEDED]

    second = await seed(runtime)

    assert second is None
    assert [await count(runtime, model) for model in SEEDED] == counts

    auth = {"Authorization": f"Bearer {DEMO_ATS_TOKEN}"}
    event = example_ats_event(NOW)
    posted = await client.post("/api/v1/ats/events", json=event, headers=auth)
    replay = await client.post("/api/v1/ats/events", json=event, headers=auth)

    assert posted.status_code == 200, posted.text
    assert posted.json()["stage"] == "applied"
    assert replay.headers["Idempotent-Replayed"] == "true"
    async with runtime.sessionmaker() as session:
        job = await session.scalar(select(Job).where(Job.external_id == JOBS[0].external_id))
    assert job is not None
    # The example names the job exactly as the demo does, so posting it renames nothing.
    assert (job.title, job.location) == (JOBS[0].title, JOBS[0].location)


def test_the_plan_is_the_same_for_the_same_seed_and_day() -> None:
    plan = plan_demo(NOW)

    assert plan_demo(NOW) == plan
    assert plan_demo(NOW, seed=1) != plan
    assert [e.event_id for e in plan.events] == [
        f"demo-{n}" for n in range(1, 1 + len(plan.events))
    ]
    occurred = [e.occurred_at for e in plan.events]
    assert all(at is not None and at.tzinfo is not None for at in occurred)
