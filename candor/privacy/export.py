"""What a copy of a candidate's personal data holds (PIPL Art. 45), as one JSON document.

`build_export` reads only rows of the one candidate: their profile, the chat accounts bound
to them, their applications (stages, interviews as scheduled and completed, the interview
times they booked), the results
that were sent to them (never a draft, a rejected or unsent message, nor the interview's
internal score or report), every message they wrote or received (the transcript across
channels, the results as delivered by e-mail, WeChat and Telegram), their consents with the
changes they made in chat and the privacy notices they were shown, and their ratings.

`visible` narrows it to what an HR reader may see (`candor.auth.scope`): only the
applications of the reader's teams, their results and ratings, and the messages of the
conversations the reader sees. The candidate's own copy is every team's
(`candidate_own_data`). Times are ISO 8601 in China time (+08:00).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action
from candor.auth.scope import VisibleTeams, scoped
from candor.clock import BUSINESS_TZ
from candor.console import conversations as views
from candor.models import (
    Application,
    AuditEntry,
    Candidate,
    ChatIdentity,
    CsatRating,
    Interview,
    Job,
    OutreachMessage,
    PrivacyNoticeShown,
    StageChange,
)
from candor.models.scheduling import BookingState, InterviewBooking, InterviewSlot
from candor.scheduling.service import CANDIDATE

FORMAT = "candor.personal-data-export"
FORMAT_VERSION = 1
# A transcript longer than this is cut to its latest lines, and the export says so.
MAX_MESSAGES = 20_000


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(BUSINESS_TZ).isoformat() if moment is not None else None


async def build_export(
    session: AsyncSession,
    candidate: Candidate,
    visible: VisibleTeams,
    *,
    now: datetime,
) -> dict[str, Any]:
    applications = await _applications(session, candidate.id, visible)
    codes = {application.id: application.code for application in applications}
    messages = await views.transcript(
        session, visible, candidate_id=candidate.id, limit=MAX_MESSAGES
    )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_at": iso(now),
        "scope": "complete" if visible.all_teams else "your_teams",
        "profile": {
            "name": candidate.name,
            "email": candidate.email,
            "mobile": candidate.mobile,
            "language": candidate.locale.value,
            "preferred_channels": list(candidate.preferred_channels),
            "time_zone": candidate.time_zone,
            "ats_id": candidate.external_id,
            "created_at": iso(candidate.created_at),
        },
        "chat_accounts": await _chat_accounts(session, candidate.id),
        "applications": [await _application(session, a) for a in applications],
        "results": await _results(session, codes),
        "messages": [
            {
                "at": iso(line.at),
                "channel": line.channel.value,
                "from": line.author.value,
                "text": line.text,
            }
            for line in messages
        ],
        "messages_truncated": len(messages) >= MAX_MESSAGES,
        "consents": await _consents(session, candidate),
        "ratings": await _ratings(session, candidate.id, codes),
    }


async def _applications(
    session: AsyncSession, candidate_id: int, visible: VisibleTeams
) -> list[Application]:
    query = (
        select(Application)
        .join(Job, Job.id == Application.job_id)
        .where(Application.candidate_id == candidate_id)
        .order_by(Application.applied_at, Application.id)
    )
    return list((await session.scalars(scoped(query, Job.team_id, visible))).all())


async def _application(session: AsyncSession, application: Application) -> dict[str, Any]:
    job = await session.get_one(Job, application.job_id)
    changes = await session.scalars(
        select(StageChange)
        .where(StageChange.application_id == application.id)
        .order_by(StageChange.changed_at, StageChange.id)
    )
    interviews = await session.scalars(
        select(Interview).where(Interview.application_id == application.id).order_by(Interview.id)
    )
    return {
        "code": application.code,
        "job": job.title,
        "location": job.location,
        "stage": application.stage.value,
        "status": application.status.value,
        "applied_at": iso(application.applied_at),
        "withdrawn_at": iso(application.withdrawn_at),
        "history": [
            {"stage": c.to_stage.value, "status": c.to_status.value, "at": iso(c.changed_at)}
            for c in changes.all()
        ],
        "interviews": [
            {
                "kind": i.kind.value,
                "round": i.round,
                "scheduled_at": iso(i.scheduled_at),
                "completed_at": iso(i.completed_at),
            }
            for i in interviews.all()
        ],
        "interview_bookings": await _bookings(session, application.id),
    }


async def _bookings(session: AsyncSession, application_id: int) -> list[dict[str, Any]]:
    """The interview times they booked, moved or cancelled (or HR did for them)."""
    rows = await session.execute(
        select(InterviewBooking, InterviewSlot)
        .join(InterviewSlot, InterviewSlot.id == InterviewBooking.slot_id)
        .where(
            InterviewBooking.application_id == application_id,
            InterviewBooking.state != BookingState.RELEASED,  # a hold that lapsed or was let go
        )
        .order_by(InterviewBooking.created_at, InterviewBooking.id)
    )
    return [
        {
            "state": booking.state.value,
            "starts_at": iso(slot.starts_at),
            "ends_at": iso(slot.ends_at),
            "location": slot.location,
            "video_link": slot.video_link,
            "booked_by": "candidate" if booking.booked_by == CANDIDATE else "hr",
            "confirmed_at": iso(booking.confirmed_at),
            "ended_at": iso(booking.ended_at),
            "attendance": booking.attendance.value if booking.attendance else None,
        }
        for booking, slot in rows.all()
    ]


async def _chat_accounts(session: AsyncSession, candidate_id: int) -> list[dict[str, Any]]:
    # The account's own id is left out: a web-chat session id works like a password.
    rows = await session.scalars(
        select(ChatIdentity)
        .where(ChatIdentity.candidate_id == candidate_id, ChatIdentity.bound_at.is_not(None))
        .order_by(ChatIdentity.id)
    )
    return [
        {
            "channel": row.channel.value,
            "bound_at": iso(row.bound_at),
            "notifications_stopped_at": iso(row.opted_out_at),
        }
        for row in rows.all()
    ]


async def _results(session: AsyncSession, codes: dict[int, str]) -> list[dict[str, Any]]:
    if not codes:
        return []
    rows = await session.scalars(
        select(OutreachMessage)
        .where(
            OutreachMessage.application_id.in_(sorted(codes)),
            OutreachMessage.sent_at.is_not(None),
        )
        .order_by(OutreachMessage.sent_at, OutreachMessage.id)
    )
    return [
        {
            "application": codes[row.application_id],
            "outcome": row.outcome.value,
            "subject": row.subject,
            "text": row.body,
            "channel": row.channel.value if row.channel is not None else None,
            "sent_at": iso(row.sent_at),
            "delivered_at": iso(row.delivered_at),
        }
        for row in rows.all()
    ]


async def _consents(session: AsyncSession, candidate: Candidate) -> dict[str, Any]:
    notices = await session.scalars(
        select(PrivacyNoticeShown)
        .where(PrivacyNoticeShown.candidate_id == candidate.id)
        .order_by(PrivacyNoticeShown.shown_at, PrivacyNoticeShown.id)
    )
    changes = await session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.action == Action.CANDIDATE_CONSENT_CHANGED,
            AuditEntry.object_type == "candidate",
            AuditEntry.object_id == str(candidate.id),
        )
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return {
        "contact_about_applications": candidate.consent_contact,
        "talent_pool": candidate.consent_talent_pool,
        "wechat_subscription_notifications": candidate.consent_wechat_subscription,
        "all_proactive_messages_stopped_at": iso(candidate.proactive_opted_out_at),
        "sms_stopped_at": iso(candidate.sms_opted_out_at),
        "changes": [
            {
                "at": iso(entry.at),
                "before": entry.before,
                "after": entry.after,
                "via": entry.details.get("via"),
                "channel": entry.details.get("channel"),
            }
            for entry in changes.all()
        ],
        "privacy_notices_shown": [
            {
                "version": notice.version,
                "shown_at": iso(notice.shown_at),
                "channel": notice.channel.value,
                "language": notice.locale.value,
            }
            for notice in notices.all()
        ],
    }


async def _ratings(
    session: AsyncSession, candidate_id: int, codes: dict[int, str]
) -> list[dict[str, Any]]:
    if not codes:
        return []
    rows = await session.execute(
        select(CsatRating, OutreachMessage.application_id)
        .join(OutreachMessage, OutreachMessage.id == CsatRating.outreach_message_id)
        .where(
            CsatRating.candidate_id == candidate_id,
            OutreachMessage.application_id.in_(sorted(codes)),
        )
        .order_by(CsatRating.asked_at, CsatRating.id)
    )
    return [
        {
            "application": codes[application_id],
            "asked_at": iso(rating.asked_at),
            "rating": rating.rating,
            "rated_at": iso(rating.rated_at),
        }
        for rating, application_id in rows.all()
    ]
