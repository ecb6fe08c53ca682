"""The demo company: teams, HR users, jobs and a few hundred candidates at every stage, with
six months of history that tells a story: four and a half months of results going out late
or not at all, then six weeks of feedback managed with Candor.

Applications and interviews are written by feeding ATS events to `candor.ats.service`, the
path a real ATS takes, so the demo exercises the real rules and leaves the real stage history.
HR's approvals, the dispatcher's sends and the candidates' replies, ratings and hand-offs go
through their services too, each with the clock (`candor.clock.clock_at`) at its moment.
Only what no service creates (teams, HR users, the demo token, web chat identities) is
written directly.

The data comes from a fixed random seed and is laid out relative to "now": the same day gives
the same company, and its dates always look recent. Nothing here commits; the caller owns the
transaction, so a failed seed leaves nothing behind.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import cast

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.ats import repository, service
from candor.ats.intake import accept_event
from candor.ats.schemas import (
    ApplicationCreated,
    ApplicationCreatedEvent,
    ApplicationWithdrawn,
    ApplicationWithdrawnEvent,
    AtsEventIn,
    CandidateIn,
    InterviewCompleted,
    InterviewCompletedEvent,
    InterviewReport,
    InterviewScheduled,
    InterviewScheduledEvent,
    ResultDecided,
    ResultDecidedEvent,
    StageChanged,
    StageChangedEvent,
)
from candor.auth.tokens import Scope, issue_token
from candor.chat import binding, transcript
from candor.clock import BUSINESS_TZ, clock_at, utcnow
from candor.delivery.ports import Delivery, SendResult, Sent
from candor.demo.content import (
    EMAIL_DOMAINS,
    EN_CHANNELS,
    EN_FIRST_NAMES,
    EN_LAST_NAMES,
    GENERIC_IMPROVEMENTS,
    GIVEN_NAMES,
    HR_USERS,
    IMPROVEMENTS,
    JOBS,
    NEXT_STEPS,
    STRENGTHS,
    SURNAMES,
    TEAM_BY_ID,
    TEAMS,
    WITHDRAW_REASONS,
    ZH_CHANNELS,
    DemoJob,
    ai_summary,
    human_summary,
)
from candor.dialogue import service as dialogue
from candor.models import (
    Application,
    ChatIdentity,
    Conversation,
    HRUser,
    Job,
    Team,
    TeamMembership,
)
from candor.models.enums import (
    ApplicationStatus,
    Channel,
    Decision,
    InterviewKind,
    Locale,
    Stage,
)
from candor.models.outreach import MessageState, OutreachMessage
from candor.outreach.context import ResultDrafter, outreach_context
from candor.outreach.dispatcher import Dispatcher
from candor.outreach.service import OutreachContext, approve, reject
from candor.outreach.templates import load_default_templates
from candor.runtime import Runtime
from candor.settings import Environment, Settings
from candor.sla.calendar import WorkingCalendar
from candor.sla.service import current_calendar

DEMO_SEED = 20240601
DEMO_PASSWORD = "candor-demo"  # noqa: S105 - printed on purpose: the demo is for development
# Well known so the printed curl example works as is; that is also why production refuses it.
DEMO_ATS_TOKEN = "cnd_demo_ats_token"  # noqa: S105
DEMO_TOKEN_NAME = "demo-ats (candor demo)"  # noqa: S105
CANDIDATE_COUNT = 284
# About six months of history: the company ran its ATS for four and a half months before it
# adopted Candor, and has managed its feedback with it for the last six weeks. The dashboard's
# default 90 days hold about six weeks of each half, enough for even the smallest team's
# few interviews a week to show the turn, so it is the first thing a demo user sees there.
HISTORY_DAYS = 182
ADOPTED_WEEKS_AGO = 6
# Drafts a recruiter overlooked since: the open SLA breaches the dashboard and worker show.
FORGOTTEN_DRAFTS = 2
# Candidates who read their result in WeChat and may reply, rate it or ask for a person.
CHATTING_SHARE = 0.6
RATINGS = (1, 2, 8, 30, 45)  # weights of 1..5 stars for a result heard in time
LATE_RATINGS = (40, 30, 20, 7, 3)  # and for one that came late
# In time but before adoption: results came in a few words, questions went unanswered.
UNMANAGED_RATINGS = (10, 25, 35, 20, 10)
CHAT_REPLIES = ("谢谢通知！", "好的，收到。", "Thanks for letting me know.", "明白了，谢谢")
HANDOFF_REQUESTS = ("我想和招聘顾问聊一下", "Can I talk to a recruiter?")
HR_ANSWER = "您好，我是负责该职位的招聘顾问，请问有什么可以帮您？"


def adoption_day(now: datetime) -> date:
    """The Monday the demo company started managing its feedback with Candor."""
    today = now.astimezone(BUSINESS_TZ).date()
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=ADOPTED_WEEKS_AGO)


class DemoRefusedError(RuntimeError):
    """The demo would put a well-known token and password into a production database."""


def refuse_in_production(settings: Settings) -> None:
    if settings.env is Environment.PRODUCTION:
        raise DemoRefusedError(
            "candor demo refuses to run with CANDOR_ENV=production: it creates HR logins with "
            f"the public password {DEMO_PASSWORD!r} and the well-known integration token "
            f"{DEMO_ATS_TOKEN!r}. Use a development database."
        )


EventData = (
    ApplicationCreated
    | InterviewScheduled
    | InterviewCompleted
    | ResultDecided
    | StageChanged
    | ApplicationWithdrawn
)


def _envelope(event_id: str, occurred_at: datetime, data: EventData) -> AtsEventIn:
    match data:
        case ApplicationCreated():
            return ApplicationCreatedEvent(
                event_id=event_id, occurred_at=occurred_at, type="application_created", data=data
            )
        case InterviewScheduled():
            return InterviewScheduledEvent(
                event_id=event_id, occurred_at=occurred_at, type="interview_scheduled", data=data
            )
        case InterviewCompleted():
            return InterviewCompletedEvent(
                event_id=event_id, occurred_at=occurred_at, type="interview_completed", data=data
            )
        case ResultDecided():
            return ResultDecidedEvent(
                event_id=event_id, occurred_at=occurred_at, type="result_decided", data=data
            )
        case StageChanged():
            return StageChangedEvent(
                event_id=event_id, occurred_at=occurred_at, type="stage_changed", data=data
            )
        case ApplicationWithdrawn():
            return ApplicationWithdrawnEvent(
                event_id=event_id, occurred_at=occurred_at, type="application_withdrawn", data=data
            )
    raise AssertionError(f"unhandled event data {type(data).__name__}")  # pragma: no cover


def _business_time(rng: random.Random, day: date) -> datetime:
    """A moment during a Chinese working day, when recruiters and ATS jobs actually act."""
    return datetime.combine(
        day, time(rng.randint(9, 19), rng.choice((0, 5, 10, 15, 20, 30, 40, 45, 50))), BUSINESS_TZ
    )


class _Journey:
    """One application's events, in the order an ATS would send them."""

    def __init__(
        self,
        *,
        rng: random.Random,
        number: int,
        candidate: CandidateIn,
        job: DemoJob,
        applied_at: datetime,
        now: datetime,
    ) -> None:
        self.rng = rng
        self.number = number
        self.locale = candidate.locale
        self.job = job
        self.application_external_id = f"demo-app-{number:04d}"
        self.today = now.astimezone(BUSINESS_TZ).date()
        self.adopted_on = adoption_day(now)
        # Every past event stays a little before now, so nothing looks like it comes from the
        # future except the interview slots that are meant to be upcoming.
        self.limit = now - timedelta(minutes=5)
        self.cursor = applied_at
        self.steps: list[tuple[datetime, EventData]] = [
            (
                applied_at,
                ApplicationCreated(
                    application_external_id=self.application_external_id,
                    applied_at=applied_at,
                    candidate=candidate,
                    job=job.short_ref(),
                ),
            )
        ]

    def _interview_id(self, kind: InterviewKind) -> str:
        return f"demo-int-{self.number:04d}-{kind.value}"

    def _advance_to(self, at: datetime) -> datetime:
        if at <= self.cursor:
            at = self.cursor + timedelta(minutes=self.rng.randint(20, 90))
        if at > self.limit:
            # The drawn gaps ran past now: let it follow the previous step closely instead, or,
            # when even that is too late, squeeze it in between the previous step and now.
            soon = self.cursor + timedelta(minutes=self.rng.randint(10, 60))
            at = soon if soon <= self.limit else self.cursor + (self.limit - self.cursor) / 2
        self.cursor = at.replace(microsecond=0)
        return self.cursor

    def _days_later(self, low: int, high: int) -> datetime:
        day = self.cursor.astimezone(BUSINESS_TZ).date() + timedelta(
            days=self.rng.randint(low, high)
        )
        return self._advance_to(_business_time(self.rng, day))

    def _minutes_later(self, low: int, high: int) -> datetime:
        return self._advance_to(self.cursor + timedelta(minutes=self.rng.randint(low, high)))

    def _add(self, at: datetime, data: EventData) -> None:
        self.steps.append((at, data))

    def schedule_upcoming(self, kind: InterviewKind) -> None:
        """Invite now for a slot in the next days.

        The stage moves when the invitation goes out; scheduling alone would date the stage
        change at the future slot, which would look like history from the future.
        """
        invited_at = self._days_later(1, 2)
        stage = {
            InterviewKind.AI_VIDEO: Stage.AI_INTERVIEW,
            InterviewKind.PHONE: Stage.PHONE_INTERVIEW,
            InterviewKind.ONSITE: Stage.ONSITE_INTERVIEW,
        }[kind]
        self._add(
            invited_at,
            StageChanged(
                application_external_id=self.application_external_id,
                stage=stage,
                changed_at=invited_at,
            ),
        )
        slot = _business_time(self.rng, self.today + timedelta(days=self.rng.randint(1, 4)))
        self._add(
            self._minutes_later(1, 5),
            InterviewScheduled(
                application_external_id=self.application_external_id,
                interview_external_id=self._interview_id(kind),
                kind=kind,
                scheduled_at=slot,
            ),
        )

    def schedule_past(self, kind: InterviewKind) -> None:
        low, high = {
            InterviewKind.AI_VIDEO: (1, 3),
            InterviewKind.PHONE: (1, 4),
            InterviewKind.ONSITE: (2, 5),
        }[kind]
        slot = self._days_later(low, high)
        self._add(
            slot,
            InterviewScheduled(
                application_external_id=self.application_external_id,
                interview_external_id=self._interview_id(kind),
                kind=kind,
                scheduled_at=slot,
            ),
        )

    def interview(self, kind: InterviewKind, decision: Decision | None = None) -> None:
        """Schedule, hold and (optionally) decide one interview in the past."""
        self.schedule_past(kind)
        duration = {
            InterviewKind.AI_VIDEO: (25, 50),
            InterviewKind.PHONE: (30, 60),
            InterviewKind.ONSITE: (120, 240),
        }[kind]
        completed_at = self._minutes_later(*duration)
        report, score = self._report(kind, decision)
        # Some AI-interview vendors decide on the spot and most interviewers submit their
        # verdict with the scorecard; the rest are decided days later in the ATS. Deciding on
        # the spot is also one event fewer, and every event costs the seed several statements.
        # Before Candor, results were decided whenever someone got round to it.
        managed = self.cursor.astimezone(BUSINESS_TZ).date() >= self.adopted_on
        on_the_spot = decision is not None and self.rng.random() < (
            (0.5 if kind is InterviewKind.AI_VIDEO else 0.7) if managed else 0.15
        )
        self._add(
            completed_at,
            InterviewCompleted(
                application_external_id=self.application_external_id,
                interview_external_id=self._interview_id(kind),
                kind=kind,
                completed_at=completed_at,
                score=score,
                report=report,
                decision=decision if on_the_spot else None,
                decided_at=completed_at if on_the_spot else None,
                next_steps=self._next_steps(kind, decision) if on_the_spot else None,
            ),
        )
        if decision is None or on_the_spot:
            return
        low, high = (
            {
                InterviewKind.AI_VIDEO: (0, 2),
                InterviewKind.PHONE: (0, 2),
                InterviewKind.ONSITE: (1, 3),
            }[kind]
            if managed
            else (3, 16)
        )
        decided_at = self._days_later(low, high)
        self._add(
            decided_at,
            ResultDecided(
                application_external_id=self.application_external_id,
                interview_external_id=self._interview_id(kind),
                decision=decision,
                decided_at=decided_at,
                next_steps=self._next_steps(kind, decision),
            ),
        )

    def move(self, stage: Stage) -> None:
        low, high = (5, 12) if stage is Stage.HIRED else (1, 4)
        at = self._days_later(low, high)
        self._add(
            at,
            StageChanged(
                application_external_id=self.application_external_id, stage=stage, changed_at=at
            ),
        )

    def withdraw(self) -> None:
        at = self._days_later(1, 6)
        self._add(
            at,
            ApplicationWithdrawn(
                application_external_id=self.application_external_id,
                withdrawn_at=at,
                reason=self.rng.choice(WITHDRAW_REASONS[self.locale]),
            ),
        )

    def _next_steps(self, kind: InterviewKind, decision: Decision | None) -> str | None:
        if decision is None:
            return None
        return NEXT_STEPS.get((kind, decision, self.locale))

    def _report(
        self, kind: InterviewKind, decision: Decision | None
    ) -> tuple[InterviewReport, float | None]:
        family = TEAM_BY_ID[self.job.team_external_id].family
        strengths = STRENGTHS[(family, self.locale)]
        improvements = IMPROVEMENTS[(family, self.locale)] + GENERIC_IMPROVEMENTS[self.locale]
        if kind is not InterviewKind.AI_VIDEO:
            # Interviewers write a line or two, not a scored report.
            return (
                InterviewReport(
                    summary=human_summary(kind, decision, self.locale),
                    strengths=self.rng.sample(strengths, 1),
                    improvements=self.rng.sample(improvements, 1),
                ),
                None,
            )
        low, high = {
            Decision.ADVANCE: (72.0, 95.0),
            Decision.HOLD: (62.0, 74.0),
            Decision.REJECT: (38.0, 64.0),
            None: (45.0, 92.0),
        }[decision]
        score = round(self.rng.uniform(low, high), 1)
        # Stronger candidates get more strengths and fewer points to work on, as real reports do.
        n_strengths = 3 if score >= 75 else 2
        n_improvements = 1 if score >= 85 else 2 if score >= 65 else 3
        return (
            InterviewReport(
                summary=ai_summary(score, self.job.title, self.locale),
                strengths=self.rng.sample(strengths, n_strengths),
                improvements=self.rng.sample(improvements, n_improvements),
            ),
            score,
        )


AI = InterviewKind.AI_VIDEO
PHONE = InterviewKind.PHONE
ONSITE = InterviewKind.ONSITE


def _offer(j: _Journey) -> None:
    _onsite(Decision.ADVANCE)(j)
    j.move(Stage.OFFER)


def _offer_declined(j: _Journey) -> None:
    _offer(j)
    j.withdraw()


def _hired(j: _Journey) -> None:
    _offer(j)
    j.move(Stage.HIRED)


def _phone(decision: Decision | None) -> Callable[[_Journey], None]:
    def play(j: _Journey) -> None:
        j.interview(AI, Decision.ADVANCE)
        j.interview(PHONE, decision)

    return play


def _onsite(decision: Decision | None) -> Callable[[_Journey], None]:
    def play(j: _Journey) -> None:
        j.interview(AI, Decision.ADVANCE)
        j.interview(PHONE, Decision.ADVANCE)
        j.interview(ONSITE, decision)

    return play


def _upcoming_after(*kinds: InterviewKind) -> Callable[[_Journey], None]:
    """Passed each of `kinds`, then invited to the next round, which is still ahead."""
    upcoming = (AI, PHONE, ONSITE)[len(kinds)]

    def play(j: _Journey) -> None:
        for kind in kinds:
            j.interview(kind, Decision.ADVANCE)
        j.schedule_upcoming(upcoming)

    return play


def _withdrawn_after(*kinds: InterviewKind) -> Callable[[_Journey], None]:
    def play(j: _Journey) -> None:
        for kind in kinds[:-1]:
            j.interview(kind, Decision.ADVANCE)
        if kinds:
            # Invited, then gave up: either skipped the interview or left after it.
            if kinds[-1] is AI:
                j.schedule_past(AI)
            else:
                j.interview(kinds[-1])
        j.withdraw()

    return play


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    label: str
    count: int
    days_ago: tuple[int, int]
    play: Callable[[_Journey], None]


def _nothing(_journey: _Journey) -> None:
    """Applied; nobody has acted yet."""


def _ai(decision: Decision | None) -> Callable[[_Journey], None]:
    def play(j: _Journey) -> None:
        j.interview(AI, decision)

    return play


INBOX_SCENARIO = "ai_rejected_recently"
# How many of the demo's candidates end up where, and how long ago they applied. The counts
# add up to CANDIDATE_COUNT; the mix is shaped like an AI-interview funnel, where most
# candidates stop at the AI interview.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("applied", "applied, not yet invited", 32, (1, 6), _nothing),
    Scenario("ai_scheduled", "AI interview scheduled", 28, (2, 6), _upcoming_after()),
    Scenario("ai_awaiting", "AI interview done, awaiting result", 31, (2, 6), _ai(None)),
    Scenario("ai_rejected", "rejected after AI interview", 43, (6, 180), _ai(Decision.REJECT)),
    # Decided in the last days: their drafts are what today's approval inbox holds.
    Scenario(
        INBOX_SCENARIO,
        "rejected after AI interview this week",
        34,
        (1, 3),
        _ai(Decision.REJECT),
    ),
    Scenario("ai_on_hold", "on hold after AI interview", 20, (8, 175), _ai(Decision.HOLD)),
    Scenario("ai_advanced", "passed AI interview", 15, (5, 14), _ai(Decision.ADVANCE)),
    Scenario("phone_scheduled", "phone interview scheduled", 10, (8, 20), _upcoming_after(AI)),
    Scenario("phone_awaiting", "phone interview done, awaiting result", 7, (5, 9), _phone(None)),
    Scenario(
        "phone_rejected", "rejected after phone interview", 12, (12, 178), _phone(Decision.REJECT)
    ),
    Scenario(
        "onsite_scheduled", "onsite interview scheduled", 8, (12, 30), _upcoming_after(AI, PHONE)
    ),
    Scenario(
        "onsite_rejected", "rejected after onsite interview", 7, (18, 178), _onsite(Decision.REJECT)
    ),
    Scenario(
        "onsite_on_hold", "on hold after onsite interview", 3, (18, 170), _onsite(Decision.HOLD)
    ),
    Scenario("offer", "offer extended", 8, (22, 45), _offer),
    Scenario("offer_declined", "declined the offer", 3, (28, 170), _offer_declined),
    Scenario("hired", "hired", 8, (38, 178), _hired),
    Scenario("withdrawn_applied", "withdrew after applying", 5, (3, 150), _withdrawn_after()),
    Scenario("withdrawn_ai", "withdrew before the AI interview", 7, (5, 150), _withdrawn_after(AI)),
    Scenario(
        "withdrawn_phone",
        "withdrew after the phone interview",
        3,
        (14, 170),
        _withdrawn_after(AI, PHONE),
    ),
)
SCENARIO_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
ONE_RESULT_SCENARIOS = frozenset(
    {
        "applied",
        "ai_scheduled",
        "ai_awaiting",
        "ai_rejected",
        INBOX_SCENARIO,
        "ai_on_hold",
        "withdrawn_applied",
        "withdrawn_ai",
    }
)
# Candidates who also applied for a second job, so the chat has to ask "which application?".
SECOND_APPLICATIONS = 10
SECOND_APPLICATION_SCENARIOS = ("applied", "ai_scheduled", "ai_awaiting")
# Whom the pre-bound web chat identities belong to: one candidate in each situation a
# candidate typically asks about.
WEB_BINDING_SCENARIOS = (
    "ai_awaiting",
    "ai_rejected",
    "ai_on_hold",
    "ai_advanced",
    "ai_scheduled",
    "offer",
)


@dataclass(frozen=True, slots=True)
class WebBinding:
    external_user_id: str
    candidate_external_id: str
    candidate_name: str
    situation: str


@dataclass(frozen=True, slots=True)
class DemoPlan:
    events: tuple[AtsEventIn, ...]
    candidates: int
    applications: int
    web_bindings: tuple[WebBinding, ...]


class _People:
    """Candidate identities: names, unique mobiles and e-mails, consents and channels."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.mobiles: set[str] = set()
        self.emails: set[str] = set()

    def _unique(self, seen: set[str], make: Callable[[], str]) -> str:
        while (value := make()) in seen:
            pass
        seen.add(value)
        return value

    def _china_mobile(self) -> str:
        # 138/139 only: clearly demo-looking, and the demo never sends SMS anyway.
        return self._unique(
            self.mobiles,
            lambda: f"13{self.rng.choice('89')}{self.rng.randint(0, 99_999_999):08d}",
        )

    def _email(self, local_parts: list[str]) -> str:
        def make() -> str:
            local = self.rng.choice(local_parts)
            if self.rng.random() < 0.6:
                local += str(self.rng.randint(1, 99))
            return f"{local}@{self.rng.choice(EMAIL_DOMAINS)}"

        return self._unique(self.emails, make)

    def candidate(self, number: int, locale: Locale, *, may_be_unreachable: bool) -> CandidateIn:
        """`may_be_unreachable`: whether the candidate may lack an e-mail address or have
        withdrawn consent to be contacted. Only those with one result at most are: one who
        advanced round after round would pile unreachable results into one team's few weeks
        and hide the story its dashboard tells."""
        rng = self.rng
        if locale is Locale.ZH_CN:
            surname, surname_py = rng.choices(SURNAMES, weights=range(len(SURNAMES), 0, -1), k=1)[0]
            given, given_py = rng.choice(GIVEN_NAMES)
            name = surname + given
            mobile: str | None = self._china_mobile()
            email: str | None = (
                self._email([f"{given_py}.{surname_py}", f"{surname_py}{given_py}"])
                if rng.random() < 0.95 or not may_be_unreachable
                else None
            )
            channel_table = ZH_CHANNELS
        else:
            first, last = rng.choice(EN_FIRST_NAMES), rng.choice(EN_LAST_NAMES)
            name = f"{first} {last}"
            ascii_last = last.replace("ü", "ue").lower()
            email = self._email(
                [f"{first.lower()}.{ascii_last}", f"{first[0].lower()}{ascii_last}"]
            )
            roll = rng.random()
            if roll < 0.4:
                mobile = self._china_mobile()  # living in China
            elif roll < 0.7:
                # Ofcom's range for fiction: +44 7700 900000-900999.
                mobile = self._unique(
                    self.mobiles, lambda: f"+44 7700 900{rng.randint(0, 999):03d}"
                )
            elif roll < 0.85:
                # The US range reserved for fiction: 555-0100 to 555-0199.
                mobile = self._unique(
                    self.mobiles, lambda: f"+1 202 555 01{rng.randint(0, 99):02d}"
                )
            else:
                mobile = None
            channel_table = EN_CHANNELS
        orders = [order for order, _ in channel_table]
        weights = [weight for _, weight in channel_table]
        channels = [
            channel
            for channel in rng.choices(orders, weights=weights, k=1)[0]
            if channel is not Channel.EMAIL or email is not None
        ] or [Channel.WECHAT]
        return CandidateIn(
            external_id=f"demo-cand-{number:04d}",
            name=name,
            mobile=mobile,
            email=email,
            locale=locale,
            # A few candidates withdrew consent to be contacted (PIPL): outreach must skip them.
            consent_contact=rng.random() >= 0.04 or not may_be_unreachable,
            consent_talent_pool=rng.random() < 0.45,
            consent_wechat_subscription=Channel.WECHAT in channels and rng.random() < 0.4,
            preferred_channels=channels,
        )


def plan_demo(now: datetime, *, seed: int = DEMO_SEED) -> DemoPlan:
    """The demo's ATS events, generated from `seed` and laid out before `now`. No I/O."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not secrets
    people = _People(rng)
    today = now.astimezone(BUSINESS_TZ).date()
    assert sum(s.count for s in SCENARIOS) == CANDIDATE_COUNT

    english = set(rng.sample(range(1, CANDIDATE_COUNT + 1), CANDIDATE_COUNT // 4))
    scenario_names = [s.name for s in SCENARIOS for _ in range(s.count)]
    rng.shuffle(scenario_names)

    journeys: list[_Journey] = []

    recruiters = sorted({job.recruiter_email for job in JOBS})
    inbox_turn = [0]

    def start(candidate: CandidateIn, scenario: Scenario, exclude: DemoJob | None) -> DemoJob:
        english_candidate = candidate.locale is Locale.EN
        # English speakers mostly apply for the English-titled roles, but not only.
        pool = [
            job
            for job in JOBS
            if job is not exclude
            and (job.english == english_candidate or (english_candidate and rng.random() < 0.25))
        ]
        if scenario.name == INBOX_SCENARIO:
            # Today's drafts go round the recruiters, so each finds a handful in the inbox.
            recruiter = recruiters[inbox_turn[0] % len(recruiters)]
            inbox_turn[0] += 1
            pool = [job for job in pool if job.recruiter_email == recruiter] or pool
        job = rng.choices(pool, weights=[job.weight for job in pool], k=1)[0]
        days_ago = rng.randint(*scenario.days_ago)
        applied_at = _business_time(rng, today - timedelta(days=min(days_ago, HISTORY_DAYS - 2)))
        journey = _Journey(
            rng=rng,
            number=len(journeys) + 1,
            candidate=candidate,
            job=job,
            applied_at=applied_at,
            now=now,
        )
        scenario.play(journey)
        journeys.append(journey)
        return job

    candidates: list[tuple[CandidateIn, str, DemoJob]] = []
    for number, name in enumerate(scenario_names, start=1):
        locale = Locale.EN if number in english else Locale.ZH_CN
        candidate = people.candidate(
            number, locale, may_be_unreachable=name in ONE_RESULT_SCENARIOS
        )
        job = start(candidate, SCENARIO_BY_NAME[name], exclude=None)
        candidates.append((candidate, name, job))

    twice = rng.sample(candidates, SECOND_APPLICATIONS)
    for candidate, _, first_job in twice:
        scenario = SCENARIO_BY_NAME[rng.choice(SECOND_APPLICATION_SCENARIOS)]
        start(candidate, scenario, exclude=first_job)

    # A real ATS sends events as things happen, so application codes follow application dates.
    timeline = sorted(
        (at, index, step_index, data)
        for index, journey in enumerate(journeys)
        for step_index, (at, data) in enumerate(journey.steps)
    )
    events = tuple(
        _envelope(f"demo-{n}", at, data) for n, (at, _, _, data) in enumerate(timeline, start=1)
    )
    return DemoPlan(
        events=events,
        candidates=len(candidates),
        applications=len(journeys),
        web_bindings=_web_bindings(candidates, twice),
    )


def _web_bindings(
    candidates: list[tuple[CandidateIn, str, DemoJob]],
    twice: list[tuple[CandidateIn, str, DemoJob]],
) -> tuple[WebBinding, ...]:
    chosen: list[tuple[CandidateIn, str]] = []

    def first(scenario: str, locale: Locale) -> None:
        for candidate, name, _ in candidates:
            if name == scenario and candidate.locale is locale and candidate.consent_contact:
                chosen.append((candidate, SCENARIO_BY_NAME[name].label))
                return

    for scenario in WEB_BINDING_SCENARIOS:
        first(scenario, Locale.ZH_CN)
    first("ai_rejected", Locale.EN)
    chosen.append((twice[0][0], "applied for two jobs"))
    return tuple(
        WebBinding(
            external_user_id=f"demo-web-{n}",
            candidate_external_id=candidate.external_id,
            candidate_name=candidate.name,
            situation=situation,
        )
        for n, (candidate, situation) in enumerate(chosen, start=1)
    )


@dataclass(frozen=True, slots=True)
class DemoSummary:
    teams: int
    hr_users: int
    jobs: int
    candidates: int
    applications: int
    events: int
    by_stage_and_status: dict[tuple[Stage, ApplicationStatus], int]
    web_bindings: tuple[WebBinding, ...]
    history_from: date  # the first day of the six months
    adopted_on: date  # the day the company started managing feedback with Candor


async def demo_present(session: AsyncSession) -> bool:
    # Seeding is one transaction, so the first team stands for the whole demo company.
    return await repository.team_by_external_id(session, TEAMS[0].external_id) is not None


Progress = Callable[[int, int], None]
"""Told (events ingested, events in all) as seeding goes: the bulk of its seconds."""


async def seed_demo_if_absent(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DemoSummary | None:
    """Seed the demo company unless it is there already; None means nothing was written."""
    if await demo_present(session):
        return None
    return await seed_demo(session, settings, now=now, progress=progress)


async def seed_demo(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Write the demo company into the caller's transaction (flushes, never commits)."""
    now = now or utcnow()
    plan = plan_demo(now)
    if progress is not None:
        progress(0, len(plan.events))

    teams = {t.external_id: Team(external_id=t.external_id, name=t.name) for t in TEAMS}
    session.add_all(teams.values())
    # All demo users share one password, so one (deliberately slow) argon2 hash serves them all.
    password_hash = PasswordHasher().hash(DEMO_PASSWORD)
    users = [
        (
            HRUser(
                email=u.email,
                display_name=u.display_name,
                role=u.role,
                password_hash=password_hash,
                is_active=True,
            ),
            u.team_external_id,
        )
        for u in HR_USERS
    ]
    session.add_all(user for user, _ in users)
    await session.flush()
    session.add_all(
        TeamMembership(team_id=teams[team_id].id, user_id=user.id)
        for user, team_id in users
        if team_id is not None
    )
    for job in JOBS:
        await service.upsert_job(session, job.ref())
    await issue_token(
        session, name=DEMO_TOKEN_NAME, scopes=[Scope.ATS_WRITE], plaintext=DEMO_ATS_TOKEN
    )

    # Six months of outreach, written as it happened: the clock stands at each event's time
    # while the real services draft, approve and send (see _History).
    await load_default_templates(session)
    context = await outreach_context(session, settings)
    history = _History(session, settings, context, await current_calendar(session), now=now)
    await history.play(plan.events, progress)

    for web in plan.web_bindings:
        candidate = await repository.candidate_by_external_id(session, web.candidate_external_id)
        assert candidate is not None
        session.add(
            ChatIdentity(
                channel=Channel.WEB,
                external_user_id=web.external_user_id,
                candidate_id=candidate.id,
                bound_at=now,
            )
        )
    await session.flush()

    rows = await session.execute(
        select(Application.stage, Application.status, func.count()).group_by(
            Application.stage, Application.status
        )
    )
    return DemoSummary(
        teams=len(TEAMS),
        hr_users=len(HR_USERS),
        jobs=len(JOBS),
        candidates=plan.candidates,
        applications=plan.applications,
        events=len(plan.events),
        by_stage_and_status={(stage, status): count for stage, status, count in rows},
        web_bindings=plan.web_bindings,
        history_from=now.astimezone(BUSINESS_TZ).date() - timedelta(days=HISTORY_DAYS),
        adopted_on=adoption_day(now),
    )


class _DemoSender:
    """The demo's channels: every delivery is accepted, as a working provider would."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent = 0

    async def aclose(self) -> None:
        return None

    async def send(self, delivery: Delivery) -> SendResult:
        self.sent += 1
        return Sent(f"demo-{self.sent:05d}")


class _SeedRuntime:
    """The dispatcher's runtime during seeding: its "transactions" are the seed's one, so a
    failed seed still leaves nothing behind."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        yield self.session


Action = Callable[[], Awaitable[None]]


class _History:
    """Plays the plan's ATS events in time order with the clock (`candor.clock.clock_at`) at
    each one, and HR's and the dispatcher's work in between, through the real services.

    Before the adoption day nobody managed feedback: drafts waited one to four weeks for a
    recruiter, and some were thrown away. From then on each recruiter reviews drafts within
    a couple of working days, and the dispatcher sends within minutes. Drafts whose review
    would come after now are today's approval inbox.
    """

    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        context: OutreachContext,
        calendar: WorkingCalendar,
        *,
        now: datetime,
    ) -> None:
        self.session = session
        self.calendar = calendar
        self.context = context
        self.drafter = ResultDrafter(settings, context)
        self.dispatcher = Dispatcher(
            cast(Runtime, _SeedRuntime(session, settings)),
            {channel: _DemoSender(channel) for channel in Channel},
            context,
            worker_id="candor-demo-seed",
            concurrency=1,
        )
        self.now = now
        # The first working morning from the adoption day on: a Monday can be a holiday.
        self.adopted_at = _next_working_moment(
            calendar, datetime.combine(adoption_day(now), time(9, 30), BUSINESS_TZ)
        )
        self.last_message_id = 0
        self.pending: list[tuple[datetime, int, Action]] = []
        self.sequence = 0
        self.recruiter_by_job: dict[int, int] = {}
        self.forgotten_by: set[int | None] = set()  # whose drafts were overlooked
        self.drafted_at: dict[int, datetime] = {}

    def later(self, at: datetime, action: Action) -> None:
        if at < self.now - timedelta(minutes=1):
            self.sequence += 1
            heapq.heappush(self.pending, (at, self.sequence, action))

    async def run_until(self, at: datetime) -> None:
        while self.pending and self.pending[0][0] <= at:
            when, _, action = heapq.heappop(self.pending)
            with clock_at(when):
                await action()
                # Each action is one unit of work, as a service call's commit would be; the
                # next one may reload rows with populate_existing, which would otherwise
                # silently discard this one's unflushed changes (an approval's new state).
                await self.session.flush()

    async def play(self, events: Sequence[AtsEventIn], progress: Progress | None) -> None:
        self.recruiter_by_job = {
            job_id: recruiter_id
            for job_id, recruiter_id in await self.session.execute(select(Job.id, Job.recruiter_id))
            if recruiter_id is not None
        }
        for done, event in enumerate(events, start=1):
            assert event.occurred_at is not None
            await self.run_until(event.occurred_at)
            with clock_at(event.occurred_at):
                await accept_event(self.session, event, on_result_decided=self.drafter)
            if isinstance(event, ResultDecidedEvent | InterviewCompletedEvent):
                await self.follow_up(event.occurred_at)
            if progress is not None:
                progress(done, len(events))
        await self.run_until(self.now - timedelta(minutes=1))

    def deliver_soon(self, queued_at: datetime) -> None:
        """The worker picks a queued message up within minutes, or when quiet hours end."""
        self.later(
            self.context.quiet_hours.next_allowed(queued_at + timedelta(minutes=2)), self.deliver
        )

    async def deliver(self) -> None:
        while await self.dispatcher.run_once():
            pass

    async def follow_up(self, decided_at: datetime) -> None:
        """Schedule what happens to the drafts this event made."""
        drafted = list(
            await self.session.scalars(
                select(OutreachMessage)
                .where(OutreachMessage.id > self.last_message_id)
                .order_by(OutreachMessage.id)
            )
        )
        for message in drafted:
            self.last_message_id = message.id
            self.drafted_at[message.id] = decided_at
            if message.state is MessageState.QUEUED:
                self.deliver_soon(decided_at)
                self.schedule_chat(message.id, decided_at)
            elif message.state is MessageState.PENDING_APPROVAL:
                await self.schedule_review(message, decided_at)

    async def schedule_review(self, message: OutreachMessage, drafted_at: datetime) -> None:
        rng = random.Random(f"{DEMO_SEED}-review-{message.id}")  # noqa: S311 - fake data
        discard = False
        if drafted_at < self.adopted_at:
            # Unmanaged: reviewed days to weeks after the promise had lapsed, some thrown away;
            # the backlog was cleared on the adoption day. Counted from the deadline in working
            # days, not from the draft in calendar days, so that a holiday (which moves the
            # deadline) cannot turn the late months on time by accident of the date.
            lapsed = (message.due_at or drafted_at).astimezone(BUSINESS_TZ).date()
            review_day, _ = self.calendar.add_working_days(lapsed, rng.randint(2, 15))
            at = min(
                _business_time(rng, review_day),
                self.adopted_at + timedelta(minutes=rng.randint(0, 300)),
            )
            discard = rng.random() < 0.3
        else:
            # Managed: usually the same or the next working day, always within the promise.
            at = _next_working_moment(
                self.calendar, drafted_at + timedelta(hours=rng.uniform(2.0, 70.0))
            )
            if len(self.forgotten_by) < FORGOTTEN_DRAFTS and timedelta(
                days=9
            ) < self.now - drafted_at < timedelta(days=20):
                # One overlooked draft per recruiter at most: a team's few interviews a week
                # would otherwise show a late week that the story does not tell.
                job_id = await self.session.scalar(
                    select(Application.job_id).where(Application.id == message.application_id)
                )
                recruiter = self.recruiter_by_job.get(job_id) if job_id is not None else None
                if recruiter not in self.forgotten_by:
                    self.forgotten_by.add(recruiter)
                    return  # forgotten: one of the few open breaches
        if at >= self.now:
            return  # still in the approval inbox

        async def review() -> None:
            await self.session.refresh(message)
            if message.state is not MessageState.PENDING_APPROVAL:
                return  # superseded by a later result
            actor = await self.reviewer(message)
            if discard:
                await reject(self.session, message, actor=actor, reason="no longer relevant")
                return
            await approve(self.session, message, self.context, actor=actor)
            self.deliver_soon(utcnow())
            self.schedule_chat(message.id, utcnow())

        self.later(at, review)

    def schedule_chat(self, message_id: int, queued_at: datetime) -> None:
        """What the candidate does in chat after the result arrives: reply, rate it (the
        satisfaction question), or ask for a person, whom HR answers."""
        rng = random.Random(f"{DEMO_SEED}-chat-{message_id}")  # noqa: S311 - fake data
        # The backlog cleared on the adoption day reached candidates who had long moved on.
        backlog = queued_at >= self.adopted_at > self.drafted_at.get(message_id, queued_at)
        if rng.random() >= (0.15 if backlog else CHATTING_SHARE):
            return
        # Read (and answered, when a person is asked for) in the day, as most are.
        read_at = _next_working_moment(
            self.calendar, queued_at + timedelta(hours=rng.uniform(0.5, 30.0))
        )

        async def chat() -> None:
            # Fresh: the dispatcher records sends with bulk UPDATEs, past the identity map.
            message = await self.session.get_one(
                OutreachMessage, message_id, populate_existing=True
            )
            if message.state is not MessageState.SENT or message.sent_at is None:
                return
            application = await self.session.get_one(Application, message.application_id)
            thread = await transcript.open_thread(
                self.session, Channel.WECHAT, f"demo-openid-{application.candidate_id:04d}"
            )
            if thread.identity.bound_at is None:
                await binding.bind(
                    self.session,
                    thread.identity,
                    application,
                    actor="system:demo",
                    via="demo",
                    now=utcnow(),
                )
            conversation = thread.conversation
            candidate_id = application.candidate_id
            late = message.due_at is not None and (
                message.sent_at.astimezone(BUSINESS_TZ).date()
                > message.due_at.astimezone(BUSINESS_TZ).date()
            )
            if rng.random() < (0.25 if late else 0.5):
                await self.inbound(conversation, rng.choice(CHAT_REPLIES))
            await dialogue.ask_rating_once(
                self.session, message, candidate_id, conversation.id, now=utcnow()
            )
            if rng.random() < 0.6:
                weights = (
                    LATE_RATINGS
                    if late
                    else RATINGS
                    if message.created_at >= self.adopted_at
                    else UNMANAGED_RATINGS
                )
                rating = rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
                await dialogue.store_rating(self.session, candidate_id, rating, now=utcnow())
            if rng.random() < 0.12:
                await self.inbound(conversation, rng.choice(HANDOFF_REQUESTS))
                await dialogue.open_handoff(
                    self.session, conversation, reason="asked for a person", now=utcnow()
                )
                managed = utcnow() >= self.adopted_at
                answer_at = _next_working_moment(
                    self.calendar,
                    utcnow()
                    + (
                        timedelta(minutes=rng.uniform(10, 120))
                        if managed
                        else timedelta(hours=rng.uniform(20, 90))
                    ),
                )
                if managed or rng.random() < 0.6:
                    actor = await self.reviewer(message)
                    self.later(answer_at, partial(self.answer, conversation.id, actor))

        self.later(read_at, chat)

    async def inbound(self, conversation: Conversation, text: str) -> None:
        await transcript.record_inbound(
            self.session,
            conversation,
            text=text,
            event=None,
            payload=None,
            provider_message_id=None,
            at=utcnow(),
        )
        await transcript.touch(self.session, conversation.id, utcnow())

    async def answer(self, conversation_id: int, actor: str) -> None:
        conversation = await self.session.get_one(Conversation, conversation_id)
        await dialogue.reply_as_hr(self.session, conversation, HR_ANSWER, actor=actor, now=utcnow())

    async def reviewer(self, message: OutreachMessage) -> str:
        job_id = await self.session.scalar(
            select(Application.job_id).where(Application.id == message.application_id)
        )
        assert job_id is not None
        return f"user:{self.recruiter_by_job[job_id]}"


def _next_working_moment(calendar: WorkingCalendar, at: datetime) -> datetime:
    """`at` if it falls in working hours on a working day, else 09:30 on the next one."""
    local = at.astimezone(BUSINESS_TZ)
    if calendar.day(local.date()).working and time(9) <= local.time() <= time(19):
        return at
    day = local.date() + timedelta(days=1 if local.time() > time(19) else 0)
    while not calendar.day(day).working:
        day += timedelta(days=1)
    return datetime.combine(day, time(9, 30), BUSINESS_TZ)


def example_ats_event(now: datetime | None = None) -> dict[str, object]:
    """A new application for a demo job, as an ATS would post it; printed as the curl example.

    The job is referenced with its demo title because ingestion updates a job's title from
    the event: any other title would rename the demo job. The event id carries the minute it
    was printed, so re-sending one printed command is a replay, while a command printed by a
    later run is a new event rather than a conflicting reuse of the old id.
    """
    job = JOBS[0]
    applied_at = (now or utcnow()).astimezone(BUSINESS_TZ).replace(second=0, microsecond=0)
    return {
        "event_id": f"curl-demo-{applied_at:%Y%m%d-%H%M}",
        "type": "application_created",
        "data": {
            "application_external_id": "curl-demo-app-1",
            "applied_at": applied_at.isoformat(),
            "candidate": {
                "external_id": "curl-demo-cand-1",
                "name": "陈晓雨",
                "mobile": "13900001234",
                "email": "chen.xiaoyu@example.com",
                "locale": "zh-CN",
                "preferred_channels": ["wechat", "email"],
            },
            "job": {
                "external_id": job.external_id,
                "title": job.title,
                "team_external_id": job.team_external_id,
            },
        },
    }
