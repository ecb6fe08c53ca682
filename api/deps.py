"""Request dependencies: the runtime, a session that commits in exactly one place, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError
from candor.auth import tokens
from candor.auth.principals import HRPrincipal, load_principal
from candor.models import ApiToken
from candor.runtime import Runtime


# `async def` even without an await: FastAPI runs a plain `def` dependency in its thread pool,
# a thread hop per request for an attribute read.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed after the handler returns, before the response.

    `scope="function"` below makes FastAPI run the commit before it sends the response, so a
    client never sees success for a transaction that then failed to commit.
    """
    async with runtime.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_redis(runtime: RuntimeDep) -> Redis:
    return runtime.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


# The schema names the token as an HTTP bearer security scheme (not a free header), and
# routes answer a missing or malformed one with our own 401 (`auto_error=False`).
BEARER = HTTPBearer(
    auto_error=False, description="An integration token, or an HR user's personal token"
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def _bearer(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or not credentials.credentials.strip():
        return None
    return credentials.credentials.strip()


def require_scope(scope: str, *alternatives: str) -> object:
    """A dependency that admits a live integration token holding `scope` or an alternative."""
    accepted = (scope, *alternatives)

    async def dependency(session: SessionDep, credentials: BearerDep) -> ApiToken:
        plaintext = _bearer(credentials)
        if plaintext is None:
            raise ApiError(401, "unauthenticated", "send an integration token as Bearer")
        token = await tokens.authenticate(session, plaintext)
        if token is None:
            raise ApiError(401, "unauthenticated", "the token is unknown or revoked")
        if not set(accepted) & set(token.scopes):
            raise ApiError(
                403, "insufficient_scope", f"the token lacks the {' or '.join(accepted)} scope"
            )
        return token

    return Depends(dependency)


AtsIntegration = Annotated[ApiToken, require_scope(tokens.Scope.ATS_WRITE)]
CalendarReader = Annotated[
    ApiToken, require_scope(tokens.Scope.CALENDAR_READ, tokens.Scope.CALENDAR_WRITE)
]
CalendarWriter = Annotated[ApiToken, require_scope(tokens.Scope.CALENDAR_WRITE)]


async def get_hr_principal(session: SessionDep, credentials: BearerDep) -> HRPrincipal:
    """The HR user behind a personal `hr` token. (Console sessions come with the console.)"""
    plaintext = _bearer(credentials)
    if plaintext is None:
        raise ApiError(401, "unauthenticated", "send your personal HR token as Bearer")
    token = await tokens.authenticate(session, plaintext)
    if token is None:
        raise ApiError(401, "unauthenticated", "the token is unknown or revoked")
    if tokens.Scope.HR not in token.scopes or token.hr_user_id is None:
        raise ApiError(403, "insufficient_scope", "this is not an HR user's token")
    principal = await load_principal(session, token.hr_user_id)
    if principal is None:
        raise ApiError(401, "unauthenticated", "the HR user is deactivated")
    return principal


CurrentHR = Annotated[HRPrincipal, Depends(get_hr_principal)]


async def get_admin(principal: CurrentHR) -> HRPrincipal:
    """An HR user with the admin role; everyone else may read but not change settings."""
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin may do this")
    return principal


CurrentAdmin = Annotated[HRPrincipal, Depends(get_admin)]
