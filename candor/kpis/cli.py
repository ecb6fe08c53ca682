"""`candor kpis ...`: the KPI facts the dashboards read."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from candor.kpis import facts

# `candor --help` imports this module; the commands import what they use.

kpis_app = typer.Typer(
    help="Response KPIs: the facts behind the dashboard.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@kpis_app.command("rebuild")
def rebuild_command() -> None:
    """Recompute every KPI fact from the records (after a bulk load with triggers off)."""
    from candor.kpis import facts
    from candor.runtime import open_runtime
    from candor.settings import get_settings

    async def run() -> list[facts.Rebuilt]:
        async with open_runtime(get_settings()) as runtime, runtime.transaction() as session:
            return await facts.rebuild(session)

    for done in asyncio.run(run()):
        typer.echo(f"{done.table}: {done.rows} rows in {done.seconds:.1f} s")


@kpis_app.command("check")
def check_command() -> None:
    """Compare every KPI fact with its definition; exit 1 if any differ."""
    from candor.kpis import facts
    from candor.runtime import open_runtime
    from candor.settings import get_settings

    async def run() -> dict[str, int]:
        async with open_runtime(get_settings()) as runtime, runtime.sessionmaker() as session:
            return await facts.differences(session)

    found = asyncio.run(run())
    for table, count in found.items():
        typer.echo(f"{table}: {'exact' if count == 0 else f'{count} rows differ'}")
    if any(found.values()):
        raise typer.Exit(1)
