"""E-mailing the notices `candor.outreach.hr_notices` records for HR users: SLA reminders,
escalations and breaches, and results that could not be delivered.

`hr_notices` writes one `sla_notifications` row per (message, kind, recipient) with
`sent_at` empty; this job e-mails each over SMTP and stamps `sent_at`. Reading happens in one
short transaction, each e-mail is sent with no transaction open, and each `sent_at` is
written right after its e-mail went out. A crash between the two sends that one e-mail again
on the next round (at least once, never lost). Without SMTP the rows wait: the HR console
lists them as undelivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from candor.clock import BUSINESS_TZ, utcnow
from candor.logging import get_logger
from candor.mail import Email, Mailer
from candor.models import Application, HRUser, Job, OutreachMessage, SlaNotification
from candor.models.outreach import SlaNotificationKind
from candor.runtime import Runtime

log = get_logger(__name__)

SUBJECTS = {
    SlaNotificationKind.WARN: "[Candor] 2 个工作日后到期 / Due in 2 working days: {code}",
    SlaNotificationKind.ESCALATE: "[Candor] 明天到期，请处理 / Due tomorrow: {code}",
    SlaNotificationKind.BREACH: "[Candor] 已超期未发送 / Deadline missed: {code}",
    SlaNotificationKind.UNDELIVERABLE: "[Candor] 结果无法送达 / Result undeliverable: {code}",
}


@dataclass(frozen=True, slots=True)
class PendingNotice:
    notification_id: int
    email: Email


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


async def pending_notices(runtime: Runtime, *, limit: int = 100) -> list[PendingNotice]:
    base = runtime.settings.public_url.rstrip("/")
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(SlaNotification, HRUser, OutreachMessage, Application.code, Job.title)
            .join(HRUser, HRUser.id == SlaNotification.recipient_id)
            .join(OutreachMessage, OutreachMessage.id == SlaNotification.message_id)
            .join(Application, Application.id == OutreachMessage.application_id)
            .join(Job, Job.id == Application.job_id)
            .where(SlaNotification.sent_at.is_(None), HRUser.is_active.is_(True))
            .order_by(SlaNotification.id)
            .limit(limit)
        )
        notices = []
        for notification, user, message, code, title in rows.all():
            email = render_notice(
                notification.kind,
                recipient_name=user.display_name,
                application_code=code,
                job_title=title,
                due_at=message.due_at,
                state=message.state.value,
                console_url=f"{base}/console",
            )
            notices.append(
                PendingNotice(
                    notification.id,
                    Email(to=user.email, subject=email.subject, body=email.body),
                )
            )
        return notices


async def deliver_sla_notifications(runtime: Runtime, mailer: Mailer, *, limit: int = 100) -> int:
    """E-mail pending SLA notifications; returns how many went out. A failed e-mail stays
    pending for the next round."""
    sent = 0
    for notice in await pending_notices(runtime, limit=limit):
        try:
            await mailer.send(notice.email)
        except Exception as exc:
            log.warning(
                "notify.hr_mail_failed",
                notification_id=notice.notification_id,
                error=type(exc).__name__,
            )
            continue
        async with runtime.transaction() as session:
            await session.execute(
                update(SlaNotification)
                .where(SlaNotification.id == notice.notification_id)
                .values(sent_at=utcnow())
            )
        sent += 1
    if sent:
        log.info("notify.hr_mail_sent", count=sent)
    return sent
