"""Request dependencies: the runtime, a session that commits in exactly one place, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError
from candor.auth import tokens
from candor.models import ApiToken
from candor.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
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


def get_redis(runtime: RuntimeDep) -> Redis:
    return runtime.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def require_scope(scope: str) -> object:
    async def dependency(
        session: SessionDep,
        authorization: Annotated[str | None, Header()] = None,
    ) -> ApiToken:
        plaintext = _bearer(authorization)
        if plaintext is None:
            raise ApiError(401, "unauthenticated", "send an integration token as Bearer")
        token = await tokens.authenticate(session, plaintext)
        if token is None:
            raise ApiError(401, "unauthenticated", "the token is unknown or revoked")
        if scope not in token.scopes:
            raise ApiError(403, "insufficient_scope", f"the token lacks the {scope} scope")
        return token

    return Depends(dependency)


AtsIntegration = Annotated[ApiToken, require_scope(tokens.Scope.ATS_WRITE)]
