"""`candor user`: create HR users and set passwords from the shell.

For a fresh install (the first admin, before anyone can log in to the console) and for
users imported without a password. Changes are audited as `system:cli`, like the console's
are as the admin who made them.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from candor.enums import Role

if TYPE_CHECKING:
    from candor.settings import Settings

# Only the command tree is built at import: `candor --help` imports this module, so the
# services, SQLAlchemy and the models are imported by the commands that use them.

CLI_ACTOR = "system:cli"

user_app = typer.Typer(help="HR users of the console.", no_args_is_help=True, rich_markup_mode=None)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _settings() -> Settings:
    from candor.logging import configure_logging
    from candor.settings import get_settings

    settings = get_settings()
    configure_logging(settings)  # to stderr
    return settings


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@user_app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Their login.")],
    name: Annotated[str, typer.Option(help="The name the console shows.")],
    role: Annotated[Role, typer.Option(help="What they may see and do.")] = Role.RECRUITER,
    team: Annotated[
        list[str] | None, typer.Option(help="A team's external id; repeatable.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Create an HR user with an initial password (asked for, unless --password-stdin)."""
    from sqlalchemy import select

    from candor.access import users
    from candor.access.errors import AccessInputError
    from candor.models import Team
    from candor.runtime import open_runtime

    settings = _settings()
    password = _password(password_stdin)

    async def run() -> int:
        async with open_runtime(settings) as runtime, runtime.transaction() as session:
            wanted = list(team or [])
            rows = await session.execute(
                select(Team.external_id, Team.id).where(Team.external_id.in_(wanted))
            )
            found = dict(rows.all())
            missing = [t for t in wanted if t not in found]
            if missing:
                raise AccessInputError({"team": f"no such team: {', '.join(missing)}"})
            user = await users.create_user(
                session,
                actor=CLI_ACTOR,
                email=email,
                display_name=name,
                role=role.value,
                team_ids=[found[t] for t in wanted],
                password=password,
            )
            return user.id

    try:
        user_id = asyncio.run(run())
    except AccessInputError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"created user {user_id}")


@user_app.command("set-password")
def set_password(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Set a user's password (e.g. one imported without); ends their console sessions."""
    from sqlalchemy import select

    from candor.access import users
    from candor.access.errors import AccessInputError, AccessNotFoundError
    from candor.models import HRUser
    from candor.runtime import open_runtime

    settings = _settings()
    password = _password(password_stdin)

    async def run() -> None:
        async with open_runtime(settings) as runtime, runtime.transaction() as session:
            user_id = await session.scalar(
                select(HRUser.id).where(HRUser.email == email.strip().lower())
            )
            if user_id is None:
                raise AccessNotFoundError(f"no HR user with e-mail {email}")
            await users.reset_password(
                session, runtime.redis, actor=CLI_ACTOR, user_id=user_id, password=password
            )

    try:
        asyncio.run(run())
    except AccessNotFoundError as exc:
        raise _fail(str(exc)) from exc
    except AccessInputError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"password set for {email.strip().lower()}")
