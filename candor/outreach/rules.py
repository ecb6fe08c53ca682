"""Approval rules, an admin's writes: whether a result message waits for HR or goes at once.

Which rule applies to a message is `service.approval_mode`; this module edits the rules. A
rule's scope is (outcome, team, job) with either or both of team and job empty. The table's
unique constraint cannot stop two company-wide rules (NULL is never equal to NULL), so
`set_rule` finds the rule at exactly that scope and updates it, with writers serialised.
Every function flushes, never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit import service as audit
from candor.logging import get_logger
from candor.models import Job, Team
from candor.models.enums import Decision
from candor.models.outreach import ApprovalMode, ApprovalRule
from candor.outreach.errors import ApprovalRuleNotFoundError, InvalidRuleScopeError

log = get_logger(__name__)

# Any constant works: it only has to be the same in every process of this database.
_WRITE_LOCK_KEY = 0x72756C6573  # "rules"


async def list_rules(session: AsyncSession) -> list[ApprovalRule]:
    """Company-wide rules first, then team rules, then job rules; by outcome within each."""
    rules = (await session.scalars(select(ApprovalRule).order_by(ApprovalRule.id))).all()
    return sorted(
        rules,
        key=lambda r: (r.job_id is not None, r.team_id is not None, r.outcome.value, r.id),
    )


async def set_rule(
    session: AsyncSession,
    *,
    outcome: Decision,
    team_id: int | None,
    job_id: int | None,
    mode: ApprovalMode,
    actor: str,
) -> ApprovalRule:
    """Create the rule at this scope, or change its mode if it exists."""
    await _check_scope(session, team_id=team_id, job_id=job_id)
    await _serialise_writes(session)
    rule = await session.scalar(
        select(ApprovalRule).where(
            ApprovalRule.outcome == outcome,
            ApprovalRule.team_id.is_(None) if team_id is None else ApprovalRule.team_id == team_id,
            ApprovalRule.job_id.is_(None) if job_id is None else ApprovalRule.job_id == job_id,
        )
    )
    previous = rule.mode if rule is not None else None
    if rule is None:
        rule = ApprovalRule(outcome=outcome, team_id=team_id, job_id=job_id, mode=mode)
        session.add(rule)
    else:
        rule.mode = mode
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action=audit.Action.APPROVAL_RULE_SET,
        object_type="approval_rule",
        object_id=rule.id,
        team_id=team_id,
        before={"mode": previous.value} if previous is not None else None,
        after=_rule_fields(rule),
    )
    log.info(
        "outreach.approval_rule_set",
        rule_id=rule.id,
        outcome=outcome.value,
        team_id=team_id,
        job_id=job_id,
        mode=mode.value,
        previous=previous.value if previous is not None else None,
        actor=actor,
    )
    return rule


async def delete_rule(session: AsyncSession, rule_id: int, *, actor: str) -> None:
    """Remove a rule; messages at its scope fall back to the next less specific rule."""
    rule = await session.get(ApprovalRule, rule_id)
    if rule is None:
        raise ApprovalRuleNotFoundError(f"no approval rule {rule_id}")
    before = _rule_fields(rule)
    await session.delete(rule)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action=audit.Action.APPROVAL_RULE_DELETED,
        object_type="approval_rule",
        object_id=rule_id,
        team_id=before["team_id"],
        before=before,
    )
    log.info(
        "outreach.approval_rule_deleted",
        rule_id=rule_id,
        outcome=rule.outcome.value,
        team_id=rule.team_id,
        job_id=rule.job_id,
        actor=actor,
    )


def _rule_fields(rule: ApprovalRule) -> dict[str, Any]:
    return {
        "outcome": rule.outcome.value,
        "team_id": rule.team_id,
        "job_id": rule.job_id,
        "mode": rule.mode.value,
    }


async def _check_scope(session: AsyncSession, *, team_id: int | None, job_id: int | None) -> None:
    if team_id is not None and await session.get(Team, team_id) is None:
        raise InvalidRuleScopeError(f"no team {team_id}")
    if job_id is not None:
        job = await session.get(Job, job_id)
        if job is None:
            raise InvalidRuleScopeError(f"no job {job_id}")
        if team_id is not None and job.team_id != team_id:
            # approval_mode would never match such a rule.
            raise InvalidRuleScopeError(f"job {job_id} is not in team {team_id}")


async def _serialise_writes(session: AsyncSession) -> None:
    """One rule writer at a time, so two writers cannot both insert the same NULL scope.
    SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL takes an advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})
