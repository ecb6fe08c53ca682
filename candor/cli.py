"""The `candor` command: serve, worker, db, import, demo, tokens, sla and calendar."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# Every `candor` command, `--help` included, imports this module and the sub-apps' below:
# they build the command tree from the standard library and typer only. Settings (pydantic),
# SQLAlchemy, Redis, FastAPI and the channels are imported by the commands that use them,
# so `candor --help` starts in a fraction of a second (tests/candor/test_cli_startup.py
# guards it; bench/cli_startup.py measures it).
from bot import cli as bot_cli
from candor.access.cli import user_app
from candor.chat import cli as chat_cli
from candor.crypto.cli import crypto_app
from candor.dialogue.cli import dialogue_app
from candor.kpis.cli import kpis_app
from candor.privacy.cli import privacy_app
from nlu.cli import nlu_app, rasa_app

if TYPE_CHECKING:
    from candor.settings import Settings

app = typer.Typer(
    name="candor",
    help="Candor: every candidate hears back.",
    no_args_is_help=True,
    # Plain help, as click prints it: rich's boxed help costs every command ~0.4 s of
    # imports at start-up. Each sub-app says the same, since each renders its own help.
    rich_markup_mode=None,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
token_app = typer.Typer(help="Integration API tokens.", no_args_is_help=True, rich_markup_mode=None)
sla_app = typer.Typer(
    help="The feedback deadline (working days).", no_args_is_help=True, rich_markup_mode=None
)
calendar_app = typer.Typer(
    help="China's working-day calendar: official data and admin schedules.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(sla_app, name="sla")
app.add_typer(calendar_app, name="calendar")
app.add_typer(nlu_app, name="nlu")
app.add_typer(rasa_app, name="rasa")
app.add_typer(dialogue_app, name="dialogue")
app.add_typer(kpis_app, name="kpis")
app.add_typer(privacy_app, name="privacy")
app.add_typer(crypto_app, name="crypto")
i18n_app = typer.Typer(
    help="The HR console's translations (docs/console.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(i18n_app, name="i18n")


def _settings() -> Settings:
    from candor.settings import get_settings

    try:
        return get_settings()
    except ValueError as exc:
        typer.secho(f"invalid settings: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


def _refuse_a_keyring_missing_keys(settings: Settings) -> None:
    """Stop before serving or working when the database holds values under a key this
    process lacks (candor.crypto.key_ids); warn while writes go out in plaintext."""
    import asyncio

    from candor.crypto.key_ids import MissingEncryptionKeyError, check_keyring
    from candor.runtime import database_transaction

    async def check() -> None:
        async with database_transaction(settings) as session:
            await check_keyring(session, settings.keyring)

    try:
        asyncio.run(check())
    except MissingEncryptionKeyError as exc:
        typer.secho(f"{exc.code}: {exc.message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    if not settings.encryption_at_rest:
        typer.secho(
            "warning: CANDOR_ENCRYPTION_AT_REST is off: personal data is written in "
            "plaintext. Only for a rolling upgrade's first step (docs/operations.md).",
            err=True,
            fg=typer.colors.YELLOW,
        )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from candor.db.migrate import upgrade

    upgrade(_settings(), revision)
    typer.echo(f"database at {revision}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes; more than 1 needs PostgreSQL and Redis.")
    ] = 1,
) -> None:
    """Serve the API, webhooks and docs (embedded defaults: the background worker too)."""
    import uvicorn

    settings = _settings()
    if workers > 1 and (settings.uses_sqlite or settings.uses_embedded_redis):
        typer.secho(
            "--workers > 1 is scaled mode: set CANDOR_DATABASE_URL to PostgreSQL and "
            "CANDOR_REDIS_URL to a Redis server (each process would otherwise have its own "
            "in-memory Redis and fight over one SQLite writer).",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    _refuse_a_keyring_missing_keys(settings)
    from candor.metrics.process import prepare

    # Before uvicorn spawns its workers: they inherit the directory (emptied only if unused).
    prepare(settings)
    if settings.is_embedded:
        # One process does everything: API, dispatcher and periodic jobs.
        from api.app import create_app

        uvicorn.run(
            create_app(settings, with_worker=True),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            proxy_headers=False,  # the app applies CANDOR_TRUSTED_PROXIES itself
            # RequestLogMiddleware logs each request, masked; uvicorn's line has raw queries.
            access_log=False,
        )
        return
    uvicorn.run(
        "api.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        access_log=False,
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run every due job once, then exit.")] = False,
) -> None:
    """Run background jobs until interrupted."""
    import asyncio

    from bot.channels.http11 import Http11Transport
    from bot.channels.registry import build_card_senders, build_senders
    from candor.worker import run_worker

    settings = _settings()
    _refuse_a_keyring_missing_keys(settings)
    asyncio.run(
        run_worker(
            settings,
            build_senders,
            once=once,
            webhook_transport=Http11Transport(),
            build_card_senders=build_card_senders,
        )
    )


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[
        str | None,
        typer.Option(
            help="teams, users, jobs, candidates, applications or interviews; "
            "by default taken from the file name (e.g. candidates.csv)."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Write the valid rows even when some rows are invalid.")
    ] = False,
    encoding: Annotated[str, typer.Option(help="Text encoding, e.g. utf-8 or gbk.")] = "utf-8-sig",
) -> None:
    """Bulk-load CSV or JSONL from another ATS, upserting by external id."""
    from candor.importer.cli import run_import

    raise typer.Exit(
        run_import(_settings(), file, kind=kind, skip_invalid=skip_invalid, encoding=encoding)
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    seed_only: Annotated[bool, typer.Option(help="Seed the demo data, then exit.")] = False,
) -> None:
    """Seed a realistic demo company and serve it on embedded defaults."""
    from candor.demo.command import run_demo

    run_demo(_settings(), host=host, port=port, serve=not seed_only)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who uses it, e.g. 'moka-ats'.")],
    scope: Annotated[list[str], typer.Option(help="Repeatable; e.g. ats:write, hr.")],
    user: Annotated[
        str | None, typer.Option(help="For the hr scope: the HR user's e-mail.")
    ] = None,
) -> None:
    """Create a token and print it once: an integration's, or an HR user's personal one."""
    import asyncio

    from candor.access.cli import CLI_ACTOR
    from candor.access.errors import AccessInputError
    from candor.access.tokens import create_token
    from candor.ats.repository import hr_user_by_email
    from candor.logging import configure_logging
    from candor.runtime import open_runtime

    settings = _settings()
    configure_logging(settings)  # to stderr: stdout is the token

    async def create() -> str:
        async with open_runtime(settings) as runtime, runtime.transaction() as session:
            hr_user_id = None
            if user is not None:
                found = await hr_user_by_email(session, user)
                if found is None:
                    raise ValueError(f"no HR user with e-mail {user}")
                hr_user_id = found.id
            issued = await create_token(
                session, actor=CLI_ACTOR, name=name, scopes=scope, hr_user_id=hr_user_id
            )
            return f"{issued.token_id}\t{issued.plaintext}"

    try:
        typer.echo(asyncio.run(create()))
    except (ValueError, AccessInputError) as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by id; requests with it fail from now on."""
    import asyncio

    from candor.access.cli import CLI_ACTOR
    from candor.access.errors import AccessInputError, AccessNotFoundError
    from candor.access.tokens import revoke
    from candor.logging import configure_logging
    from candor.runtime import open_runtime

    settings = _settings()
    configure_logging(settings)

    async def run() -> None:
        async with open_runtime(settings) as runtime, runtime.transaction() as session:
            await revoke(session, actor=CLI_ACTOR, token_id=token_id)

    try:
        asyncio.run(run())
    except (AccessInputError, AccessNotFoundError) as exc:
        typer.secho(f"no active token {token_id}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"revoked {token_id}")


@sla_app.command("due")
def sla_due(
    completed_at: Annotated[
        str,
        typer.Argument(
            help="When the interview was completed: ISO 8601 with a UTC offset, "
            "e.g. 2025-09-30T10:00:00+08:00."
        ),
    ],
    days: Annotated[int, typer.Option(min=1, max=366, help="Working days promised.")] = 5,
    explain: Annotated[
        bool, typer.Option(help="List each day counted or skipped, and why.")
    ] = False,
    offline: Annotated[
        bool, typer.Option(help="Use the package's official data only, not the database.")
    ] = False,
) -> None:
    """Print the feedback deadline: the end of the Nth working day after completion."""
    from candor.sla.cli import sla_due as run

    run(_settings(), completed_at, days=days, explain=explain, offline=offline)


@calendar_app.command("load")
def calendar_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    check: Annotated[bool, typer.Option(help="Validate only; write nothing.")] = False,
) -> None:
    """Load a year's official schedule (YAML or JSON; see data/calendar/README.md)."""
    from candor.sla.cli import calendar_load as run

    run(_settings(), file, check_only=check)


@calendar_app.command("show")
def calendar_show(
    from_: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First date (default: today)."),
    ] = None,
    to: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last date (default: 60 days on)."),
    ] = None,
    all_days: Annotated[
        bool, typer.Option("--all", help="Every day, not only holidays and make-up days.")
    ] = False,
    offline: Annotated[
        bool, typer.Option(help="Use the package's official data only, not the database.")
    ] = False,
) -> None:
    """Show holidays and make-up working days in a date range, and the data's coverage."""
    from candor.sla.cli import calendar_show as run

    run(
        _settings(),
        start=from_.date() if from_ else None,
        end=to.date() if to else None,
        every_day=all_days,
        offline=offline,
    )


@i18n_app.command("update")
def i18n_update() -> None:
    """Re-extract the console's strings and merge them into the zh_CN catalogue."""
    from api.console.catalogue import po_path, update

    for locale, problems in update().items():
        typer.echo(f"{po_path(locale)}: {len(problems.untranslated)} untranslated")
        for message_id in problems.untranslated:
            typer.echo(f"  {message_id}")


@i18n_app.command("check")
def i18n_check() -> None:
    """Fail if a catalogue lacks, or has fuzzy or stale, translations of the sources."""
    from api.console.catalogue import check
    from api.console.i18n import LOCALES, SOURCE_LOCALE

    failed = False
    for locale in LOCALES:
        if locale == SOURCE_LOCALE:
            continue
        problems = check(locale)
        for kind in ("untranslated", "fuzzy", "missing", "obsolete"):
            for message_id in getattr(problems, kind):
                typer.echo(f"{locale} {kind}: {message_id}")
        failed = failed or not problems.ok
    if failed:
        raise typer.Exit(1)
    typer.echo("catalogues in step with the sources")


chat_cli.register(app, _settings)
bot_cli.register(app, _settings)


def main() -> None:
    try:
        app()
    except Exception as exc:
        # Only a command that used the database can raise SQLAlchemy's errors; importing
        # sqlalchemy.exc here for the others would cost every command its start-up.
        errors = sys.modules.get("sqlalchemy.exc")
        if errors is None or not isinstance(exc, errors.OperationalError | errors.ProgrammingError):
            raise
        text = str(exc.orig)
        # An unmigrated database is the common first-run mistake; say what to do.
        if "no such table" in text or "does not exist" in text:
            typer.secho(
                f"the database is not set up ({text.splitlines()[0]}); "
                "run `candor db upgrade` first",
                err=True,
                fg=typer.colors.RED,
            )
            raise SystemExit(2) from None
        raise
