"""Drafting result messages, approving or rejecting them, and queueing approved ones.

Every function here runs in the caller's transaction and never commits. Approval writes the
message's new state and its outbox row in that same transaction, so a committed approval can
never lose its delivery, and nothing is sent before the commit: the dispatcher only sees
committed outbox rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.ats.repository import latest_completed_interview
from candor.audit import service as audit
from candor.chat.teams import team_of_application
from candor.clock import BUSINESS_TZ, utcnow
from candor.delivery.sms_numbers import mobile_or_none
from candor.delivery.sms_segments import segments
from candor.hr_chat.cards import actor_name, add_message_cards, close_message_cards
from candor.logging import get_logger
from candor.models import Application, Candidate, ChatIdentity, Interview, Job
from candor.models.enums import Channel, Decision, HrCardKind
from candor.models.outreach import (
    ApprovalMode,
    ApprovalRule,
    MessageState,
    MessageTemplate,
    MessageTransition,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.outreach.errors import (
    InvalidMessageTransitionError,
    NoTemplateError,
)
from candor.outreach.hr_notices import notify_undeliverable
from candor.outreach.templates import (
    RenderedMessage,
    TemplateSources,
    render_sources,
    select_template,
)
from candor.outreach.templating import (
    TemplateContext,
    TemplateRenderError,
    TemplateValidationError,
    validate_template,
)
from candor.scheduling import service as scheduling

log = get_logger(__name__)

DEFAULT_APPROVAL: dict[Decision, ApprovalMode] = {
    Decision.REJECT: ApprovalMode.REQUIRE_APPROVAL,
    Decision.ADVANCE: ApprovalMode.AUTO,
    Decision.HOLD: ApprovalMode.REQUIRE_APPROVAL,
}
# When a candidate states no preference, WeChat first and e-mail as the last resort.
DEFAULT_CHANNEL_ORDER = (Channel.WECHAT, Channel.TELEGRAM, Channel.EMAIL)
SYSTEM_AUTO = "system:auto-approval"
SYSTEM_DRAFTING = "system:drafting"
MAX_RENDER_ERROR_CHARS = 500  # what HR reads in the queue; a render error is one line

TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    MessageState.PENDING_APPROVAL: frozenset(
        {MessageState.APPROVED, MessageState.EDITED_AND_APPROVED, MessageState.REJECTED}
    ),
    # Nothing rendered, so nothing to approve as drafted: HR re-drafts once the template is
    # fixed, writes the message by hand (edit and approve), or rejects it.
    MessageState.NEEDS_ATTENTION: frozenset(
        {MessageState.PENDING_APPROVAL, MessageState.EDITED_AND_APPROVED, MessageState.REJECTED}
    ),
    MessageState.APPROVED: frozenset({MessageState.QUEUED, MessageState.UNDELIVERABLE}),
    MessageState.EDITED_AND_APPROVED: frozenset({MessageState.QUEUED, MessageState.UNDELIVERABLE}),
    MessageState.QUEUED: frozenset(
        {MessageState.SENT, MessageState.FAILED, MessageState.UNDELIVERABLE, MessageState.QUEUED}
    ),
    MessageState.SENT: frozenset(
        {MessageState.DELIVERED, MessageState.FAILED, MessageState.QUEUED}
    ),
    MessageState.DELIVERED: frozenset(),
    MessageState.FAILED: frozenset(),
    MessageState.UNDELIVERABLE: frozenset(),
    MessageState.REJECTED: frozenset(),
}


class Deadline(Protocol):
    @property
    def due_at(self) -> datetime: ...

    @property
    def estimated(self) -> bool: ...


class DeadlineCalendar(Protocol):
    def due_at(self, completed_at: datetime, days: int) -> Deadline: ...


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(8, 0)

    def next_allowed(self, at: datetime) -> datetime:
        """`at` itself outside quiet hours, otherwise the end of the quiet period (local)."""
        local = at.astimezone(BUSINESS_TZ)
        clock = local.time()
        quiet = (
            clock >= self.start or clock < self.end
            if self.start > self.end
            else (self.start <= clock < self.end)
        )
        if not quiet:
            return at
        day = local.date() if clock < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=BUSINESS_TZ)


@dataclass(frozen=True, slots=True)
class OutreachContext:
    """What drafting needs besides the database; built once per process from settings."""

    company_name: str
    calendar: DeadlineCalendar
    promise_working_days: int = 5
    reply_working_days: int = 3
    quiet_hours: QuietHours = QuietHours()
    # The SMS signature providers prefix as 【sign】: it counts toward an SMS's segments.
    sms_sign_name: str = ""


def transition(
    session: AsyncSession,
    message: OutreachMessage,
    to_state: MessageState,
    *,
    actor: str,
    reason: str | None = None,
    before_text: str | None = None,
    after_text: str | None = None,
    at: datetime | None = None,
) -> None:
    from_state = message.state
    if to_state not in TRANSITIONS[from_state]:
        raise InvalidMessageTransitionError(
            f"message {message.id} is {from_state.value}; it cannot become {to_state.value}"
        )
    message.state = to_state
    session.add(
        MessageTransition(
            message_id=message.id,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            at=at or utcnow(),
            reason=reason,
            before_text=before_text,
            after_text=after_text,
        )
    )


async def approval_mode(
    session: AsyncSession, *, outcome: Decision, team_id: int, job_id: int
) -> ApprovalMode:
    """The most specific rule: this job, then this team, then company-wide, then the default."""
    rules = (
        await session.scalars(
            select(ApprovalRule).where(
                ApprovalRule.outcome == outcome,
                (ApprovalRule.job_id.is_(None)) | (ApprovalRule.job_id == job_id),
                (ApprovalRule.team_id.is_(None)) | (ApprovalRule.team_id == team_id),
            )
        )
    ).all()
    if not rules:
        return DEFAULT_APPROVAL[outcome]
    best = min(rules, key=lambda r: 0 if r.job_id is not None else 1 if r.team_id else 2)
    return best.mode


async def deliverable_channels(session: AsyncSession, candidate: Candidate) -> list[Channel]:
    """The candidate's channels in preference order, keeping only those we can reach: none
    once the candidate asked in chat to stop every proactive message."""
    if candidate.proactive_opted_out_at is not None:
        return []
    bound = set(
        (
            await session.scalars(
                select(ChatIdentity.channel).where(
                    ChatIdentity.candidate_id == candidate.id,
                    ChatIdentity.bound_at.is_not(None),
                    # An account whose owner said STOP is skipped: the next channel gets it.
                    ChatIdentity.opted_out_at.is_(None),
                )
            )
        ).all()
    )
    preferred = [Channel(c) for c in candidate.preferred_channels] or list(DEFAULT_CHANNEL_ORDER)
    order = [*preferred, *(c for c in DEFAULT_CHANNEL_ORDER if c not in preferred)]
    if Channel.EMAIL not in order:
        order.append(Channel.EMAIL)
    reachable = []
    for channel in order:
        if channel is Channel.EMAIL:
            ok = bool(candidate.email)
        elif channel is Channel.SMS:
            # Only when the candidate's preferences name it (SMS is paid for, a segment at a
            # time), to a number that can take a text, until they reply TD / 退订.
            ok = mobile_or_none(candidate.mobile) is not None and candidate.sms_opted_out_at is None
        else:
            ok = channel in bound
        if ok:
            reachable.append(channel)
    return reachable


def _local_date(at: datetime) -> str:
    return at.astimezone(BUSINESS_TZ).date().isoformat()


@dataclass(frozen=True, slots=True)
class ResultContext:
    """What a template sees for one result, and the feedback promise it was computed with."""

    variables: TemplateContext
    promise: Deadline


def result_context(
    *,
    application: Application,
    candidate: Candidate,
    job: Job,
    interview: Interview | None,
    outcome: Decision,
    context: OutreachContext,
    now: datetime,
) -> ResultContext:
    """The template variables for `outcome` on this application.

    Drafting and the template editor's preview both build their variables here, so a
    preview shows exactly what drafting would write at the same moment.
    """
    completed_at = interview.completed_at if interview is not None else None
    promise = context.calendar.due_at(completed_at or now, context.promise_working_days)
    reply_by = context.calendar.due_at(now, context.reply_working_days)
    variables = TemplateContext(
        candidate_name=candidate.name,
        job_title=job.title,
        company_name=context.company_name,
        application_code=application.code,
        interview_date=_local_date(completed_at or now),
        next_steps=(interview.next_steps if interview else None) or "",
        deadline=_local_date(promise.due_at if outcome is Decision.HOLD else reply_by.due_at),
        strengths=tuple(interview.strengths[:3]) if interview else (),
        improvements=tuple(interview.improvements[:3]) if interview else (),
        talent_pool_invite=outcome is Decision.REJECT and not candidate.consent_talent_pool,
    )
    return ResultContext(variables=variables, promise=promise)


@dataclass(frozen=True, slots=True)
class Preview:
    rendered: RenderedMessage
    variables: TemplateContext
    sms_sign_name: str = ""

    @property
    def sms_segments(self) -> int | None:
        """What the SMS costs, when the template gives the provider's text to count."""
        if self.rendered.sms_text is None:
            return None
        return segments(self.rendered.sms_text, self.sms_sign_name)


async def preview_message(
    session: AsyncSession,
    application: Application,
    sources: TemplateSources,
    outcome: Decision,
    context: OutreachContext,
    *,
    now: datetime,
) -> Preview:
    """Render `sources` for this application as drafting would now, without writing anything.

    The interview is the application's latest completed one, as for a result the ATS sends
    without naming its interview. Raises TemplateValidationError for sources that could not
    be saved, and TemplateRenderError when rendering fails.
    """
    # What an HR user just typed: validated and rendered off the event loop (see render()).
    await asyncio.to_thread(validate_template, sources.as_fields())
    if sms_problems := sources.sms_problems():
        raise TemplateValidationError(sms_problems)
    candidate = await session.get_one(Candidate, application.candidate_id)
    job = await session.get_one(Job, application.job_id)
    interview = await latest_completed_interview(session, application.id)
    result = result_context(
        application=application,
        candidate=candidate,
        job=job,
        interview=interview,
        outcome=outcome,
        context=context,
        now=now,
    )
    rendered = await asyncio.to_thread(render_sources, sources, result.variables)
    return Preview(
        rendered=rendered, variables=result.variables, sms_sign_name=context.sms_sign_name
    )


async def draft_result_message(
    session: AsyncSession,
    application: Application,
    interview: Interview | None,
    outcome: Decision,
    context: OutreachContext,
    *,
    now: datetime | None = None,
) -> OutreachMessage:
    """Create the message for the application's current result, once per result version.

    A template that fails to render for this result does not fail the caller (the ATS event
    is accepted whatever the template does): the message is created needing attention, with
    the error, for HR to re-draft, write or reject. It has its promise like any other.
    """
    now = now or utcnow()
    existing = await session.scalar(
        select(OutreachMessage).where(
            OutreachMessage.application_id == application.id,
            OutreachMessage.result_version == application.result_version,
        )
    )
    if existing is not None:
        return existing
    candidate = await session.get_one(Candidate, application.candidate_id)
    job = await session.get_one(Job, application.job_id)
    await _supersede_pending(session, application, now)

    template = await _current_template(session, outcome, candidate, job)
    completed_at = interview.completed_at if interview is not None else None
    result = result_context(
        application=application,
        candidate=candidate,
        job=job,
        interview=interview,
        outcome=outcome,
        context=context,
        now=now,
    )
    promise = result.promise
    message = OutreachMessage(
        application_id=application.id,
        interview_id=interview.id if interview else None,
        result_version=application.result_version,
        outcome=outcome,
        template_id=template.id,
        subject="",
        body="",
        wechat_data={},
        sms_params={},
        interview_completed_at=completed_at,
        due_at=promise.due_at,
        due_estimated=promise.estimated,
    )
    try:
        rendered = await _render(template, result.variables)
    except TemplateRenderError as exc:
        message.render_error = _render_error(template, exc)
        await _add_draft(
            session,
            message,
            template,
            MessageState.NEEDS_ATTENTION,
            now=now,
            reason=_render_error_text(message.render_error),
        )
        _log_render_failure(message, application, template, exc)
        return message
    message.subject, message.body = rendered.subject, rendered.body
    message.wechat_data = rendered.wechat_data
    message.sms_params = rendered.sms_params
    await _add_draft(
        session, message, template, MessageState.PENDING_APPROVAL, now=now, after_text=message.body
    )
    log.info(
        "outreach.drafted",
        message_id=message.id,
        application_code=application.code,
        outcome=outcome.value,
        due_at=promise.due_at.isoformat(),
    )
    await _route_draft(session, message, candidate, job, context, now=now)
    return message


async def _add_draft(
    session: AsyncSession,
    message: OutreachMessage,
    template: MessageTemplate,
    state: MessageState,
    *,
    now: datetime,
    reason: str | None = None,
    after_text: str | None = None,
) -> None:
    """Store a new draft in its first state, with the transition that records its template."""
    message.state = state
    session.add(message)
    await session.flush()
    session.add(
        MessageTransition(
            message_id=message.id,
            from_state=None,
            to_state=state,
            actor=SYSTEM_DRAFTING,
            at=now,
            reason=reason,
            after_text=after_text,
            details=_template_details(template),
        )
    )


async def redraft(
    session: AsyncSession,
    message: OutreachMessage,
    context: OutreachContext,
    *,
    actor: str,
) -> OutreachMessage:
    """Draft a message that needed attention again, with the current template (HR fixed it).

    On success it becomes a normal draft, routed as drafting would have (approval rules,
    consent); if the template still fails, TemplateRenderError and nothing changes.
    """
    if message.state is not MessageState.NEEDS_ATTENTION:
        raise InvalidMessageTransitionError(
            f"message {message.id} is {message.state.value}; only a message that needs "
            "attention can be drafted again"
        )
    now = utcnow()
    application = await session.get_one(Application, message.application_id)
    candidate = await session.get_one(Candidate, application.candidate_id)
    job = await session.get_one(Job, application.job_id)
    interview = (
        await session.get(Interview, message.interview_id)
        if message.interview_id is not None
        else None
    )
    template = await _current_template(session, message.outcome, candidate, job)
    result = result_context(
        application=application,
        candidate=candidate,
        job=job,
        interview=interview,
        outcome=message.outcome,
        context=context,
        now=now,
    )
    rendered = await _render(template, result.variables)  # still failing: 422, no change
    before = _audited_fields(message)
    message.template_id = template.id
    message.subject, message.body = rendered.subject, rendered.body
    message.wechat_data = rendered.wechat_data
    message.sms_params = rendered.sms_params
    message.render_error = None
    # The promise stays: it runs from the interview, however long the template took to fix.
    transition(
        session,
        message,
        MessageState.PENDING_APPROVAL,
        actor=actor,
        reason="drafted again",
        after_text=message.body,
        at=now,
    )
    audit.record(
        session,
        actor=actor,
        action=audit.Action.MESSAGE_REDRAFTED,
        object_type="message",
        object_id=message.id,
        team_id=job.team_id,
        before=before,
        after=_audited_fields(message),
        details=_template_details(template),
        at=now,
    )
    log.info("outreach.redrafted", message_id=message.id, actor=actor)
    await _route_draft(session, message, candidate, job, context, now=now)
    return message


async def _current_template(
    session: AsyncSession, outcome: Decision, candidate: Candidate, job: Job
) -> MessageTemplate:
    template = await select_template(
        session, outcome=outcome, locale=candidate.locale, team_id=job.team_id, job_id=job.id
    )
    if template is None:
        raise NoTemplateError(f"no current template for outcome {outcome.value}")
    return template


async def _render(template: MessageTemplate, variables: TemplateContext) -> RenderedMessage:
    # Bounded by the render limits, and off the event loop, however the template was written.
    sources = TemplateSources.of(template)  # read here: the ORM row stays on this thread
    return await asyncio.to_thread(render_sources, sources, variables)


def _template_details(template: MessageTemplate) -> dict[str, object]:
    return {"template_id": template.id, "template_version": template.version}


def _render_error(template: MessageTemplate, exc: TemplateRenderError) -> dict[str, object]:
    """What HR needs to fix the template: which one, which field, and the error's one line
    (the reason render() gives, never a traceback)."""
    return {
        "template_id": template.id,
        "template_key": template.key,
        "template_version": template.version,
        "field": exc.field,
        "error": exc.reason[:MAX_RENDER_ERROR_CHARS],
    }


def _render_error_text(error: dict[str, object]) -> str:
    field = f", {error['field']}" if error.get("field") else ""
    return (
        f"template {error['template_key']} v{error['template_version']}{field} "
        f"did not render: {error['error']}"
    )


def _log_render_failure(
    message: OutreachMessage,
    application: Application,
    template: MessageTemplate,
    exc: TemplateRenderError,
) -> None:
    # The reason can quote the candidate's data: it is kept for HR, not written to the log;
    # the log names what was raised inside the template (ZeroDivisionError, UndefinedError).
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    log.warning(
        "outreach.draft_needs_attention",
        message_id=message.id,
        application_code=application.code,
        template_key=template.key,
        template_version=template.version,
        field=exc.field,
        error_type=type(cause).__name__,
    )


async def _route_draft(
    session: AsyncSession,
    message: OutreachMessage,
    candidate: Candidate,
    job: Job,
    context: OutreachContext,
    *,
    now: datetime,
) -> None:
    """A fresh draft: undeliverable without consent, queued at once under an automatic
    rule, otherwise left pending for HR."""
    if not candidate.consent_contact:
        transition(session, message, MessageState.APPROVED, actor="system:consent", at=now)
        transition(
            session,
            message,
            MessageState.UNDELIVERABLE,
            actor="system:consent",
            reason="the candidate has not consented to be contacted",
            at=now,
        )
        await session.flush()  # the message's id, for HR's notice
        await notify_undeliverable(session, message, reason="no consent to contact", now=now)
        return
    mode = await approval_mode(session, outcome=message.outcome, team_id=job.team_id, job_id=job.id)
    if mode is ApprovalMode.AUTO:
        transition(session, message, MessageState.APPROVED, actor=SYSTEM_AUTO, at=now)
        message.decided_by, message.decided_at = SYSTEM_AUTO, now
        await _queue(session, message, candidate, context, actor=SYSTEM_AUTO, now=now)
        return
    # Awaiting HR: a card to each one who takes approvals in WeCom / Telegram, sent after
    # this transaction commits.
    await add_message_cards(session, message, job, HrCardKind.DRAFT, now=now)


async def _supersede_pending(
    session: AsyncSession, application: Application, now: datetime
) -> None:
    """A newer result replaces a draft nobody approved yet (or one that never rendered), so
    HR never sends a stale one."""
    stale = (
        await session.scalars(
            select(OutreachMessage).where(
                OutreachMessage.application_id == application.id,
                OutreachMessage.state.in_(
                    (MessageState.PENDING_APPROVAL, MessageState.NEEDS_ATTENTION)
                ),
            )
        )
    ).all()
    for message in stale:
        transition(
            session,
            message,
            MessageState.REJECTED,
            actor=SYSTEM_DRAFTING,
            reason=f"superseded by result version {application.result_version}",
            at=now,
        )
        message.rejection_reason = "superseded by a newer result"
        await close_message_cards(
            session, message.id, decision="superseded", decided_by=SYSTEM_DRAFTING, now=now
        )


async def _queue(
    session: AsyncSession,
    message: OutreachMessage,
    candidate: Candidate,
    context: OutreachContext,
    *,
    actor: str,
    now: datetime,
) -> None:
    channels = await deliverable_channels(session, candidate)
    if not channels:
        stopped = candidate.proactive_opted_out_at is not None
        transition(
            session,
            message,
            MessageState.UNDELIVERABLE,
            actor=actor,
            reason=(
                "the candidate asked for no proactive messages; they can read it in chat"
                if stopped
                else "the candidate has no reachable channel"
            ),
            at=now,
        )
        await notify_undeliverable(
            session,
            message,
            reason="asked for no proactive messages" if stopped else "no reachable channel",
            now=now,
        )
        return
    application = await session.get_one(Application, message.application_id)
    enqueue_delivery(session, message, application, channels[0], context.quiet_hours, now)
    transition(session, message, MessageState.QUEUED, actor=actor, at=now)
    if message.outcome is Decision.ADVANCE:
        # The job books its next round in Candor: the delivered message carries the
        # invitation (candor.scheduling.invitations), opened with the queueing it rides on.
        await scheduling.invite(session, application, outreach_message_id=message.id, now=now)


def enqueue_delivery(
    session: AsyncSession,
    message: OutreachMessage,
    application: Application,
    channel: Channel,
    quiet_hours: QuietHours,
    now: datetime,
) -> OutboxItem:
    item = OutboxItem(
        message_id=message.id,
        channel=channel,
        idempotency_key=f"{application.id}:{message.result_version}:{channel.value}",
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=quiet_hours.next_allowed(now),
    )
    session.add(item)
    return item


async def approve(
    session: AsyncSession,
    message: OutreachMessage,
    context: OutreachContext,
    *,
    actor: str,
    edited_body: str | None = None,
    edited_subject: str | None = None,
    via: str | None = None,
) -> OutreachMessage:
    """Approve as drafted, or with HR's edits; either way the outbox row is written here.

    The decision is audited in the same transaction (see candor/audit/service.py), with
    `via` ("wecom", "telegram") when it was taken in chat rather than the console or API."""
    now = utcnow()
    before = _audited_fields(message)
    if edited_body is not None or edited_subject is not None:
        new_body = edited_body if edited_body is not None else message.body
        new_subject = edited_subject if edited_subject is not None else message.subject
        _refuse_template_syntax(new_body, new_subject)
        if not new_body.strip() or not new_subject.strip():
            # A draft that never rendered has neither: HR writes both.
            raise TemplateValidationError(["write both the subject and the message"])
        transition(
            session,
            message,
            MessageState.EDITED_AND_APPROVED,
            actor=actor,
            at=now,
            before_text=message.body,
            after_text=new_body,
        )
        message.body, message.subject = new_body, new_subject
    else:
        transition(session, message, MessageState.APPROVED, actor=actor, at=now)
    message.decided_by, message.decided_at = actor, now
    edited = message.state is MessageState.EDITED_AND_APPROVED
    audit.record(
        session,
        actor=actor,
        action=audit.Action.MESSAGE_EDITED_AND_APPROVED
        if edited
        else audit.Action.MESSAGE_APPROVED,
        object_type="message",
        object_id=message.id,
        team_id=await team_of_application(session, message.application_id),
        before=before,
        after=_audited_fields(message),
        details={"via": via} if via else None,
        at=now,
    )
    await close_message_cards(
        session,
        message.id,
        decision="approved",
        decided_by=await actor_name(session, actor),
        now=now,
    )
    candidate = await _candidate_of(session, message)
    await _queue(session, message, candidate, context, actor=actor, now=now)
    log.info(
        "outreach.approved", message_id=message.id, actor=actor, edited=edited_body is not None
    )
    return message


def _refuse_template_syntax(*texts: str) -> None:
    """Edited text is sent as written; refuse leftover `{{ }}` that would reach the candidate."""
    for text in texts:
        if "{{" in text or "{%" in text:
            raise TemplateValidationError(["edited text still contains template markup"])


async def reject(
    session: AsyncSession,
    message: OutreachMessage,
    *,
    actor: str,
    reason: str,
    via: str | None = None,
) -> OutreachMessage:
    now = utcnow()
    before = _audited_fields(message)
    transition(session, message, MessageState.REJECTED, actor=actor, reason=reason, at=now)
    message.rejection_reason = reason
    message.decided_by, message.decided_at = actor, now
    audit.record(
        session,
        actor=actor,
        action=audit.Action.MESSAGE_REJECTED,
        object_type="message",
        object_id=message.id,
        team_id=await team_of_application(session, message.application_id),
        before=before,
        after=_audited_fields(message),
        details={"reason": reason, "via": via} if via else {"reason": reason},
        at=now,
    )
    await close_message_cards(
        session,
        message.id,
        decision="rejected",
        decided_by=await actor_name(session, actor),
        now=now,
    )
    log.info("outreach.rejected", message_id=message.id, actor=actor)
    return message


def _audited_fields(message: OutreachMessage) -> dict[str, str | None]:
    return {"state": message.state.value, "subject": message.subject, "body": message.body}


async def _candidate_of(session: AsyncSession, message: OutreachMessage) -> Candidate:
    application = await session.get_one(Application, message.application_id)
    return await session.get_one(Candidate, application.candidate_id)


async def messages_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[OutreachMessage]:
    return list(
        (
            await session.scalars(
                select(OutreachMessage).where(OutreachMessage.id.in_(ids)).with_for_update()
            )
        ).all()
    )


async def bulk_approve(
    session: AsyncSession,
    messages: Sequence[OutreachMessage],
    requested_ids: Sequence[int],
    context: OutreachContext,
    *,
    actor: str,
) -> tuple[list[int], list[int], dict[int, str]]:
    """Approve every visible pending message in one transaction.

    Returns (approved, not found, conflicts by id); a message in another state is reported,
    not fatal, so one stale row does not block the rest of HR's selection.
    """
    by_id = {message.id: message for message in messages}
    approved: list[int] = []
    conflicts: dict[int, str] = {}
    for message_id in dict.fromkeys(requested_ids):
        message = by_id.get(message_id)
        if message is None:
            continue
        if message.state is not MessageState.PENDING_APPROVAL:
            conflicts[message_id] = f"message is {message.state.value}"
            continue
        await approve(session, message, context, actor=actor)
        approved.append(message_id)
    not_found = [i for i in dict.fromkeys(requested_ids) if i not in by_id]
    return approved, not_found, conflicts
