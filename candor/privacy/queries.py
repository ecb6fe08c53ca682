"""Which candidates every read path hides: those whose erasure has started or finished."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.models import DeletionRequest
from candor.models.privacy import DeletionState

HIDDEN_STATES = (DeletionState.ERASING, DeletionState.DONE)


async def is_hidden(session: AsyncSession, candidate_id: int) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(
                    DeletionRequest.candidate_id == candidate_id,
                    DeletionRequest.state.in_(HIDDEN_STATES),
                )
            )
        )
    )
