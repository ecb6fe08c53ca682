"""All tables. Importing this package registers every model on `Base.metadata`."""

from candor.db.base import Base
from candor.models.ats import (
    Application,
    CodeSequence,
    Interview,
    Job,
    StageChange,
)
from candor.models.calendar import CalendarChange, CalendarDay, CalendarYear
from candor.models.candidates import Candidate, ChatIdentity
from candor.models.integration import ApiToken, AtsEvent, IdempotencyKey
from candor.models.org import HRUser, Team, TeamMembership
from candor.models.outreach import (
    ApprovalRule,
    MessageTemplate,
    MessageTransition,
    OutboxItem,
    OutreachMessage,
    SlaNotification,
)

__all__ = [
    "ApiToken",
    "Application",
    "ApprovalRule",
    "AtsEvent",
    "Base",
    "CalendarChange",
    "CalendarDay",
    "CalendarYear",
    "Candidate",
    "ChatIdentity",
    "CodeSequence",
    "HRUser",
    "IdempotencyKey",
    "Interview",
    "Job",
    "MessageTemplate",
    "MessageTransition",
    "OutboxItem",
    "OutreachMessage",
    "SlaNotification",
    "StageChange",
    "Team",
    "TeamMembership",
]
