"""The ATS event contract: an envelope with an id and type, and one payload per type.

Every model forbids unknown fields, so a typo in an integration fails loudly (422) instead of
being dropped silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    TypeAdapter,
)

from candor.models.enums import (
    ApplicationStatus,
    Channel,
    Decision,
    InterviewKind,
    Locale,
    Stage,
)

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Mobile = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 -]{6,20}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobRef(StrictModel):
    external_id: ExternalId
    title: ShortText
    team_external_id: ExternalId
    location: ShortText | None = None
    recruiter_email: EmailStr | None = None


class CandidateIn(StrictModel):
    external_id: ExternalId
    name: ShortText
    mobile: Mobile | None = None
    email: EmailStr | None = None
    locale: Locale = Locale.ZH_CN
    consent_contact: bool = True
    consent_talent_pool: bool = False
    consent_wechat_subscription: bool = False
    preferred_channels: list[Channel] = Field(default_factory=list, max_length=len(Channel))


class ApplicationCreated(StrictModel):
    application_external_id: ExternalId
    applied_at: AwareDatetime
    candidate: CandidateIn
    job: JobRef


class InterviewScheduled(StrictModel):
    application_external_id: ExternalId
    interview_external_id: ExternalId
    kind: InterviewKind
    round: int = Field(default=1, ge=1, le=20)
    scheduled_at: AwareDatetime


class InterviewReport(StrictModel):
    summary: str | None = Field(default=None, max_length=4000)
    strengths: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=10
    )
    improvements: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=10
    )


class InterviewCompleted(StrictModel):
    application_external_id: ExternalId
    interview_external_id: ExternalId
    kind: InterviewKind = InterviewKind.AI_VIDEO
    completed_at: AwareDatetime
    score: float | None = Field(default=None, ge=0, le=100)
    report: InterviewReport | None = None
    # Some AI-interview vendors decide on the spot; that counts as a decided result.
    decision: Decision | None = None
    decided_at: AwareDatetime | None = None
    next_steps: str | None = Field(default=None, max_length=2000)


class ResultDecided(StrictModel):
    application_external_id: ExternalId
    interview_external_id: ExternalId | None = None
    decision: Decision
    decided_at: AwareDatetime
    next_steps: str | None = Field(default=None, max_length=2000)


class StageChanged(StrictModel):
    application_external_id: ExternalId
    stage: Stage
    status: ApplicationStatus | None = None
    changed_at: AwareDatetime


class ApplicationWithdrawn(StrictModel):
    application_external_id: ExternalId
    withdrawn_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=1000)


EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]


class _Envelope(StrictModel):
    event_id: EventId
    occurred_at: AwareDatetime | None = None


class ApplicationCreatedEvent(_Envelope):
    type: Literal["application_created"]
    data: ApplicationCreated


class InterviewScheduledEvent(_Envelope):
    type: Literal["interview_scheduled"]
    data: InterviewScheduled


class InterviewCompletedEvent(_Envelope):
    type: Literal["interview_completed"]
    data: InterviewCompleted


class ResultDecidedEvent(_Envelope):
    type: Literal["result_decided"]
    data: ResultDecided


class StageChangedEvent(_Envelope):
    type: Literal["stage_changed"]
    data: StageChanged


class ApplicationWithdrawnEvent(_Envelope):
    type: Literal["application_withdrawn"]
    data: ApplicationWithdrawn


AtsEventIn = Annotated[
    ApplicationCreatedEvent
    | InterviewScheduledEvent
    | InterviewCompletedEvent
    | ResultDecidedEvent
    | StageChangedEvent
    | ApplicationWithdrawnEvent,
    Field(discriminator="type"),
]

EVENT_TYPES = (
    "application_created",
    "interview_scheduled",
    "interview_completed",
    "result_decided",
    "stage_changed",
    "application_withdrawn",
)


class EventAccepted(BaseModel):
    """The answer to an accepted event; a replay of the same event gets it again verbatim."""

    event_id: str
    type: str
    application_code: str
    application_external_id: str
    stage: Stage
    status: ApplicationStatus
    result_version: int
    processed_at: datetime


# Parses an event outside a request (tests, benchmarks, the demo).
ATS_EVENT: TypeAdapter[AtsEventIn] = TypeAdapter(AtsEventIn)
