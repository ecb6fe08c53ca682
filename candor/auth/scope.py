"""Which teams' data an HR principal may see, as a value only the auth layer produces.

Every team-scoped read takes a `VisibleTeams` rather than deciding from a principal's role,
so the rule (an admin sees every team, anyone else their memberships, someone with none sees
nothing) lives here once. The constructor refuses callers without this module's private
token, so no other module can widen a scope it was given. `candidate_own_data` is the one
other maker: every team, for a candidate's export of their own data.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy import ColumnElement, false

from candor.auth.principals import HRPrincipal

_TOKEN = object()


class _Filterable(Protocol):
    def where(self, *whereclause: Any) -> Self: ...


Query = TypeVar("Query", bound=_Filterable)


@dataclass(frozen=True, slots=True)
class VisibleTeams:
    """Every team (`all_teams`), or exactly `team_ids`, which may be none."""

    all_teams: bool
    team_ids: frozenset[int]
    _token: InitVar[object] = None

    def __post_init__(self, _token: object) -> None:
        if _token is not _TOKEN:
            raise TypeError("a VisibleTeams comes only from candor.auth.scope.visible_teams")

    def can_see(self, team_id: int | None) -> bool:
        """Whether a row of `team_id` is visible; a row of no team is an admin's only."""
        return self.all_teams or (team_id is not None and team_id in self.team_ids)


def visible_teams(principal: HRPrincipal) -> VisibleTeams:
    if principal.is_admin:
        return VisibleTeams(True, frozenset(), _TOKEN)
    return VisibleTeams(False, principal.team_ids, _TOKEN)


def candidate_own_data() -> VisibleTeams:
    """Every team's rows, for the one reader who is no HR principal: a candidate taking a
    copy of their own data (`candor.privacy`). The rows stay the candidate's own by the
    queries' candidate condition; this only lifts the team condition."""
    return VisibleTeams(True, frozenset(), _TOKEN)


def team_condition(team_column: Any, visible: VisibleTeams) -> ColumnElement[bool] | None:
    """The condition that `team_column` is visible; None when every team is."""
    if visible.all_teams:
        return None
    if not visible.team_ids:
        return false()
    condition: ColumnElement[bool] = team_column.in_(sorted(visible.team_ids))
    return condition


def scoped(query: Query, team_column: Any, visible: VisibleTeams) -> Query:
    """`query` narrowed to the rows whose `team_column` (a column, or a scalar subquery such
    as a conversation's team) is visible: unchanged for every team, empty for no team."""
    condition = team_condition(team_column, visible)
    return query if condition is None else query.where(condition)
