"""`candor crypto ...`: keys and the re-encryption pass (docs/operations.md#encryption-keys)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from candor.crypto.reencrypt import ColumnStatus, PassReport
    from candor.settings import Settings

# `candor --help` imports this module; the commands import what they use.

crypto_app = typer.Typer(
    help="Encryption at rest: keys, status, and re-encrypting stored values.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _settings() -> Settings:
    from candor.settings import get_settings

    try:
        return get_settings()
    except ValueError as exc:
        typer.secho(f"invalid settings: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


@crypto_app.command("generate-key")
def generate_key_command() -> None:
    """Print a new random 32-byte key, base64 (for CANDOR_ENCRYPTION_KEYS or the blind-index
    key)."""
    from candor.crypto.keys import generate_key

    typer.echo(generate_key())


@crypto_app.command("reencrypt")
def reencrypt_command(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 500,
    pause_seconds: Annotated[
        float, typer.Option(min=0, help="Pause between batches, to spare a busy database.")
    ] = 0.0,
    all_rows: Annotated[
        bool,
        typer.Option(
            "--all-rows",
            help="Read every row and recompute every blind index (after a rolling upgrade, "
            "for indexes the previous release left stale).",
        ),
    ] = False,
) -> None:
    """Seal every stored value with the active key: legacy plaintext after an upgrade,
    values under a retired key after a rotation. Resumable: run it again after a crash."""
    from candor.crypto.fields import EncryptionError
    from candor.crypto.reencrypt import reencrypt
    from candor.runtime import open_runtime

    settings = _settings()

    async def run() -> PassReport:
        async with open_runtime(settings) as runtime:
            return await reencrypt(
                runtime,
                batch_size=batch_size,
                pause_seconds=pause_seconds,
                all_rows=all_rows,
                progress=typer.echo,
            )

    try:
        report = asyncio.run(run())
    except EncryptionError as exc:
        typer.secho(f"{exc.code}: {exc.message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2 if exc.code == "encryption_key_missing" else 1) from exc
    typer.echo(
        f"key {settings.keyring.active_key_id}: {report.rows_sealed} rows sealed of "
        f"{report.rows_read} read in {report.passes} pass(es); "
        f"{report.rows_skipped} changed by the application meanwhile; {report.left} left"
    )
    if report.keys_forgotten:
        typer.echo(
            f"no row uses key(s) {', '.join(report.keys_forgotten)} any more: they may leave "
            "CANDOR_ENCRYPTION_KEYS"
        )
    for value in sorted(report.unreadable):
        typer.secho(
            f"unreadable, left as it is: {value.table} id {value.row_id} {value.column} "
            f"({value.code})",
            err=True,
            fg=typer.colors.RED,
        )
    if report.left:
        if len(report.unreadable) < report.left:
            typer.secho(
                "some rows are still not on the active key: is every process configured "
                "with it? Run the command again once they are.",
                err=True,
                fg=typer.colors.RED,
            )
        raise typer.Exit(1)


@crypto_app.command("status")
def status_command() -> None:
    """Count each sealed column's values by state: on the active key, on other keys, plaintext."""
    from candor.crypto.reencrypt import status
    from candor.runtime import database_transaction

    settings = _settings()

    async def run() -> list[ColumnStatus]:
        async with database_transaction(settings) as session:
            return await status(session, settings.keyring)

    typer.echo(f"active key: {settings.keyring.active_key_id}")
    for row in asyncio.run(run()):
        typer.echo(
            f"{row.column}: {row.stored} stored, {row.on_active_key} on the active key, "
            f"{row.on_other_keys} on other keys, {row.plaintext} plaintext, "
            f"{row.missing_index} plaintext without blind index, {row.empty} empty"
        )
