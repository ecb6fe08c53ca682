"""Read side of outreach: the approval queue, the template library and applications, scoped
to the principal's teams. Another team's object is indistinguishable from a missing one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from candor.auth.principals import HRPrincipal
from candor.auth.scope import scoped, visible_teams
from candor.models import Application, Job
from candor.models.enums import Decision, Locale
from candor.models.outreach import (
    MessageState,
    MessageTemplate,
    MessageTransition,
    OutreachMessage,
)
from candor.privacy.queries import not_hidden

# The most templates (or versions of one) one read returns; the console's library shows
# the first this many.
MAX_TEMPLATE_PAGE = 500


@dataclass(frozen=True, slots=True)
class MessageFilter:
    team_id: int | None = None
    job_id: int | None = None
    states: Sequence[MessageState] = ()
    due_before: datetime | None = None
    limit: int = 50
    after_id: int | None = None


def _visible(principal: HRPrincipal) -> Select[OutreachMessage]:
    query = (
        select(OutreachMessage)
        .join(Application, Application.id == OutreachMessage.application_id)
        .join(Job, Job.id == Application.job_id)
        .options(
            joinedload(OutreachMessage.application).joinedload(Application.candidate),
            joinedload(OutreachMessage.application).joinedload(Application.job),
        )
    )
    # An erased candidate's messages are nobody's to approve or read any more.
    query = query.where(not_hidden(Application.candidate_id))
    return scoped(query, Job.team_id, visible_teams(principal))


async def list_messages(
    session: AsyncSession, principal: HRPrincipal, filters: MessageFilter
) -> list[OutreachMessage]:
    """Most urgent first: the earliest promise deadline, then the oldest draft."""
    query = _visible(principal)
    if filters.team_id is not None:
        query = query.where(Job.team_id == filters.team_id)
    if filters.job_id is not None:
        query = query.where(Job.id == filters.job_id)
    if filters.states:
        query = query.where(OutreachMessage.state.in_(list(filters.states)))
    if filters.due_before is not None:
        query = query.where(OutreachMessage.due_at <= filters.due_before)
    if filters.after_id is not None:
        query = query.where(await _after_in_queue_order(session, filters.after_id))
    query = query.order_by(OutreachMessage.due_at.asc().nulls_last(), OutreachMessage.id)
    return list((await session.scalars(query.limit(filters.limit))).unique().all())


async def _after_in_queue_order(session: AsyncSession, after_id: int) -> ColumnElement[bool]:
    """The messages after `after_id` in the queue's order (deadline, no deadline last, then
    id): a keyset on both, since the cursor's neighbours by id are not its neighbours here.
    An id that names no message (0: from the start) falls back to the ids after it."""
    cursor = (
        await session.execute(select(OutreachMessage.due_at).where(OutreachMessage.id == after_id))
    ).first()
    if cursor is None:
        return OutreachMessage.id > after_id
    (due_at,) = cursor
    later_id = OutreachMessage.id > after_id
    if due_at is None:
        return and_(OutreachMessage.due_at.is_(None), later_id)
    return or_(
        OutreachMessage.due_at > due_at,
        and_(OutreachMessage.due_at == due_at, later_id),
        OutreachMessage.due_at.is_(None),
    )


async def visible_message(
    session: AsyncSession, principal: HRPrincipal, message_id: int, *, for_update: bool = False
) -> OutreachMessage | None:
    query = _visible(principal).where(OutreachMessage.id == message_id)
    if for_update:
        query = query.with_for_update(of=OutreachMessage)
    return (await session.scalars(query)).unique().one_or_none()


def _template_visible(principal: HRPrincipal) -> ColumnElement[bool]:
    """Company-wide templates, and those scoped to the principal's teams or their jobs."""
    visible = visible_teams(principal)
    if visible.all_teams:
        return true()
    team_jobs = scoped(select(Job.id), Job.team_id, visible)
    return and_(
        MessageTemplate.team_id.is_(None) | MessageTemplate.team_id.in_(sorted(visible.team_ids)),
        MessageTemplate.job_id.is_(None) | MessageTemplate.job_id.in_(team_jobs),
    )


async def list_templates(
    session: AsyncSession,
    principal: HRPrincipal,
    *,
    outcome: Decision | None = None,
    locale: Locale | None = None,
    limit: int = MAX_TEMPLATE_PAGE,
    after_key: str | None = None,
) -> list[MessageTemplate]:
    """The current version of every visible template, by key (a key has one current
    version, so the last key of a page is the next page's cursor)."""
    query = select(MessageTemplate).where(
        MessageTemplate.is_current.is_(True), _template_visible(principal)
    )
    if outcome is not None:
        query = query.where(MessageTemplate.outcome == outcome)
    if locale is not None:
        query = query.where(MessageTemplate.locale == locale)
    if after_key is not None:
        query = query.where(MessageTemplate.key > after_key)
    query = query.order_by(MessageTemplate.key).limit(min(limit, MAX_TEMPLATE_PAGE))
    return list((await session.scalars(query)).all())


async def template_versions(
    session: AsyncSession,
    principal: HRPrincipal,
    key: str,
    *,
    limit: int = MAX_TEMPLATE_PAGE,
    before_version: int | None = None,
) -> list[MessageTemplate]:
    """The visible versions of `key`, newest first, older than `before_version` if given
    (a page's last version is the next page's cursor); empty when there is none to see."""
    query = select(MessageTemplate).where(MessageTemplate.key == key, _template_visible(principal))
    if before_version is not None:
        query = query.where(MessageTemplate.version < before_version)
    query = query.order_by(MessageTemplate.version.desc()).limit(min(limit, MAX_TEMPLATE_PAGE))
    return list((await session.scalars(query)).all())


async def visible_template(
    session: AsyncSession, principal: HRPrincipal, template_id: int
) -> MessageTemplate | None:
    return await session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.id == template_id, _template_visible(principal)
        )
    )


async def visible_application(
    session: AsyncSession, principal: HRPrincipal, code: str
) -> Application | None:
    query = (
        select(Application).join(Job, Job.id == Application.job_id).where(Application.code == code)
    )
    return await session.scalar(scoped(query, Job.team_id, visible_teams(principal)))


async def newest_application_code(session: AsyncSession, principal: HRPrincipal) -> str | None:
    """The newest application the principal can see, so a template preview needs no typing."""
    query = select(Application.code).join(Job, Job.id == Application.job_id)
    query = scoped(query, Job.team_id, visible_teams(principal))
    return await session.scalar(query.order_by(Application.id.desc()).limit(1))


async def message_history(session: AsyncSession, message_id: int) -> list[MessageTransition]:
    """Every transition of a message the caller may already see, oldest first."""
    query = (
        select(MessageTransition)
        .where(MessageTransition.message_id == message_id)
        .order_by(MessageTransition.id)
    )
    return list((await session.scalars(query)).all())
