from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bot.conversation import ConversationGateway
from candor.chat.cli import issue_link, link_text, unbind_accounts
from candor.chat.messages import InboundMessage
from candor.clock import utcnow
from candor.models import AuditEntry, ChatIdentity, IdentityEvent
from candor.models.chat import IdentityAction
from candor.models.enums import Channel
from tests.candor.test_cli import candor
from tests.outreach_world import World


@pytest.mark.parametrize("channel", [Channel.WEB, Channel.TELEGRAM, Channel.WECHAT])
async def test_a_printed_link_binds_on_its_channel(world: World, channel: Channel) -> None:
    await world.applicant(1)
    application = await world.application(1)
    settings = world.runtime.settings.model_copy(
        update={"public_url": "https://jobs.example.com", "telegram_bot_username": "candor_bot"}
    )

    issued = await issue_link(settings, application.code.lower(), channel, actor="cli")
    assert issued is not None
    link = link_text(settings, issued)

    if channel is Channel.WEB:
        assert link.startswith("https://jobs.example.com/chat?bind=")
        token = parse_qs(urlsplit(link).query)["bind"][0]
    elif channel is Channel.TELEGRAM:
        assert link.startswith("https://t.me/candor_bot?start=")
        token = parse_qs(urlsplit(link).query)["start"][0]
    else:
        token = link
    assert len(token) <= 64
    event = {Channel.WEB: "start", Channel.TELEGRAM: "start", Channel.WECHAT: "scan"}[channel]
    replies = await ConversationGateway(world.runtime).handle(
        InboundMessage(channel, "someone", utcnow(), event=event, event_key=token)
    )
    assert application.code in replies[0].text


def test_an_unknown_application_is_an_error(embedded_env: dict[str, str]) -> None:
    candor("db", "upgrade", env=embedded_env)

    result = candor("bind-link", "AP-2026-000999", "--channel", "telegram", env=embedded_env)
    email = candor("bind-link", "AP-2026-000999", "--channel", "email", env=embedded_env)

    assert result.returncode == 2
    assert "no application AP-2026-000999" in result.stderr
    assert email.returncode == 2


async def test_unbind_unbinds_the_candidates_accounts_audited(world: World) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM, Channel.WEB])
    application = await world.application(1)
    settings = world.runtime.settings

    telegram = await unbind_accounts(
        settings, application.code.lower(), Channel.TELEGRAM, actor="cli"
    )
    again = await unbind_accounts(settings, application.code, Channel.TELEGRAM, actor="cli")
    rest = await unbind_accounts(settings, application.code, None, actor="cli")

    assert telegram == [(Channel.TELEGRAM, "telegram-user-1")]
    assert again == []
    assert rest == [(Channel.WEB, "web-user-1")]
    assert await unbind_accounts(settings, "AP-2026-000999", None, actor="cli") is None
    async with world.runtime.sessionmaker() as session:
        identities = (await session.scalars(select(ChatIdentity))).all()
        events = (await session.scalars(select(IdentityEvent).order_by(IdentityEvent.id))).all()
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "identity.unbound")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert all(identity.bound_at is None for identity in identities)
    assert [(e.action, e.actor, e.via) for e in events] == [
        (IdentityAction.UNBOUND, "cli", "cli"),
        (IdentityAction.UNBOUND, "cli", "cli"),
    ]
    assert [(e.actor, e.team_id) for e in entries] == [("cli", world.team.id)] * 2
    assert entries[0].before is not None
    assert entries[0].before["candidate_id"] == application.candidate_id


def test_unbind_of_an_unknown_application_is_an_error(embedded_env: dict[str, str]) -> None:
    candor("db", "upgrade", env=embedded_env)

    result = candor("unbind", "AP-2026-000999", "--channel", "wechat", env=embedded_env)

    assert result.returncode == 2
    assert "no application AP-2026-000999" in result.stderr
