"""HR user administration services: the rules that hold however they are called."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from candor.access import users
from candor.access.errors import AccessInputError
from candor.models import HRUser
from candor.models.enums import Role
from candor.runtime import Runtime
from tests.factories import make_hr_user


async def test_two_admins_removing_each_other_at_once_leave_one_admin(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        first = (await make_hr_user(session, role=Role.ADMIN)).id
        second = (await make_hr_user(session, role=Role.ADMIN)).id

    async def deactivate(actor: int, target: int) -> None:
        async with runtime.transaction() as session:
            await users.deactivate_user(
                session, runtime.redis, actor=f"user:{actor}", user_id=target
            )

    async def demote(actor: int, target: int) -> None:
        async with runtime.transaction() as session:
            await users.update_user(
                session,
                actor=f"user:{actor}",
                user_id=target,
                display_name="A",
                role=Role.RECRUITER.value,
                team_ids=[],
            )

    results = await asyncio.gather(
        deactivate(first, second), demote(second, first), return_exceptions=True
    )

    refused = [r for r in results if isinstance(r, AccessInputError)]
    assert len(refused) == 1, results
    assert results.count(None) == 1, results
    assert "last active admin" in str(refused[0])
    async with runtime.sessionmaker() as session:
        admins = await session.scalar(
            select(func.count())
            .select_from(HRUser)
            .where(HRUser.role == Role.ADMIN, HRUser.is_active.is_(True))
        )
    assert admins == 1


async def test_a_non_admin_may_be_deactivated_when_no_admin_exists(runtime: Runtime) -> None:
    """The rule keeps admins; it does not stop managing a company set up without one."""
    async with runtime.transaction() as session:
        recruiter = (await make_hr_user(session)).id

    async with runtime.transaction() as session:
        change = await users.deactivate_user(
            session, runtime.redis, actor="system:cli", user_id=recruiter
        )

    assert change.user.is_active is False


async def test_two_admins_creating_the_same_email_at_once_get_one_user_and_one_clear_error(
    runtime: Runtime,
) -> None:
    async def create(name: str) -> None:
        async with runtime.transaction() as session:
            await users.create_user(
                session,
                actor="user:1",
                email="Same@Example.com",
                display_name=name,
                role=Role.RECRUITER.value,
                team_ids=[],
                password="correct horse battery staple",
            )
            await asyncio.sleep(0.2)  # both have checked for a clash before either commits

    results = await asyncio.gather(create("A"), create("B"), return_exceptions=True)

    refused = [r for r in results if isinstance(r, AccessInputError)]
    assert results.count(None) == 1, results
    assert len(refused) == 1, results
    assert refused[0].problems == {"email": "same@example.com already has an account"}
    async with runtime.sessionmaker() as session:
        emails = (await session.scalars(select(HRUser.email))).all()
    assert emails == ["same@example.com"]
