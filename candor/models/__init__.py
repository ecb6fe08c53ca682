"""All tables. Importing this package registers every model on `Base.metadata`."""

from candor.db.base import Base
from candor.models.ats import (
    Application,
    CodeSequence,
    Interview,
    Job,
    StageChange,
)
from candor.models.candidates import Candidate, ChatIdentity
from candor.models.integration import ApiToken, AtsEvent
from candor.models.org import HRUser, Team, TeamMembership

__all__ = [
    "ApiToken",
    "Application",
    "AtsEvent",
    "Base",
    "Candidate",
    "ChatIdentity",
    "CodeSequence",
    "HRUser",
    "Interview",
    "Job",
    "StageChange",
    "Team",
    "TeamMembership",
]
