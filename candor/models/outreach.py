"""Result outreach: templates, approval rules, messages, their history, and the outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from candor.db.base import Base, IdMixin, TimestampMixin
from candor.db.types import BigIntId, JSONType, UTCDateTime, enum_column, utcnow
from candor.models.ats import Application, Interview
from candor.models.enums import Channel, Decision, Locale


class MessageState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    # The template failed to render for this result: HR re-drafts, writes it or rejects it.
    NEEDS_ATTENTION = "needs_attention"
    APPROVED = "approved"
    EDITED_AND_APPROVED = "edited_and_approved"
    REJECTED = "rejected"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"


class ApprovalMode(StrEnum):
    AUTO = "auto"
    REQUIRE_APPROVAL = "require_approval"


class SlaNotificationKind(StrEnum):
    WARN = "warn"  # 2 working days left: the owning recruiter
    ESCALATE = "escalate"  # 1 working day left: the team's leads
    BREACH = "breach"  # the deadline passed unsent
    UNDELIVERABLE = "undeliverable"  # no channel reached the candidate: the owning recruiter


class OutboxState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    PERMANENT_FAILURE = "permanent_failure"
    EXHAUSTED = "exhausted"
    CANCELLED = "cancelled"


class MessageTemplate(IdMixin, Base):
    """One version of a template. Saving a template adds a version; drafts keep theirs."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("key", "version"),)

    # Identifies the template across versions, e.g. "reject.zh-CN" or "advance.en.team-eng".
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[Decision] = mapped_column(enum_column(Decision, "template_outcome"))
    locale: Mapped[Locale] = mapped_column(enum_column(Locale, "template_locale"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # WeChat template message: the template id registered on the Official Account and a
    # Jinja source per keyword ("first", "keyword1", ..., "remark").
    wechat_template_id: Mapped[str | None] = mapped_column(String(128))
    wechat_fields: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # SMS: providers send only their own pre-approved templates, so the SMS form is the
    # provider's template code and a Jinja source per template variable (Alibaba: the variable
    # name, Tencent: its position "1", "2", ...). `sms_preview_text` is the approved template's
    # text (${name} / {1} placeholders), optional, for previews and segment counts only.
    sms_template_code: Mapped[str | None] = mapped_column(String(64))
    sms_params: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict, server_default="{}")
    sms_preview_text: Mapped[str | None] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApprovalRule(IdMixin, TimestampMixin, Base):
    """Whether a result message is sent at once or waits for HR; the most specific rule wins."""

    __tablename__ = "approval_rules"
    __table_args__ = (UniqueConstraint("outcome", "team_id", "job_id"),)

    outcome: Mapped[Decision] = mapped_column(enum_column(Decision, "rule_outcome"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    mode: Mapped[ApprovalMode] = mapped_column(enum_column(ApprovalMode, "approval_mode"))


class OutreachMessage(IdMixin, TimestampMixin, Base):
    """The candidate's result message, from draft to delivery."""

    __tablename__ = "outreach_messages"
    __table_args__ = (
        UniqueConstraint("application_id", "result_version"),
        Index("ix_outreach_messages_state_due_at", "state", "due_at"),
        # The KPIs read each completed interview's first sending and promise from the
        # index alone (an index-only scan), never from the table.
        Index("ix_outreach_messages_interview_feedback", "interview_id", "sent_at", "due_at"),
    )

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    interview_id: Mapped[int | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="SET NULL")
    )
    result_version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[Decision] = mapped_column(enum_column(Decision, "message_outcome"))
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id"))
    state: Mapped[MessageState] = mapped_column(enum_column(MessageState, "message_state"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    wechat_data: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # The template's SMS parameters rendered for this message (empty: the template has no SMS form).
    sms_params: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict, server_default="{}")
    # The promise: interview completion + N working days (China's calendar).
    interview_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # KPIs
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # Why drafting failed, while the message needs attention: the template's key and version,
    # the field and the render error (no traceback), for HR to fix the template.
    render_error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel, "delivered_channel"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship()
    interview: Mapped[Interview | None] = relationship()
    template: Mapped[MessageTemplate] = relationship()
    transitions: Mapped[list[MessageTransition]] = relationship(
        back_populates="message", order_by="MessageTransition.id"
    )


class MessageTransition(Base):
    """Every change of a message's state: who, when, and the text before and after edits."""

    __tablename__ = "message_transitions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outreach_messages.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[MessageState | None] = mapped_column(
        enum_column(MessageState, "transition_from")
    )
    to_state: Mapped[MessageState] = mapped_column(enum_column(MessageState, "transition_to"))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    before_text: Mapped[str | None] = mapped_column(Text)
    after_text: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    message: Mapped[OutreachMessage] = relationship(back_populates="transitions")


class OutboxItem(IdMixin, TimestampMixin, Base):
    """One delivery of one message on one channel; the dispatcher's unit of work."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_created_at", "created_at"),  # delivery KPIs by the day queued
    )

    message_id: Mapped[int] = mapped_column(
        ForeignKey("outreach_messages.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "outbox_channel"))
    # application:result_version:channel, so one result goes out once per channel even if
    # the message were drafted twice.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[OutboxState] = mapped_column(enum_column(OutboxState, "outbox_state"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a lease expired while in flight: the provider may already have the message.
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)

    message: Mapped[OutreachMessage] = relationship()


class SlaNotification(IdMixin, Base):
    """One notice to one HR user about a result message, recorded once: an SLA reminder,
    escalation or breach, or that the message could not be delivered.

    `sent_at` stays empty until the delivery loop has e-mailed it to the HR user; a failed
    attempt is counted and retried at `next_attempt_at`.
    """

    __tablename__ = "sla_notifications"
    __table_args__ = (UniqueConstraint("message_id", "kind", "recipient_id"),)

    # The unique constraint's index, led by message_id, serves lookups by message.
    message_id: Mapped[int] = mapped_column(ForeignKey("outreach_messages.id", ondelete="CASCADE"))
    kind: Mapped[SlaNotificationKind] = mapped_column(
        enum_column(SlaNotificationKind, "sla_notification_kind")
    )
    recipient_id: Mapped[int] = mapped_column(
        ForeignKey("hr_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: due now
    last_error: Mapped[str | None] = mapped_column(Text)

    message: Mapped[OutreachMessage] = relationship()
