"""The approval queue's API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from candor.models.enums import Channel, Decision
from candor.models.outreach import MessageState, MessageTransition, OutreachMessage


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_state: MessageState | None
    to_state: MessageState
    actor: str
    at: datetime
    reason: str | None
    before_text: str | None
    after_text: str | None


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
    due_at: datetime | None
    due_estimated: bool
    decided_by: str | None
    decided_at: datetime | None
    rejection_reason: str | None
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
            due_at=message.due_at,
            due_estimated=message.due_estimated,
            decided_by=message.decided_by,
            decided_at=message.decided_at,
            rejection_reason=message.rejection_reason,
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

    message_ids: list[int] = Field(min_length=1, max_length=200)


class BulkApproveResult(BaseModel):
    approved: list[int]
    not_found: list[int]
    conflicts: dict[int, str]
