"""Vocabularies shared by the ATS model, the API, the importer and the command line.

They live outside `candor.models` because importing anything in that package maps every
table (SQLAlchemy and all the models, about a second): the `candor` command names `Role` and
`Channel` in its options and must start without that. `candor.models.enums` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    RECRUITER = "recruiter"
    TEAM_LEAD = "team_lead"
    ADMIN = "admin"


class JobStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Locale(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


class Channel(StrEnum):
    WECHAT = "wechat"
    TELEGRAM = "telegram"
    EMAIL = "email"
    WEB = "web"
    SMS = "sms"


class HrChatPlatform(StrEnum):
    """Where an HR user may take approvals in chat (candor.hr_chat)."""

    WECOM = "wecom"
    TELEGRAM = "telegram"


class HrCardKind(StrEnum):
    DRAFT = "draft"  # a result message awaiting approval: approve / reject / open
    HANDOFF = "handoff"  # a conversation handed to HR: open
    SLA_WARNING = "sla_warning"  # a pending message nearing its deadline: approve / reject / open


class HrCardState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    EXPIRED = "expired"


class Stage(StrEnum):
    """Where an application is in the hiring process, in funnel order."""

    APPLIED = "applied"
    AI_INTERVIEW = "ai_interview"
    PHONE_INTERVIEW = "phone_interview"
    ONSITE_INTERVIEW = "onsite_interview"
    OFFER = "offer"
    HIRED = "hired"


class ApplicationStatus(StrEnum):
    """Whether the application is still moving; independent of the stage it stopped at."""

    ACTIVE = "active"
    ON_HOLD = "on_hold"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    HIRED = "hired"


class InterviewKind(StrEnum):
    AI_VIDEO = "ai_video"
    PHONE = "phone"
    ONSITE = "onsite"


class Decision(StrEnum):
    ADVANCE = "advance"
    REJECT = "reject"
    HOLD = "hold"


INTERVIEW_STAGE: dict[InterviewKind, Stage] = {
    InterviewKind.AI_VIDEO: Stage.AI_INTERVIEW,
    InterviewKind.PHONE: Stage.PHONE_INTERVIEW,
    InterviewKind.ONSITE: Stage.ONSITE_INTERVIEW,
}

DECISION_STATUS: dict[Decision, ApplicationStatus] = {
    Decision.ADVANCE: ApplicationStatus.ACTIVE,
    Decision.REJECT: ApplicationStatus.REJECTED,
    Decision.HOLD: ApplicationStatus.ON_HOLD,
}
