"""The teams a principal may see, and the WHERE clause that applies them."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from candor.auth.principals import HRPrincipal
from candor.auth.scope import VisibleTeams, scoped, visible_teams
from candor.models import Team
from candor.models.enums import Role
from candor.runtime import Runtime
from tests.factories import make_team


def _principal(role: Role, *team_ids: int) -> HRPrincipal:
    return HRPrincipal(user_id=1, role=role, team_ids=frozenset(team_ids))


def test_an_admin_sees_every_team_and_a_row_of_no_team() -> None:
    visible = visible_teams(_principal(Role.ADMIN))

    assert visible.all_teams
    assert visible.can_see(7)
    assert visible.can_see(None)


def test_anyone_else_sees_their_teams_only() -> None:
    visible = visible_teams(_principal(Role.TEAM_LEAD, 1, 2))

    assert not visible.all_teams
    assert visible.team_ids == frozenset({1, 2})
    assert visible.can_see(2)
    assert not visible.can_see(3)
    assert not visible.can_see(None)


def test_only_the_auth_layer_makes_a_scope() -> None:
    with pytest.raises(TypeError):
        VisibleTeams(True, frozenset())
    given = visible_teams(_principal(Role.RECRUITER, 1))
    with pytest.raises(TypeError):
        dataclasses.replace(given, all_teams=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        given.all_teams = True  # type: ignore[misc]


async def test_scoped_filters_in_sql(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        first, second, third = [await make_team(session) for _ in range(3)]
        query = select(Team.id).order_by(Team.id)

        async def seen(principal: HRPrincipal) -> list[int]:
            scope = visible_teams(principal)
            return list((await session.scalars(scoped(query, Team.id, scope))).all())

        assert await seen(_principal(Role.ADMIN)) == [first.id, second.id, third.id]
        assert await seen(_principal(Role.RECRUITER, first.id, third.id)) == [first.id, third.id]
        assert await seen(_principal(Role.RECRUITER)) == []
