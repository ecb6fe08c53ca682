"""Running an HR POST under its `Idempotency-Key` (see candor/idempotency.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentHR, SessionDep
from candor import idempotency
from candor.auth.principals import HRPrincipal


async def run_idempotent(
    *,
    session: AsyncSession,
    principal: HRPrincipal,
    key: str | None,
    method: str,
    path: str,
    body: Any,
    action: Callable[[], Awaitable[Any]],
    stored_as: Callable[[Any], Any] | None = None,
) -> JSONResponse:
    """Run `action` once per key; its JSON answer is stored with the work it did, through
    `stored_as` when given (an answer holding a secret shown once is stored without it).

    This is the one place these endpoints commit early: the claim must be durable and
    visible to a concurrent retry before the work starts. It uses the request's session so
    that SQLite's single writer is never asked for a second, nested write transaction.
    """
    checked = idempotency.check_key(key)
    fingerprint = idempotency.request_fingerprint(method, path, body)
    stored = await idempotency.claim(
        session, principal=principal.actor, key=checked, fingerprint=fingerprint
    )
    await session.commit()
    if stored is not None:
        return JSONResponse(
            stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        answer = await action()
        await idempotency.complete(
            session,
            principal=principal.actor,
            key=checked,
            status_code=200,
            body=stored_as(answer) if stored_as is not None else answer,
        )
    except BaseException:
        await session.rollback()
        await idempotency.release(session, principal=principal.actor, key=checked)
        await session.commit()
        raise
    return JSONResponse(answer, status_code=200)


@dataclass(frozen=True, slots=True)
class IdempotentPost:
    """What an idempotent HR POST needs, gathered once: run the work with `.run(body, action)`."""

    session: AsyncSession
    principal: HRPrincipal
    key: str | None
    method: str
    path: str

    async def run(
        self,
        body: Any,
        action: Callable[[], Awaitable[Any]],
        *,
        stored_as: Callable[[Any], Any] | None = None,
    ) -> JSONResponse:
        return await run_idempotent(
            session=self.session,
            principal=self.principal,
            key=self.key,
            method=self.method,
            path=self.path,
            body=body,
            action=action,
            stored_as=stored_as,
        )


async def get_idempotent_post(
    request: Request,
    session: SessionDep,
    principal: CurrentHR,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> IdempotentPost:
    return IdempotentPost(
        session=session,
        principal=principal,
        key=idempotency_key,
        method=request.method,
        path=request.url.path,
    )


IdempotentPostDep = Annotated[IdempotentPost, Depends(get_idempotent_post)]
