"""Every route that takes an object's id, walked as a user of another team: 404 each time.

The routes are enumerated from the app, so a new ID-taking route (API or console) is
walked without editing this test; one whose parameter it does not know fails it, asking
for an object of team A to be named below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import routing
from fastapi.dependencies.models import Dependant
from sqlalchemy import func, select

from api.app import create_app
from api.console.deps import get_console_admin
from api.deps import get_admin
from candor.models import ApiToken, AuditEntry, ChatIdentity, Conversation, HRUser, JobQuestion
from candor.models.dialogue import HrTask, HrTaskKind, JobQuestionState
from candor.models.enums import Channel, Decision, Locale
from candor.models.outreach import ApprovalMode, MessageState, OutreachMessage
from candor.outreach.rules import set_rule
from candor.outreach.templates import TemplateIn, save_template
from tests.console_world import logged_in
from tests.outreach_world import World, hr

# Path parameters that are not a team's object, with the reason.
COMPANY_WIDE = {
    "date": "the working-day calendar is company-wide (integration tokens)",
    "year": "the working-day calendar is company-wide (integration tokens)",
}
# Routes whose parameter names no object at all, with the reason.
NOT_OBJECTS = {
    "/chat/static/{name}": "the web chat's public script and stylesheet",
}
# A request body that passes validation, by body model, so the handler's lookup runs.
BODIES: dict[str, dict[str, Any]] = {
    "EditAndApprove": {"body": "改写后的正文"},
    "Reject": {"reason": "不合适"},
    "ReplyIn": {"text": "您好"},
    "JobAnswerIn": {"answer": "每周五天"},
    "JobRejectIn": {"reason": "答案过时"},
}
FORM = {"subject": "主题", "body": "改写后的正文", "reason": "不合适", "confirm": "1"}


@dataclass(frozen=True)
class TeamAObjects:
    message_id: int
    template_key: str
    rule_id: int
    conversation_id: int
    question_id: int
    task_id: int
    candidate_id: int
    identity_id: int
    # Access administration (admin-only: 403 before any lookup): team A's user and token.
    user_id: int
    token_id: int
    team_id: int

    def value(self, parameter: str) -> str:
        known = {
            "message_id": str(self.message_id),
            "key": self.template_key,
            "rule_id": str(self.rule_id),
            "conversation_id": str(self.conversation_id),
            "question_id": str(self.question_id),
            "task_id": str(self.task_id),
            "candidate_id": str(self.candidate_id),
            "identity_id": str(self.identity_id),
            "user_id": str(self.user_id),
            "token_id": str(self.token_id),
            "team_id": str(self.team_id),
        }
        assert parameter in known, (
            f"route parameter {parameter!r} is new: name an object of team A for it here"
        )
        return known[parameter]


async def team_a_objects(world: World) -> TeamAObjects:
    await world.applicant(1, team="team-a", bind=[Channel.WECHAT])
    await world.decide(1, "reject")
    async with world.runtime.transaction() as session:
        message_id = await session.scalar(select(func.max(OutreachMessage.id)))
        assert message_id is not None
        template = await save_template(
            session,
            TemplateIn(
                key="reject.zh-CN.team-a",
                outcome=Decision.REJECT,
                locale=Locale.ZH_CN,
                subject="面试结果",
                body="{{ candidate_name }}，您好",
                team_id=world.team.id,
            ),
            actor="test",
        )
        rule = await set_rule(
            session,
            outcome=Decision.HOLD,
            team_id=world.team.id,
            job_id=None,
            mode=ApprovalMode.AUTO,
            actor="test",
        )
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "wechat-user-1")
        )
        assert identity is not None
        conversation = Conversation(
            chat_identity_id=identity.id, channel=Channel.WECHAT, candidate_id=identity.candidate_id
        )
        session.add(conversation)
        await session.flush()
        question = JobQuestion(
            conversation_id=conversation.id,
            candidate_id=identity.candidate_id,
            team_id=world.team.id,
            locale=Locale.ZH_CN,
            question="每周上几天班？",
            state=JobQuestionState.PENDING,
        )
        session.add(question)
        task = HrTask(
            kind=HrTaskKind.RESCHEDULE,
            team_id=world.team.id,
            candidate_id=identity.candidate_id,
            conversation_id=conversation.id,
            details={"proposed": "下周一上午"},
        )
        session.add(task)
        await session.flush()
        assert identity.candidate_id is not None
        return TeamAObjects(
            message_id,
            template.key,
            rule.id,
            conversation.id,
            question.id,
            task.id,
            identity.candidate_id,
            identity.id,
            user_id=world.recruiter.id,
            token_id=await session.scalar(
                select(ApiToken.id).where(ApiToken.hr_user_id == world.recruiter.id)
            )
            or 0,
            team_id=world.team.id,
        )


def _admin_only(dependant: Dependant) -> bool:
    return any(
        dep.call in (get_admin, get_console_admin) or _admin_only(dep)
        for dep in dependant.dependencies
    )


def _body_model(context: routing.RouteContext) -> str | None:
    params = context.dependant.body_params
    if not params:
        return None
    annotation = params[0].field_info.annotation
    return getattr(annotation, "__name__", str(annotation))


async def test_every_id_taking_route_hides_another_teams_objects(
    console: httpx.AsyncClient, api: httpx.AsyncClient, world: World
) -> None:
    objects = await team_a_objects(world)
    csrf = await logged_in(console, world.runtime, world.outsider.id)
    app = create_app(runtime=world.runtime)

    walked: list[str] = []
    for context in routing.iter_route_contexts(app.routes):
        path = context.path or ""
        parameters = [
            name for name in getattr(context, "param_convertors", {}) if name not in COMPANY_WIDE
        ]
        if (
            not parameters
            or path in NOT_OBJECTS
            or not isinstance(context.original_route, routing.APIRoute)
        ):
            continue
        url = path
        for name in parameters:
            url = url.replace("{" + name + "}", objects.value(name))
        expected = 403 if _admin_only(context.dependant) else 404
        for method in sorted((context.methods or set()) - {"HEAD"}):
            if path.startswith("/console/"):
                answer = await console.request(
                    method, url, data={"csrf_token": csrf, **FORM} if method == "POST" else None
                )
            else:
                model = _body_model(context)
                if model is not None:
                    assert model in BODIES, f"name a valid {model} body for {path}"
                answer = await api.request(
                    method,
                    url,
                    headers=hr(world.outsider_token, key=f"walk-{len(walked)}"),
                    json=BODIES[model] if model is not None else None,
                )
            assert answer.status_code == expected, (method, path, answer.status_code, answer.text)
            walked.append(f"{method} {path}")

    # The walk covered both surfaces, and the foreign user changed nothing.
    assert "POST /api/v1/outreach/messages/{message_id}/approve" in walked
    assert "POST /console/messages/{message_id}/approve" in walked
    assert "GET /console/templates/{key}" in walked
    assert "DELETE /api/v1/approval-rules/{rule_id}" in walked
    assert "POST /api/v1/conversations/{conversation_id}/replies" in walked
    assert "POST /api/v1/hr-tasks/{task_id}/done" in walked
    assert "GET /console/candidates/{candidate_id}" in walked
    assert "POST /console/identities/{identity_id}/unbind" in walked
    assert "POST /console/conversations/{conversation_id}/reply" in walked
    assert "POST /api/v1/job-questions/{question_id}/reject" in walked
    assert "POST /console/admin/users/{user_id}/deactivate" in walked
    assert "POST /console/admin/tokens/{token_id}/revoke" in walked
    async with world.runtime.sessionmaker() as session:
        message = await session.get_one(OutreachMessage, objects.message_id)
        assert message.state is MessageState.PENDING_APPROVAL
        assert (await session.get_one(HrTask, objects.task_id)).done_at is None
        assert (await session.get_one(ChatIdentity, objects.identity_id)).bound_at is not None
        recruiter = await session.get_one(HRUser, objects.user_id)
        assert recruiter.is_active
        assert (await session.get_one(ApiToken, objects.token_id)).revoked_at is None
        question = await session.get_one(JobQuestion, objects.question_id)
        assert question.state is JobQuestionState.PENDING
        outsider_rows = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.actor == f"user:{world.outsider.id}")
        )
        assert outsider_rows == 0
