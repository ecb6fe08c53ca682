"""Which candidates every read path hides: those whose erasure has started or finished."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

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


def not_hidden(
    candidate_id: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> ColumnElement[bool]:
    """A list's condition: the row's candidate (a nullable column) is not being erased."""
    return ~exists().where(
        DeletionRequest.candidate_id == candidate_id,
        DeletionRequest.state.in_(HIDDEN_STATES),
    )
