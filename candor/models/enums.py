"""The vocabularies, where the models and most callers import them from (see candor.enums)."""

from candor.enums import (
    DECISION_STATUS,
    INTERVIEW_STAGE,
    ApplicationStatus,
    Channel,
    Decision,
    HrCardKind,
    HrCardState,
    HrChatPlatform,
    InterviewKind,
    JobStatus,
    Locale,
    Role,
    Stage,
)

__all__ = [
    "DECISION_STATUS",
    "INTERVIEW_STAGE",
    "ApplicationStatus",
    "Channel",
    "Decision",
    "HrCardKind",
    "HrCardState",
    "HrChatPlatform",
    "InterviewKind",
    "JobStatus",
    "Locale",
    "Role",
    "Stage",
]
