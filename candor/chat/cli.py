"""`candor bind-link` and `candor unbind`: thin wrappers over the chat services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from candor.enums import Channel

if TYPE_CHECKING:
    from candor.chat.binding import IssuedToken
    from candor.settings import Settings

WECHAT_QR_MAX_SECONDS = 30 * 24 * 3600


async def issue_link(
    settings: Settings, application_code: str, channel: Channel, *, actor: str
) -> IssuedToken | None:
    from candor.chat import binding
    from candor.clock import utcnow
    from candor.runtime import database_transaction

    async with database_transaction(settings) as session:
        return await binding.issue_link_for_code(
            session,
            application_code,
            channel,
            actor=actor,
            now=utcnow(),
            valid_for=timedelta(days=settings.binding_token_days),
        )


def link_text(settings: Settings, issued: IssuedToken) -> str:
    """What to put in the invitation for this channel."""
    token = issued.plaintext
    if issued.channel is Channel.WEB:
        return f"{settings.public_url.rstrip('/')}/chat?bind={token}"
    if issued.channel is Channel.TELEGRAM:
        if settings.telegram_bot_username:
            return f"https://t.me/{settings.telegram_bot_username.lstrip('@')}?start={token}"
        return f"/start {token}"
    # WeChat: the scene string of a temporary QR code (QR_STR_SCENE) made with qrcode/create.
    return token


def bind_link(settings: Settings, application_code: str, channel: Channel) -> None:
    from candor.clock import utcnow

    issued = asyncio.run(issue_link(settings, application_code, channel, actor="cli"))
    if issued is None:
        typer.secho(f"no application {application_code}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    typer.echo(link_text(settings, issued))
    notes = [
        f"{issued.application_code} via {channel.value}: single use, valid until "
        f"{issued.expires_at:%Y-%m-%d %H:%M} UTC; a new link revokes this one."
    ]
    if channel is Channel.TELEGRAM and not settings.telegram_bot_username:
        notes.append("Set CANDOR_TELEGRAM_BOT_USERNAME to print a t.me deep link.")
    if channel is Channel.WECHAT:
        seconds = min(int((issued.expires_at - utcnow()).total_seconds()), WECHAT_QR_MAX_SECONDS)
        request = {
            "expire_seconds": seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": issued.plaintext}},
        }
        notes.append(
            "Above: the QR scene string. Create the QR code with POST "
            "/cgi-bin/qrcode/create?access_token=... and this body, then show "
            "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=<ticket>:\n"
            + json.dumps(request, ensure_ascii=False)
        )
    for note in notes:
        typer.echo(note, err=True)


async def unbind_accounts(
    settings: Settings, application_code: str, channel: Channel | None, *, actor: str
) -> list[tuple[Channel, str]] | None:
    """Unbind the chat accounts of the application's candidate (on `channel` only, if
    given), audited; the (channel, account) pairs unbound, or None for an unknown code."""
    from candor.ats.repository import application_by_code
    from candor.chat.teams import team_of_application
    from candor.clock import utcnow
    from candor.dialogue import hr_actions
    from candor.runtime import open_runtime

    async with open_runtime(settings) as runtime, runtime.transaction() as session:
        application = await application_by_code(session, application_code.strip().upper())
        if application is None:
            return None
        team_id = await team_of_application(session, application.id)
        unbound = []
        for identity in await hr_actions.bound_identities(
            session, application.candidate_id, for_update=True
        ):
            if channel is not None and identity.channel is not channel:
                continue
            await hr_actions.unbind_identity(
                session, identity, actor=actor, via="cli", team_id=team_id, now=utcnow()
            )
            unbound.append((identity.channel, identity.external_user_id))
        return unbound


def unbind(settings: Settings, application_code: str, channel: Channel | None) -> None:
    unbound = asyncio.run(unbind_accounts(settings, application_code, channel, actor="cli"))
    if unbound is None:
        typer.secho(f"no application {application_code}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    if not unbound:
        where = f" on {channel.value}" if channel is not None else ""
        typer.echo(f"no chat account{where} is bound to {application_code.upper()}'s candidate")
        return
    for bound_channel, account in unbound:
        # The account's id is personal data: only its end is printed.
        typer.echo(f"unbound the {bound_channel.value} account …{account[-6:]}")


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Add `candor bind-link` and `candor unbind`."""

    @app.command("bind-link")
    def bind_link_command(
        application_code: Annotated[str, typer.Argument(help="e.g. AP-2026-000123")],
        channel: Annotated[
            Channel, typer.Option(help="wechat, telegram or web (e-mail has manual binding).")
        ] = Channel.WEB,
    ) -> None:
        """Create a single-use binding link for an application and print it."""
        if channel is Channel.EMAIL:
            typer.secho("e-mail needs no link: candidates bind by code", err=True)
            raise typer.Exit(2)
        bind_link(settings(), application_code, channel)

    @app.command("unbind")
    def unbind_command(
        application_code: Annotated[str, typer.Argument(help="e.g. AP-2026-000123")],
        channel: Annotated[
            Channel | None,
            typer.Option(help="Only this channel's account (default: every channel)."),
        ] = None,
    ) -> None:
        """Unbind the chat accounts bound to the application's candidate (audited)."""
        unbind(settings(), application_code, channel)
