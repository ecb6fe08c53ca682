"""`candor privacy ...`: retention purges, and deletion requests from the command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

# `candor --help` imports this module; the commands import what they use.

privacy_app = typer.Typer(
    help="Candidates' personal data: deletion and retention (docs/privacy.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@privacy_app.command("purge")
def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be purged.")
    ] = False,
) -> None:
    """Purge every class of personal data past its retention period (or count it)."""
    from candor.clock import utcnow
    from candor.logging import configure_logging
    from candor.privacy import retention
    from candor.runtime import open_runtime
    from candor.settings import get_settings

    settings = get_settings()
    configure_logging(settings)

    async def run() -> dict[str, int]:
        async with open_runtime(settings) as runtime, runtime.transaction() as session:
            return await retention.purge(
                session, settings, now=utcnow(), dry_run=dry_run, actor="cli"
            )

    report = asyncio.run(run())
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{retention.UNHIRED_CANDIDATES}: {'would open' if dry_run else 'opened'} "
        f"{report[retention.UNHIRED_CANDIDATES]} deletion requests "
        f"({retention.UNHIRED_CANDIDATES_DESCRIPTION})"
    )
    for data_class in retention.CLASSES:
        typer.echo(
            f"{data_class.name}: {verb} {report[data_class.name]} rows ({data_class.description})"
        )
    rows = sum(count for name, count in report.items() if name != retention.UNHIRED_CANDIDATES)
    typer.echo(f"total: {verb} {rows} rows")


@privacy_app.command("erase")
def erase_command() -> None:
    """Erase now every deletion request that is due (past its cooling-off, not held), and
    finish any a stopped process left half way: what the worker's job does each minute."""
    from candor.clock import utcnow
    from candor.logging import configure_logging
    from candor.privacy import deletion, erasure
    from candor.runtime import open_runtime
    from candor.settings import get_settings

    settings = get_settings()
    configure_logging(settings)

    async def run() -> int:
        async with open_runtime(settings) as runtime:
            async with runtime.transaction() as session:
                due = await deletion.due_request_ids(session, now=utcnow())
            return sum([int(await erasure.erase(runtime, request_id)) for request_id in due])

    typer.echo(f"erased {asyncio.run(run())} candidates")
