"""Deletion requests' rules, through the service: one open request, the cooling-off, holds,
and the worker's choice of what is due."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from candor.clock import utcnow
from candor.models import Candidate, DeletionRequest
from candor.models.privacy import DeletionState
from candor.privacy import deletion
from candor.privacy.errors import (
    CandidateNotFoundError,
    DeletionAlreadyRequestedError,
    DeletionConfirmationExpiredError,
    DeletionInProgressError,
    DeletionNotRequestedError,
    PrivacyError,
)
from tests.outreach_world import World


async def candidate_of(world: World, n: int) -> Candidate:
    await world.applicant(n)
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(select(Candidate).where(Candidate.external_id == f"cand-{n}"))
    assert found is not None
    return found


async def test_an_unknown_candidate_and_a_second_request_are_refused(world: World) -> None:
    candidate = await candidate_of(world, 1)
    settings, now = world.runtime.settings, utcnow()
    async with world.runtime.transaction() as session:
        with pytest.raises(CandidateNotFoundError) as unknown:
            await deletion.open_by_admin(
                session, 424242, actor="user:1", via="cli", settings=settings, now=now
            )
        await deletion.ask_in_chat(session, candidate, settings=settings, now=now)
        with pytest.raises(DeletionAlreadyRequestedError) as second:
            await deletion.open_by_admin(
                session, candidate.id, actor="user:1", via="cli", settings=settings, now=now
            )
    assert (unknown.value.code, unknown.value.http_status) == ("candidate_not_found", 404)
    assert (second.value.code, second.value.http_status) == ("deletion_already_requested", 409)


async def test_the_database_refuses_two_open_requests_whoever_races(world: World) -> None:
    candidate = await candidate_of(world, 1)
    async with world.runtime.transaction() as session:
        for _ in range(2):
            session.add(
                DeletionRequest(
                    candidate_id=candidate.id,
                    state=DeletionState.PENDING,
                    requested_by="user:1",
                    via="cli",
                    subject={},
                    progress={},
                )
            )
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_confirming_late_expires_the_request(world: World) -> None:
    candidate = await candidate_of(world, 1)
    settings, now = world.runtime.settings, utcnow()
    async with world.runtime.transaction() as session:
        await deletion.ask_in_chat(session, candidate, settings=settings, now=now)
    late = now + timedelta(minutes=settings.privacy_deletion_confirm_minutes + 1)
    async with world.runtime.transaction() as session:
        with pytest.raises(DeletionConfirmationExpiredError) as expired:
            await deletion.confirm_in_chat(session, candidate, settings=settings, now=late)
    assert (expired.value.code, expired.value.http_status) == ("deletion_confirmation_expired", 410)
    async with world.runtime.transaction() as session:
        with pytest.raises(DeletionNotRequestedError):
            await deletion.confirm_in_chat(session, candidate, settings=settings, now=late)


async def test_only_due_unheld_requests_are_erased_and_erasing_ones_cannot_be_cancelled(
    world: World,
) -> None:
    first, second = await candidate_of(world, 1), await candidate_of(world, 2)
    settings, now = world.runtime.settings, utcnow()
    async with world.runtime.transaction() as session:
        due = await deletion.open_by_admin(
            session, first.id, actor="user:1", via="cli", settings=settings, now=now
        )
        held = await deletion.open_by_admin(
            session, second.id, actor="user:1", via="cli", settings=settings, now=now
        )
        await deletion.set_legal_hold(
            session, second.id, actor="user:1", reason="a dispute", now=now
        )
        days = settings.privacy_deletion_cooling_off_days
        assert await deletion.due_request_ids(session, now=now) == []
        later = now + timedelta(days=days, seconds=1)
        assert await deletion.due_request_ids(session, now=later) == [due.id]
        due.state = DeletionState.ERASING
        await session.flush()
        with pytest.raises(DeletionInProgressError):
            await deletion.cancel(session, first.id, actor="user:1", now=later)
        with pytest.raises(PrivacyError) as twice:
            await deletion.set_legal_hold(session, second.id, actor="user:1", reason="x", now=now)
    assert twice.value.code == "legal_hold_invalid"
    assert held.legal_hold_reason == "a dispute"
