"""Errors of the access-administration services, safe to show to the admin."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.errors import CandorError


class AccessInputError(CandorError, ValueError):
    """The input was refused and nothing was written. `problems` maps a form field to what
    is wrong with it, so a form can show each next to its field."""

    code = "invalid_input"
    http_status = 422

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(
            "; ".join(f"{field}: {text}" for field, text in problems.items()), details=problems
        )
        self.problems = problems


class AccessNotFoundError(CandorError, LookupError):
    """No such user, team or token."""

    code = "not_found"
    http_status = 404


async def add_unique(session: AsyncSession, row: object, *, field: str, problem: str) -> None:
    """Insert `row`, turning a unique-constraint clash into an input error on `field`.

    The services look for a clash first, but that read cannot see another admin's insert
    that has not committed yet; the savepoint keeps the caller's transaction usable.
    """
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise AccessInputError({field: problem}) from exc
