"""E-mailing the notices `candor.outreach.hr_notices` records for HR users: SLA reminders,
escalations and breaches, and results that could not be delivered.

`hr_notices` writes one `sla_notifications` row per (message, kind, recipient) with
`sent_at` empty; this queue of the delivery loop (`candor.delivery.loop`) claims due rows
with a short lease, the loop e-mails each on the e-mail channel, and `sent_at` is stamped
once it went out. A worker that dies mid-send leaves the row to be claimed again after the
lease (at least once, never lost). A failed e-mail is retried later; one the channel will
not take (no SMTP in production) waits an hour, listed as undelivered in the HR console.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from candor import metrics
from candor.clock import BUSINESS_TZ, utcnow
from candor.delivery.loop import Sending, run_round
from candor.delivery.ports import ChannelSender, Delivery, RetryAfter, SendResult, Sent
from candor.logging import get_logger
from candor.mail import Email
from candor.models import Application, HRUser, Job, OutreachMessage, SlaNotification
from candor.models.enums import Channel
from candor.models.outreach import SlaNotificationKind
from candor.runtime import Runtime

log = get_logger(__name__)

SUBJECTS = {
    SlaNotificationKind.WARN: "[Candor] 2 个工作日后到期 / Due in 2 working days: {code}",
    SlaNotificationKind.ESCALATE: "[Candor] 明天到期，请处理 / Due tomorrow: {code}",
    SlaNotificationKind.BREACH: "[Candor] 已超期未发送 / Deadline missed: {code}",
    SlaNotificationKind.UNDELIVERABLE: "[Candor] 结果无法送达 / Result undeliverable: {code}",
}


LEASE = timedelta(seconds=60)
NOT_TAKEN_WAIT = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ClaimedNotice:
    notification_id: int
    delivery: Delivery


def render_notice(
    kind: SlaNotificationKind,
    *,
    recipient_name: str,
    application_code: str,
    job_title: str,
    due_at: datetime | None,
    state: str,
    console_url: str,
) -> Email:
    due = due_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if due_at else "—"
    if kind is SlaNotificationKind.UNDELIVERABLE:
        body = (
            f"{recipient_name}，您好：\n\n"
            f"申请 {application_code}（{job_title}）的结果通知无法通过候选人的任何渠道送达"
            f"（状态：{state}），请另行联系候选人（须在 {due} 北京时间前）：{console_url}\n\n"
            f"Hello {recipient_name},\n\nThe result message for application "
            f"{application_code} ({job_title}) reached the candidate on no channel (it is now "
            f"{state}). Please contact the candidate another way, by {due} (Beijing time): "
            f"{console_url}\n"
        )
        return Email(to="", subject=SUBJECTS[kind].format(code=application_code), body=body)
    body = (
        f"{recipient_name}，您好：\n\n"
        f"申请 {application_code}（{job_title}）的结果通知须在 {due}（北京时间）前发出，"
        f"当前状态：{state}。\n请在审批队列中处理：{console_url}\n\n"
        f"Hello {recipient_name},\n\nThe result message for application {application_code} "
        f"({job_title}) is due by {due} (Beijing time); it is now {state}.\n"
        f"Please handle it in the approval queue: {console_url}\n"
    )
    return Email(to="", subject=SUBJECTS[kind].format(code=application_code), body=body)


class HrNoticeQueue:
    """`sla_notifications` as a queue of the delivery loop."""

    name = "hr_notices"

    def __init__(self, runtime: Runtime, *, batch_size: int = 100) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        self.sent = 0

    async def claim_due(self) -> list[ClaimedNotice]:
        now = utcnow()
        base = self.runtime.settings.public_url.rstrip("/")
        async with self.runtime.transaction() as session:
            query = (
                select(SlaNotification, HRUser, OutreachMessage, Application.code, Job.title)
                .join(HRUser, HRUser.id == SlaNotification.recipient_id)
                .join(OutreachMessage, OutreachMessage.id == SlaNotification.message_id)
                .join(Application, Application.id == OutreachMessage.application_id)
                .join(Job, Job.id == Application.job_id)
                .where(
                    SlaNotification.sent_at.is_(None),
                    or_(
                        SlaNotification.next_attempt_at.is_(None),
                        SlaNotification.next_attempt_at <= now,
                    ),
                    HRUser.is_active.is_(True),
                )
                .order_by(SlaNotification.id)
                .limit(self.batch_size)
            )
            if not self.runtime.settings.uses_sqlite:
                query = query.with_for_update(of=SlaNotification, skip_locked=True)
            claimed = []
            for notification, user, message, code, title in (await session.execute(query)).all():
                notification.attempts += 1
                notification.next_attempt_at = now + LEASE
                email = render_notice(
                    notification.kind,
                    recipient_name=user.display_name,
                    application_code=code,
                    job_title=title,
                    due_at=message.due_at,
                    state=message.state.value,
                    console_url=f"{base}/console",
                )
                claimed.append(
                    ClaimedNotice(
                        notification.id,
                        Delivery(
                            idempotency_key=f"hr-notice:{notification.id}",
                            channel=Channel.EMAIL,
                            recipient=user.email,
                            subject=email.subject,
                            body=email.body,
                            locale="zh-CN",  # the notice carries both languages
                        ),
                    )
                )
        return claimed

    async def record_outcomes(self, outcomes: Sequence[tuple[ClaimedNotice, SendResult]]) -> None:
        if not outcomes:
            return
        now = utcnow()
        async with self.runtime.transaction() as session:
            for claimed, outcome in outcomes:
                row = await session.get_one(SlaNotification, claimed.notification_id)
                if isinstance(outcome, Sent):
                    row.sent_at, row.last_error = now, None
                    self.sent += 1
                    continue
                wait = (
                    timedelta(seconds=max(outcome.seconds, 1.0))
                    if isinstance(outcome, RetryAfter)
                    else NOT_TAKEN_WAIT
                )
                row.next_attempt_at, row.last_error = now + wait, outcome.reason
                log.warning(
                    "notify.hr_mail_failed",
                    notification_id=claimed.notification_id,
                    outcome=type(outcome).__name__,
                    reason=outcome.reason,
                )
        for claimed, outcome in outcomes:
            channel = claimed.delivery.channel.value
            if isinstance(outcome, Sent):
                metrics.delivered(self.name, channel)
            else:  # HR notices are never given up: even a refusal is tried again later
                metrics.retried(self.name, channel, outcome.reason)
        sent = sum(isinstance(outcome, Sent) for _, outcome in outcomes)
        if sent:
            log.info("notify.hr_mail_sent", count=sent)


async def deliver_hr_notices(
    runtime: Runtime, senders: Mapping[Channel, ChannelSender], *, limit: int = 100
) -> int:
    """One round of the HR notice queue with these senders; returns how many went out."""
    queue = HrNoticeQueue(runtime, batch_size=limit)
    await run_round(queue, Sending(senders, concurrency=runtime.settings.dispatcher_concurrency))
    return queue.sent
