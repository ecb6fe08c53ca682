"""Web-chat links for the demo's pre-bound candidates, fresh on every `candor demo` run
(binding links are single-use)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.chat import binding
from candor.clock import utcnow
from candor.models import Application, Candidate, ChatIdentity
from candor.models.enums import Channel

DEMO_WEB_PREFIX = "demo-web-"


@dataclass(frozen=True, slots=True)
class DemoChatLink:
    candidate_name: str
    application_code: str
    url: str


async def demo_chat_links(
    session: AsyncSession, *, public_url: str, valid_for: timedelta = timedelta(days=7)
) -> list[DemoChatLink]:
    """A web-chat binding link to the latest application of each candidate the demo bound
    to a web identity."""
    rows = await session.execute(
        select(Candidate.id, Candidate.name)
        .join(ChatIdentity, ChatIdentity.candidate_id == Candidate.id)
        .where(
            ChatIdentity.channel == Channel.WEB,
            ChatIdentity.external_user_id.startswith(DEMO_WEB_PREFIX),
        )
        .order_by(ChatIdentity.external_user_id)
    )
    links = []
    for candidate_id, name in rows.all():
        application = await session.scalar(
            select(Application)
            .where(Application.candidate_id == candidate_id)
            .order_by(Application.applied_at.desc(), Application.id.desc())
            .limit(1)
        )
        if application is None:
            continue
        issued = await binding.issue_token(
            session, application, Channel.WEB, actor="demo", now=utcnow(), valid_for=valid_for
        )
        url = f"{public_url.rstrip('/')}/chat?bind={issued.plaintext}"
        links.append(DemoChatLink(name, application.code, url))
    return links
