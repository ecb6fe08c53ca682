"""Approval rules (admin): which results wait for HR and which are sent at once.

The most specific rule wins (job, then team, then company-wide); without one, rejections and
holds wait for HR and advances go at once.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CurrentAdmin, SessionDep
from api.errors import HR_TOKEN, UNREADABLE_BODY, error_responses
from candor.ids import RowId
from candor.outreach import rules
from candor.outreach.schemas import ApprovalRuleIn, ApprovalRuleOut

router = APIRouter(
    prefix="/api/v1/approval-rules",
    tags=["approval rules"],
    responses=error_responses(HR_TOKEN, {403: "Admins only (`forbidden`), or not an HR token"}),
)


@router.get("", response_model=list[ApprovalRuleOut])
async def list_rules(session: SessionDep, _admin: CurrentAdmin) -> list[ApprovalRuleOut]:
    return [ApprovalRuleOut.model_validate(rule) for rule in await rules.list_rules(session)]


@router.put(
    "",
    response_model=ApprovalRuleOut,
    responses=error_responses(
        UNREADABLE_BODY, {422: "Invalid body, an unknown team or job, or another team's job"}
    ),
    summary="Set the rule at one scope (created, or its mode changed)",
)
async def set_rule(
    rule: ApprovalRuleIn, session: SessionDep, admin: CurrentAdmin
) -> ApprovalRuleOut:
    saved = await rules.set_rule(
        session,
        outcome=rule.outcome,
        team_id=rule.team_id,
        job_id=rule.job_id,
        mode=rule.mode,
        actor=admin.actor,
    )
    return ApprovalRuleOut.model_validate(saved)


@router.delete(
    "/{rule_id}",
    status_code=204,
    responses=error_responses({404: "No such rule"}),
)
async def delete_rule(rule_id: RowId, session: SessionDep, admin: CurrentAdmin) -> Response:
    await rules.delete_rule(session, rule_id, actor=admin.actor)
    return Response(status_code=204)
