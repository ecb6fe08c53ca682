"""`candor telegram poll|set-webhook`: running the Telegram bot without the API server."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from candor.settings import Settings


def telegram_poll(settings: Settings) -> None:
    """Long polling for development: the same handling as the webhook, no public URL."""
    if settings.telegram_bot_token is None:
        typer.secho("set CANDOR_TELEGRAM_BOT_TOKEN first", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    from candor.logging import configure_logging

    configure_logging(settings)
    asyncio.run(_poll(settings))


async def _poll(settings: Settings) -> None:
    from bot.channels.telegram import TelegramBot
    from bot.lifespan import default_gateway
    from candor.runtime import open_runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings) as runtime:
        bot = TelegramBot.from_settings(
            settings, default_gateway(runtime), runtime.redis, polling=True
        )
        await bot.start()
        assert bot.application.updater is not None
        # A webhook and getUpdates exclude each other: polling takes over until set again.
        await bot.bot.delete_webhook()
        await bot.application.updater.start_polling()
        typer.echo(f"polling as @{bot.bot.username}; Ctrl-C to stop", err=True)
        try:
            await stop.wait()
        finally:
            await bot.application.updater.stop()
            await bot.stop()


def telegram_set_webhook(settings: Settings, url: str) -> None:
    """Point Telegram at `url` (…/telegram/webhook) with the configured secret token."""
    if settings.telegram_bot_token is None or settings.telegram_webhook_secret is None:
        typer.secho(
            "set CANDOR_TELEGRAM_BOT_TOKEN and CANDOR_TELEGRAM_WEBHOOK_SECRET first",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    from telegram import Bot

    from bot.channels.telegram import bot_base_url

    async def run() -> None:
        assert settings.telegram_bot_token is not None
        assert settings.telegram_webhook_secret is not None
        async with Bot(
            settings.telegram_bot_token.get_secret_value(), base_url=bot_base_url(settings)
        ) as bot:
            await bot.set_webhook(
                url,
                secret_token=settings.telegram_webhook_secret.get_secret_value(),
                allowed_updates=["message", "callback_query", "my_chat_member"],
            )

    asyncio.run(run())
    typer.echo(f"webhook set to {url}")


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Add `candor telegram poll|set-webhook`."""
    telegram_app = typer.Typer(
        help="Telegram bot: long polling, webhook.", no_args_is_help=True, rich_markup_mode=None
    )
    app.add_typer(telegram_app, name="telegram")

    @telegram_app.command("poll")
    def poll_command() -> None:
        """Answer the bot by long polling (development; removes the webhook)."""
        telegram_poll(settings())

    @telegram_app.command("set-webhook")
    def set_webhook_command(
        url: Annotated[str, typer.Argument(help="https://your.host/telegram/webhook")],
    ) -> None:
        """Register the webhook URL with Telegram, with the configured secret token."""
        telegram_set_webhook(settings(), url)
