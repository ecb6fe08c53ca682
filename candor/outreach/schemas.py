"""Outreach API shapes: the approval queue, the template library, approval rules, SLA."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from candor.ids import RowId
from candor.models.enums import Channel, Decision, Locale
from candor.models.outreach import (
    ApprovalMode,
    MessageState,
    MessageTransition,
    OutreachMessage,
    SlaNotification,
    SlaNotificationKind,
)
from candor.outreach.sla_watch import SlaOverview
from candor.outreach.sms_form import MAX_PREVIEW_TEXT_CHARS
from candor.outreach.templating import MAX_TEMPLATE_CHARS


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_state: MessageState | None
    to_state: MessageState
    actor: str
    at: datetime
    reason: str | None
    before_text: str | None
    after_text: str | None


class RenderErrorOut(BaseModel):
    """Why a message needs attention: its template failed to render for this result."""

    template_id: int
    template_key: str
    template_version: int
    field: str | None = Field(description="body, subject or wechat_fields.<name>")
    error: str = Field(description="The render error, one line (no traceback)")


class MessageOut(BaseModel):
    id: int
    application_code: str
    candidate_name: str
    job_title: str
    team_id: int
    outcome: Decision
    state: MessageState
    subject: str
    body: str
    wechat_data: dict[str, str]
    sms_params: dict[str, str] = Field(
        description="The template's SMS parameters rendered for this message (empty: no SMS form)"
    )
    due_at: datetime | None
    due_estimated: bool
    decided_by: str | None
    decided_at: datetime | None
    rejection_reason: str | None
    render_error: RenderErrorOut | None = Field(
        description="Set while the message needs attention: re-draft it once the template is "
        "fixed, write it by hand (edit-and-approve with subject and body), or reject it"
    )
    channel: Channel | None
    sent_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    transitions: list[TransitionOut] | None = None

    @classmethod
    def of(
        cls, message: OutreachMessage, transitions: list[MessageTransition] | None = None
    ) -> MessageOut:
        application = message.application
        return cls(
            id=message.id,
            application_code=application.code,
            candidate_name=application.candidate.name,
            job_title=application.job.title,
            team_id=application.job.team_id,
            outcome=message.outcome,
            state=message.state,
            subject=message.subject,
            body=message.body,
            wechat_data=message.wechat_data,
            sms_params=message.sms_params,
            due_at=message.due_at,
            due_estimated=message.due_estimated,
            decided_by=message.decided_by,
            decided_at=message.decided_at,
            rejection_reason=message.rejection_reason,
            render_error=(
                RenderErrorOut.model_validate(message.render_error)
                if message.render_error is not None
                else None
            ),
            channel=message.channel,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
            created_at=message.created_at,
            transitions=(
                [TransitionOut.model_validate(t) for t in transitions]
                if transitions is not None
                else None
            ),
        )


class EditAndApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=8000)
    subject: str | None = Field(default=None, min_length=1, max_length=300)


class Reject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class BulkApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_ids: list[RowId] = Field(min_length=1, max_length=200)


class BulkApproveResult(BaseModel):
    approved: list[int]
    not_found: list[int]
    conflicts: dict[int, str]


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    version: int
    outcome: Decision
    locale: Locale
    team_id: int | None
    job_id: int | None
    subject: str
    body: str
    wechat_template_id: str | None
    wechat_fields: dict[str, str]
    sms_template_code: str | None
    sms_params: dict[str, str]
    sms_preview_text: str | None
    is_current: bool
    created_by: str
    created_at: datetime


class TemplateVariableOut(BaseModel):
    name: str
    description: str


class PreviewIn(BaseModel):
    """A stored template version by id, or an editor's unsaved sources with their outcome."""

    model_config = ConfigDict(extra="forbid")

    application_code: str = Field(min_length=1, max_length=16)
    template_id: RowId | None = None
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_TEMPLATE_CHARS)
    wechat_fields: dict[str, str] = Field(default_factory=dict)
    sms_template_code: str | None = Field(default=None, max_length=64)
    sms_params: dict[str, str] = Field(default_factory=dict)
    sms_preview_text: str | None = Field(default=None, max_length=MAX_PREVIEW_TEXT_CHARS)
    outcome: Decision | None = Field(
        default=None,
        description="With inline sources: the result the template is for (it sets `deadline` "
        "and `talent_pool_invite`). A stored template brings its own.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        inline = (
            self.body is not None
            or self.subject is not None
            or bool(self.wechat_fields)
            or bool(self.sms_params)
            or self.sms_template_code is not None
            or self.sms_preview_text is not None
        )
        if self.template_id is not None and inline:
            raise ValueError("give either template_id or inline sources, not both")
        if self.template_id is None:
            if self.body is None:
                raise ValueError("give template_id, or inline sources with at least a body")
            if self.outcome is None:
                raise ValueError("inline sources need the outcome they are written for")
        elif self.outcome is not None:
            raise ValueError("a stored template brings its own outcome; omit outcome")
        return self


class PreviewOut(BaseModel):
    template_id: int | None
    application_code: str
    outcome: Decision
    subject: str
    body: str
    wechat_data: dict[str, str]
    sms_params: dict[str, str]
    sms_text: str | None = Field(
        description="The template's sms_preview_text filled with sms_params; null without one"
    )
    sms_segments: int | None = Field(
        description="SMS segments sms_text costs, the 【signature】 included; null without it"
    )
    variables: dict[str, Any]


class ApprovalRuleIn(BaseModel):
    """The rule at one scope: company-wide (no team, no job), a team, or a job."""

    model_config = ConfigDict(extra="forbid")

    outcome: Decision
    team_id: RowId | None = None
    job_id: RowId | None = None
    mode: ApprovalMode


class ApprovalRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    outcome: Decision
    team_id: int | None
    job_id: int | None
    mode: ApprovalMode
    created_at: datetime
    updated_at: datetime


class SlaTeamOut(BaseModel):
    team_id: int
    team_name: str
    due_soon: int = Field(description="Unsent, due within 2 working days, not yet past due")
    breached_open: int = Field(description="Unsent and past the deadline")


class SlaNotificationOut(BaseModel):
    id: int
    kind: SlaNotificationKind
    message_id: int
    application_code: str
    job_title: str
    team_id: int
    due_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, notification: SlaNotification) -> SlaNotificationOut:
        message = notification.message
        return cls(
            id=notification.id,
            kind=notification.kind,
            message_id=message.id,
            application_code=message.application.code,
            job_title=message.application.job.title,
            team_id=message.application.job.team_id,
            due_at=message.due_at,
            created_at=notification.created_at,
        )


class SlaOverviewOut(BaseModel):
    teams: list[SlaTeamOut]
    due_soon: int
    breached_open: int
    notifications: list[SlaNotificationOut]

    @classmethod
    def of(cls, overview: SlaOverview) -> SlaOverviewOut:
        return cls(
            teams=[
                SlaTeamOut(
                    team_id=t.team_id,
                    team_name=t.team_name,
                    due_soon=t.due_soon,
                    breached_open=t.breached_open,
                )
                for t in overview.teams
            ],
            due_soon=sum(t.due_soon for t in overview.teams),
            breached_open=sum(t.breached_open for t in overview.teams),
            notifications=[SlaNotificationOut.of(n) for n in overview.notifications],
        )
