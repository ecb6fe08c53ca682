"""What a report may cover: ranges and the teams a principal can see."""

from __future__ import annotations

from datetime import date

import pytest

from candor.auth.principals import HRPrincipal
from candor.kpis.filters import KpiFilter, KpiFilterError
from candor.models.enums import Role
from candor.runtime import Runtime
from tests.candor.kpis.history import History, report


async def test_a_recruiter_sees_only_their_teams(runtime: Runtime, history: History) -> None:
    recruiter = HRPrincipal(
        user_id=history.recruiter_a.id, role=Role.RECRUITER, team_ids=frozenset({history.team_a.id})
    )
    mine = await report(runtime, history.filters(), recruiter, compare=True)

    assert mine.figures.interviews_completed == 4
    assert [t.team_id for t in mine.teams] == [history.team_a.id]
    with pytest.raises(KpiFilterError) as refused:
        await report(runtime, history.filters(team_ids=(history.team_b.id,)), recruiter)
    assert refused.value.http_status == 404


async def test_ranges_are_checked(runtime: Runtime, history: History) -> None:
    with pytest.raises(KpiFilterError):
        await report(runtime, KpiFilter(date(2026, 3, 5), date(2026, 3, 1)))
    with pytest.raises(KpiFilterError):
        await report(runtime, KpiFilter(date(2025, 1, 1), date(2026, 3, 1)))


async def test_a_user_of_no_team_sees_nothing(runtime: Runtime, history: History) -> None:
    nobody = HRPrincipal(user_id=history.recruiter_a.id, role=Role.RECRUITER, team_ids=frozenset())
    mine = await report(runtime, history.filters(), nobody, compare=True)

    assert (mine.figures.interviews_completed, mine.figures.handoffs) == (0, 0)
    assert mine.teams == []
