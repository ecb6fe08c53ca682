"""All tables. Importing this package registers every model on `Base.metadata`."""

from candor.db.base import Base
from candor.models.ats import (
    Application,
    CodeSequence,
    Interview,
    Job,
    StageChange,
)
from candor.models.audit import AuditEntry
from candor.models.calendar import CalendarChange, CalendarDay, CalendarYear
from candor.models.candidates import Candidate, ChatIdentity
from candor.models.chat import (
    BindingToken,
    ChatMessage,
    Conversation,
    ConversationApplication,
    IdentityEvent,
    ManualBinding,
)
from candor.models.crypto import EncryptionCheckpoint, EncryptionKeyId
from candor.models.dialogue import (
    ChatDelivery,
    CsatRating,
    DialogueState,
    Handoff,
    HandoffApplication,
    HrTask,
    JobAnswer,
    JobQuestion,
)
from candor.models.hr_chat import HrCard, HrChatAccount
from candor.models.integration import ApiToken, AtsEvent, IdempotencyKey
from candor.models.kpis import (
    ApplicationFacts,
    ApprovalFacts,
    ConversationFacts,
    CsatFacts,
    DeliveryFacts,
    HandoffFacts,
    InterviewFacts,
    ReplyFacts,
)
from candor.models.nlu_review import ActiveNluModel, MisreadMessage, NluModelVersion
from candor.models.org import HRUser, Team, TeamMembership
from candor.models.outreach import (
    ApprovalRule,
    MessageTemplate,
    MessageTransition,
    OutboxItem,
    OutreachMessage,
    SlaNotification,
)
from candor.models.privacy import DataExport, DeletionRequest, PrivacyNoticeShown
from candor.models.scheduling import (
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
    SchedulingPolicy,
)
from candor.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ActiveNluModel",
    "ApiToken",
    "Application",
    "ApplicationFacts",
    "ApprovalFacts",
    "ApprovalRule",
    "AtsEvent",
    "AuditEntry",
    "Base",
    "BindingToken",
    "CalendarChange",
    "CalendarDay",
    "CalendarYear",
    "Candidate",
    "ChatDelivery",
    "ChatIdentity",
    "ChatMessage",
    "CodeSequence",
    "Conversation",
    "ConversationApplication",
    "ConversationFacts",
    "CsatFacts",
    "CsatRating",
    "DataExport",
    "DeletionRequest",
    "DeliveryFacts",
    "DialogueState",
    "EncryptionCheckpoint",
    "EncryptionKeyId",
    "HRUser",
    "Handoff",
    "HandoffApplication",
    "HandoffFacts",
    "HrCard",
    "HrChatAccount",
    "HrTask",
    "IdempotencyKey",
    "IdentityEvent",
    "Interview",
    "InterviewBooking",
    "InterviewFacts",
    "InterviewSlot",
    "Job",
    "JobAnswer",
    "JobQuestion",
    "ManualBinding",
    "MessageTemplate",
    "MessageTransition",
    "MisreadMessage",
    "NluModelVersion",
    "OutboxItem",
    "OutreachMessage",
    "PrivacyNoticeShown",
    "ReplyFacts",
    "SchedulingInvitation",
    "SchedulingPolicy",
    "SlaNotification",
    "StageChange",
    "Team",
    "TeamMembership",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
