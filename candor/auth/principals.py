"""Who an HR request acts as (`candor.auth.scope` turns that into the teams it may see)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.models import HRUser, TeamMembership
from candor.models.enums import Role


@dataclass(frozen=True, slots=True)
class HRPrincipal:
    user_id: int
    role: Role
    team_ids: frozenset[int]

    @property
    def actor(self) -> str:
        """How this principal is named in transitions and the audit trail."""
        return f"user:{self.user_id}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, slots=True)
class HRPerson:
    """A principal with what a page shows of the person."""

    principal: HRPrincipal
    display_name: str
    email: str
    locale: str | None = None  # the console language they chose; None: the default


async def load_person(session: AsyncSession, user_id: int) -> HRPerson | None:
    principal = await load_principal(session, user_id)
    if principal is None:
        return None
    user = await session.get_one(HRUser, user_id)  # in the identity map since load_principal
    return HRPerson(principal, user.display_name, user.email, user.locale)


async def load_principal(session: AsyncSession, user_id: int) -> HRPrincipal | None:
    user = await session.get(HRUser, user_id)
    if user is None or not user.is_active:
        return None
    team_ids = frozenset(
        (
            await session.scalars(
                select(TeamMembership.team_id).where(TeamMembership.user_id == user_id)
            )
        ).all()
    )
    return HRPrincipal(user_id=user.id, role=user.role, team_ids=team_ids)
