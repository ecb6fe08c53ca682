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
    # The ids are sealed, so the demo's prefix is matched here, not in SQL (a demo's few
    # bound web accounts).
    rows = await session.execute(
        select(Candidate.id, Candidate.name, ChatIdentity.external_user_id)
        .join(ChatIdentity, ChatIdentity.candidate_id == Candidate.id)
        .where(ChatIdentity.channel == Channel.WEB)
    )
    demo = sorted(
        (external_user_id, candidate_id, name)
        for candidate_id, name, external_user_id in rows.all()
        if external_user_id.startswith(DEMO_WEB_PREFIX)
    )
    links = []
    for _, candidate_id, name in demo:
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
