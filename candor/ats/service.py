"""Applying ATS events to Candor's copy of the ATS data: the rules.

Events come in through `candor.ats.intake.accept_event`, which records them for idempotency
and calls `apply_event`. Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.ats import repository
from candor.ats.codes import allocate_application_codes
from candor.ats.errors import (
    ErasedReferenceError,
    InvalidTransitionError,
    UnknownReferenceError,
)
from candor.ats.schemas import (
    ApplicationCreated,
    ApplicationCreatedEvent,
    ApplicationWithdrawn,
    ApplicationWithdrawnEvent,
    AtsEventIn,
    CandidateIn,
    InterviewCompleted,
    InterviewCompletedEvent,
    InterviewScheduled,
    InterviewScheduledEvent,
    JobRef,
    ResultDecided,
    ResultDecidedEvent,
    StageChanged,
    StageChangedEvent,
)
from candor.clock import BUSINESS_TZ, utcnow
from candor.models import (
    Application,
    Candidate,
    Interview,
    Job,
    StageChange,
)
from candor.models.enums import (
    DECISION_STATUS,
    INTERVIEW_STAGE,
    ApplicationStatus,
    Decision,
    Stage,
)
from candor.privacy.tombstones import tombstone
from candor.scheduling import service as scheduling

# The application's end, for self-scheduling: its invitation closes.
ENDED = (ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN)
STAGE_ORDER = {stage: index for index, stage in enumerate(Stage)}


@dataclass(frozen=True, slots=True)
class Applied:
    """The application an event touched, and each result it decided (for the intake's listener)."""

    application: Application
    decided: list[tuple[Interview | None, Decision]]


async def apply_event(session: AsyncSession, event: AtsEventIn) -> Applied:
    decided: list[tuple[Interview | None, Decision]] = []
    application = await _apply(session, event, decided)
    if application.status in ENDED:
        # Nothing more to book for an application that ended; a booked interview is
        # cancelled (idempotent: closed invitations are left as they are).
        await scheduling.close_invitations(
            session, application.id, now=utcnow(), reason=f"application {application.status}"
        )
    return Applied(application, decided)


async def _apply(
    session: AsyncSession, event: AtsEventIn, decided: list[tuple[Interview | None, Decision]]
) -> Application:
    source = f"ats:{event.event_id}"
    match event:
        case ApplicationCreatedEvent(data=data):
            return await _application_created(session, data, source)
        case InterviewScheduledEvent(data=data):
            return await _interview_scheduled(session, data, source)
        case InterviewCompletedEvent(data=data):
            return await _interview_completed(session, data, source, decided)
        case ResultDecidedEvent(data=data):
            return await _result_decided(session, data, source, decided)
        case StageChangedEvent(data=data):
            return await _stage_changed(session, data, source)
        case ApplicationWithdrawnEvent(data=data):
            return await _application_withdrawn(session, data, source)
    raise AssertionError(f"unhandled event type {event.type}")  # pragma: no cover


async def upsert_job(session: AsyncSession, ref: JobRef) -> Job:
    team = await repository.team_by_external_id(session, ref.team_external_id)
    if team is None:
        raise UnknownReferenceError(f"unknown team {ref.team_external_id!r}")
    recruiter_id = None
    if ref.recruiter_email is not None:
        recruiter = await repository.hr_user_by_email(session, ref.recruiter_email)
        if recruiter is None:
            raise UnknownReferenceError(f"no HR user with e-mail {ref.recruiter_email!r}")
        recruiter_id = recruiter.id
    job = await repository.job_by_external_id(session, ref.external_id)
    if job is None:
        job = Job(external_id=ref.external_id, team_id=team.id, title=ref.title)
        session.add(job)
    job.team_id = team.id
    job.title = ref.title
    if ref.location is not None:
        job.location = ref.location
    if recruiter_id is not None:
        job.recruiter_id = recruiter_id
    await session.flush()
    return job


async def upsert_candidate(session: AsyncSession, data: CandidateIn) -> Candidate:
    candidate = await repository.candidate_by_external_id(session, data.external_id)
    is_new = candidate is None
    if candidate is None:
        await _refuse_erased(session, Candidate, "candidates.external_id", data.external_id)
        candidate = Candidate(external_id=data.external_id)
        session.add(candidate)
    candidate.name = data.name
    candidate.mobile = data.mobile
    candidate.email = data.email.lower() if data.email else None
    candidate.locale = data.locale
    candidate.consent_contact = data.consent_contact
    if is_new or "consent_talent_pool" in data.model_fields_set:
        # The candidate may also join the pool in chat: an event that does not mention the
        # consent must not take it back.
        candidate.consent_talent_pool = data.consent_talent_pool
    candidate.consent_wechat_subscription = data.consent_wechat_subscription
    candidate.preferred_channels = [channel.value for channel in data.preferred_channels]
    await session.flush()
    return candidate


async def _application_created(
    session: AsyncSession, data: ApplicationCreated, source: str
) -> Application:
    job = await upsert_job(session, data.job)
    candidate = await upsert_candidate(session, data.candidate)
    application = await repository.application_by_external_id(
        session, data.application_external_id, for_update=True
    )
    if application is None:
        await _refuse_erased(
            session, Application, "applications.external_id", data.application_external_id
        )
    if application is not None:
        if application.candidate_id != candidate.id:
            raise InvalidTransitionError(
                f"application {data.application_external_id!r} belongs to another candidate"
            )
        application.job_id = job.id
        await session.flush()
        return application

    year = data.applied_at.astimezone(BUSINESS_TZ).year
    (code,) = await allocate_application_codes(session, year, 1)
    application = Application(
        code=code,
        external_id=data.application_external_id,
        candidate_id=candidate.id,
        job_id=job.id,
        stage=Stage.APPLIED,
        status=ApplicationStatus.ACTIVE,
        applied_at=data.applied_at,
        result_version=0,
    )
    session.add(application)
    await session.flush()
    _record_change(session, application, None, None, data.applied_at, source)
    return application


async def _interview_scheduled(
    session: AsyncSession, data: InterviewScheduled, source: str
) -> Application:
    application = await _active_application(session, data.application_external_id)
    interview = await _interview_for(session, application, data.interview_external_id)
    if interview is None:
        interview = Interview(
            external_id=data.interview_external_id,
            application_id=application.id,
            kind=data.kind,
            round=data.round,
        )
        session.add(interview)
    interview.kind = data.kind
    interview.round = data.round
    interview.scheduled_at = data.scheduled_at
    await session.flush()
    _advance_stage(session, application, INTERVIEW_STAGE[data.kind], data.scheduled_at, source)
    return application


async def _interview_completed(
    session: AsyncSession,
    data: InterviewCompleted,
    source: str,
    decided: list[tuple[Interview | None, Decision]],
) -> Application:
    application = await _active_application(session, data.application_external_id)
    interview = await _interview_for(session, application, data.interview_external_id)
    if interview is None:
        interview = Interview(
            external_id=data.interview_external_id,
            application_id=application.id,
            kind=data.kind,
            round=1,
        )
        session.add(interview)
    interview.completed_at = data.completed_at
    interview.score = data.score
    if data.report is not None:
        interview.report_summary = data.report.summary
        interview.strengths = list(data.report.strengths)
        interview.improvements = list(data.report.improvements)
    await session.flush()
    _advance_stage(session, application, INTERVIEW_STAGE[interview.kind], data.completed_at, source)
    if data.decision is not None:
        _decide(
            session,
            application,
            interview,
            data.decision,
            data.decided_at or data.completed_at,
            data.next_steps,
            source,
        )
        decided.append((interview, data.decision))
    return application


async def _result_decided(
    session: AsyncSession,
    data: ResultDecided,
    source: str,
    decided: list[tuple[Interview | None, Decision]],
) -> Application:
    application = await _active_application(session, data.application_external_id)
    if data.interview_external_id is not None:
        interview = await _interview_for(session, application, data.interview_external_id)
        if interview is None:
            raise UnknownReferenceError(f"unknown interview {data.interview_external_id!r}")
    else:
        interview = await repository.latest_completed_interview(session, application.id)
    _decide(
        session, application, interview, data.decision, data.decided_at, data.next_steps, source
    )
    decided.append((interview, data.decision))
    return application


async def _stage_changed(session: AsyncSession, data: StageChanged, source: str) -> Application:
    application = await _application(session, data.application_external_id)
    before_stage, before_status = application.stage, application.status
    application.stage = data.stage
    if data.status is not None:
        application.status = data.status
    if data.stage is Stage.HIRED:
        application.status = ApplicationStatus.HIRED
    if (before_stage, before_status) != (application.stage, application.status):
        _record_change(session, application, before_stage, before_status, data.changed_at, source)
    return application


async def _application_withdrawn(
    session: AsyncSession, data: ApplicationWithdrawn, source: str
) -> Application:
    application = await _application(session, data.application_external_id)
    if application.status is ApplicationStatus.WITHDRAWN:
        return application
    before_status = application.status
    application.status = ApplicationStatus.WITHDRAWN
    application.withdrawn_at = data.withdrawn_at
    _record_change(
        session, application, application.stage, before_status, data.withdrawn_at, source
    )
    return application


async def _application(session: AsyncSession, external_id: str) -> Application:
    application = await repository.application_by_external_id(session, external_id, for_update=True)
    if application is None:
        await _refuse_erased(session, Application, "applications.external_id", external_id)
        raise UnknownReferenceError(f"unknown application {external_id!r}")
    return application


async def _refuse_erased(
    session: AsyncSession, model: type[Candidate | Application], column: str, external_id: str
) -> None:
    """An id whose candidate was erased (its tombstone, candor.privacy.tombstones) is refused."""
    erased = await session.scalar(
        select(model.id).where(model.external_id == tombstone(column, external_id))
    )
    if erased is not None:
        raise ErasedReferenceError(
            f"{column.split('.')[0][:-1]} {external_id!r} was erased at the candidate's request"
        )


async def _active_application(session: AsyncSession, external_id: str) -> Application:
    application = await _application(session, external_id)
    if application.status is ApplicationStatus.WITHDRAWN:
        raise InvalidTransitionError(f"application {external_id!r} was withdrawn")
    return application


async def _interview_for(
    session: AsyncSession, application: Application, external_id: str
) -> Interview | None:
    interview = await repository.interview_by_external_id(session, external_id)
    if interview is not None and interview.application_id != application.id:
        raise InvalidTransitionError(f"interview {external_id!r} belongs to another application")
    return interview


def _decide(
    session: AsyncSession,
    application: Application,
    interview: Interview | None,
    decision: Decision,
    decided_at: datetime,
    next_steps: str | None,
    source: str,
) -> None:
    if interview is not None:
        interview.decision = decision
        interview.decided_at = decided_at
        interview.next_steps = next_steps
    before_status = application.status
    application.result_version += 1
    application.status = DECISION_STATUS[decision]
    if before_status != application.status:
        _record_change(session, application, application.stage, before_status, decided_at, source)


def _advance_stage(
    session: AsyncSession, application: Application, stage: Stage, at: datetime, source: str
) -> None:
    """Move forward only: a late event about an earlier round must not pull an application back."""
    if STAGE_ORDER[stage] <= STAGE_ORDER[application.stage]:
        return
    before = application.stage
    application.stage = stage
    _record_change(session, application, before, application.status, at, source)


def _record_change(
    session: AsyncSession,
    application: Application,
    from_stage: Stage | None,
    from_status: ApplicationStatus | None,
    at: datetime,
    source: str,
) -> None:
    session.add(
        StageChange(
            application_id=application.id,
            from_stage=from_stage,
            to_stage=application.stage,
            from_status=from_status,
            to_status=application.status,
            changed_at=at,
            source=source,
        )
    )
