"""Every route that takes an object's id, walked as a user of another team: 404 each time.

The routes are enumerated from the app, so a new ID-taking route (API or console) is
walked without editing this test; one whose parameter it does not know fails it, asking
for an object of team A to be named below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import routing
from fastapi.dependencies.models import Dependant
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.console.deps import get_console_admin
from api.deps import get_admin
from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.auth.principals import load_principal
from candor.clock import BUSINESS_TZ, utcnow
from candor.kpis.facts import differences
from candor.models import (
    ApiToken,
    Application,
    AuditEntry,
    ChatIdentity,
    Conversation,
    ConversationFacts,
    HandoffFacts,
    HRUser,
    InterviewBooking,
    InterviewSlot,
    JobQuestion,
)
from candor.models.dialogue import HrTask, HrTaskKind, JobQuestionState
from candor.models.enums import ApplicationStatus, Channel, Decision, InterviewKind, Locale, Role
from candor.models.nlu_review import ReviewState
from candor.models.outreach import (
    ApprovalMode,
    MessageState,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.models.scheduling import BookingState, SlotSource
from candor.models.webhooks import WebhookDelivery, WebhookDeliveryState, WebhookEventType
from candor.nlu_review import service as nlu_review
from candor.outreach.rules import set_rule
from candor.outreach.templates import TemplateIn, save_template
from candor.scheduling import service as scheduling
from candor.scheduling.slots import SlotSpec, add_slots
from candor.webhooks import service as webhook_service
from candor.webhooks.events import record_event
from candor.webhooks.schemas import WebhookEndpointIn
from candor.webhooks.service import WebhookPolicy
from nlu.model import NluModel
from tests.candor.nlu_review.world import queue as queue_misread
from tests.console_world import logged_in
from tests.dialogue_world import Chat, nlu_model, result_sent, texts_of
from tests.factories import application_created
from tests.outreach_world import World, hr

__all__ = ["nlu_model"]

# Path parameters that are not a team's object, with the reason.
COMPANY_WIDE = {
    "date": "the working-day calendar is company-wide (integration tokens)",
    "year": "the working-day calendar is company-wide (integration tokens)",
}
# Routes whose parameter names no object at all, with the reason.
NOT_OBJECTS = {
    "/chat/static/{name}": "the web chat's public script and stylesheet",
    "/privacy/exports/{token}": "a candidate's own export link: its token is the credential, "
    "no HR user's (tests/api/routers/test_privacy.py)",
    "/api/v1/scheduling/bookings/{public_id}.ics": "the candidate's calendar file: its "
    "signature is the credential, no HR user's (tests/api/routers/test_scheduling.py)",
    "/b/{token}": "a candidate's booking link: its token is the credential, no HR user's "
    "(tests/api/console/test_browser_booking_link.py)",
}
# A request body that passes validation, by body model, so the handler's lookup runs.
BODIES: dict[str, dict[str, Any]] = {
    "EditAndApprove": {"body": "改写后的正文"},
    "Reject": {"reason": "不合适"},
    "ReplyIn": {"text": "您好"},
    "JobAnswerIn": {"answer": "每周五天"},
    "JobRejectIn": {"reason": "答案过时"},
    "WebhookEndpointPatch": {"description": "ATS"},
    "PolicyIn": {"interview_kind": "onsite"},
    "MoveIn": {"slot_id": 1},
    "HrCancelIn": {"reason": "面试官出差"},
    "AttendanceIn": {"attendance": "no_show"},
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
    # Webhook endpoints (admin-only too) and one of their deliveries.
    endpoint_id: int
    delivery_id: int
    # Interview scheduling: team A's job, a slot of it and a booking of that slot.
    job_id: int
    slot_id: int
    booking_id: str

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
            "endpoint_id": str(self.endpoint_id),
            "delivery_id": str(self.delivery_id),
            "job_id": str(self.job_id),
            "slot_id": str(self.slot_id),
            "public_id": self.booking_id,
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
        endpoint = await webhook_service.create_endpoint(
            session,
            WebhookEndpointIn(url="http://127.0.0.1:9/hooks", event_types=list(WebhookEventType)),
            WebhookPolicy(allow_private_networks=True, secret_grace=timedelta(hours=24)),
            actor="test:admin",
            now=utcnow(),
        )
        event = record_event(
            session,
            WebhookEventType.CANDIDATE_REPLIED,
            ordering_key="application:1",
            data={},
            now=utcnow(),
        )
        await session.flush()
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            ordering_key=event.ordering_key,
            state=WebhookDeliveryState.PENDING,
            next_attempt_at=utcnow(),
        )
        session.add(delivery)
        await session.flush()
        delivery_id = delivery.id
        job_id, slot_id, booking_id = await team_a_booking(session, world)
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
            endpoint_id=endpoint.id,
            delivery_id=delivery_id,
            job_id=job_id,
            slot_id=slot_id,
            booking_id=booking_id,
        )


async def team_a_booking(session: AsyncSession, world: World) -> tuple[int, int, str]:
    """Applicant 1's interview booked by team A's recruiter into a slot of the job."""
    application = await session.scalar(
        select(Application).where(Application.external_id == "app-1")
    )
    assert application is not None
    recruiter = await load_principal(session, world.recruiter.id)
    assert recruiter is not None
    application.status = ApplicationStatus.ACTIVE  # HR books only an application in process
    await scheduling.set_policy(
        session, application.job_id, interview_kind=InterviewKind.ONSITE, actor="test"
    )
    starts = utcnow() + timedelta(days=3)
    [slot] = await add_slots(
        session,
        recruiter,
        application.job_id,
        [SlotSpec(starts_at=starts, ends_at=starts + timedelta(minutes=45))],
        round=2,
        kind=InterviewKind.ONSITE,
        source=SlotSource.MANUAL,
        now=utcnow(),
    )
    booking = await scheduling.hr_book(session, recruiter, application.id, slot.id, now=utcnow())
    return application.job_id, slot.id, booking.public_id


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
    assert "PUT /api/v1/scheduling/jobs/{job_id}/policy" in walked
    assert "POST /api/v1/scheduling/bookings/{public_id}/attendance" in walked
    assert "POST /console/scheduling/slots/{slot_id}/book" in walked
    assert "POST /console/scheduling/bookings/{public_id}/cancel" in walked
    async with world.runtime.sessionmaker() as session:
        message = await session.get_one(OutreachMessage, objects.message_id)
        assert message.state is MessageState.PENDING_APPROVAL
        assert (await session.get_one(HrTask, objects.task_id)).done_at is None
        assert (await session.get_one(ChatIdentity, objects.identity_id)).bound_at is not None
        recruiter = await session.get_one(HRUser, objects.user_id)
        assert recruiter.is_active
        assert (await session.get_one(ApiToken, objects.token_id)).revoked_at is None
        assert (await session.get_one(InterviewSlot, objects.slot_id)).cancelled_at is None
        booking = await session.scalar(
            select(InterviewBooking).where(InterviewBooking.public_id == objects.booking_id)
        )
        assert booking is not None
        assert (booking.state, booking.attendance) == (BookingState.CONFIRMED, None)
        question = await session.get_one(JobQuestion, objects.question_id)
        assert question.state is JobQuestionState.PENDING
        outsider_rows = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.actor == f"user:{world.outsider.id}")
        )
        assert outsider_rows == 0


# -- a candidate of two teams ----------------------------------------------------------------

CODE_A = "AP-2026-000001"  # team A's application: the older one, rejected
CODE_B = "AP-2026-000002"  # team B's application: the candidate's latest


@asynccontextmanager
async def console_as(world: World, user_id: int) -> AsyncIterator[httpx.AsyncClient]:
    """A console client logged in as the user."""
    app = create_app(runtime=world.runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://candor.test"
        ) as client,
    ):
        await logged_in(client, world.runtime, user_id)
        yield client


async def handoffs(api: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await api.get("/api/v1/conversations/handoffs", headers=hr(token))
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def kpi_records(metric: str) -> str:
    """The KPI drill-down of `metric` over the last week (the chat runs on today's clock)."""
    today = utcnow().astimezone(BUSINESS_TZ).date()
    return f"/console/kpis/records?from={today - timedelta(days=7)}&to={today}&metric={metric}"


async def shared_candidate(world: World, nlu_model: NluModel) -> Chat:
    """Candidate 1 applied in team A (rejected, the result sent), then in team B (latest),
    and chats on the web."""
    await world.applicant(1, team="team-a", bind=[Channel.WEB])
    await result_sent(world, 1, "reject")
    async with world.runtime.transaction() as session:
        # The result went out by e-mail too: a line of the candidate's transcript.
        message_id = await session.scalar(select(func.max(OutreachMessage.id)))
        assert message_id is not None
        session.add(
            OutboxItem(
                message_id=message_id,
                channel=Channel.EMAIL,
                idempotency_key="result-email-1",
                state=OutboxState.SENT,
                next_attempt_at=utcnow(),
                sent_at=utcnow(),
            )
        )
    await world.post(
        application_created(
            event_id="c-1-team-b",
            application="app-1-team-b",
            candidate="cand-1",
            job="job-team-b",
            team="team-b",
            applied_at="2026-03-04T10:00:00+08:00",
        )
    )
    gateway = ConversationGateway(
        world.runtime, engine=EmbeddedEngine(world.runtime, model=nlu_model)
    )
    return Chat(world, gateway, "web-user-1")


async def test_a_handoff_about_an_older_application_goes_to_that_applications_team(
    api: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await shared_candidate(world, nlu_model)
    asked = await chat.say("我的面试结果出来了吗")
    about_a = next(b for b in asked[-1].buttons if CODE_A in b.payload)
    assert "未通过" in texts_of(await chat.press(about_a.payload))
    await chat.say("帮我转一下人工吧")
    conversation_id = await chat.conversation_id()
    admin, admin_token = await world.member(Role.ADMIN)

    # Team A, whose application the candidate asked about, has the hand-off and sees only
    # its own application.
    [handoff] = (
        await api.get("/api/v1/conversations/handoffs", headers=hr(world.recruiter_token))
    ).json()
    assert (handoff["conversation_id"], handoff["application_code"]) == (conversation_id, CODE_A)
    tasks = await api.get("/api/v1/hr-tasks", headers=hr(world.recruiter_token))
    assert [t["kind"] for t in tasks.json()] == ["handoff"]
    async with console_as(world, world.recruiter.id) as team_a:
        queue = await team_a.get("/console/conversations")
        assert CODE_A in queue.text
        assert CODE_B not in queue.text
        page = await team_a.get(f"/console/conversations/{conversation_id}", follow_redirects=True)
        assert page.status_code == 200
        assert CODE_A in page.text
        assert CODE_B not in page.text
        assert 'data-author="result"' in page.text
        for metric in ("handoffs", "conversations"):
            records = await team_a.get(kpi_records(metric))
            assert CODE_A in records.text, metric
            assert CODE_B not in records.text, metric

    # Team B, of the latest application, never sees the hand-off nor team A's application.
    assert await handoffs(api, world.outsider_token) == []
    assert (await api.get("/api/v1/hr-tasks", headers=hr(world.outsider_token))).json() == []
    for path, body in (
        (f"/api/v1/conversations/{conversation_id}/replies", {"text": "您好"}),
        (f"/api/v1/conversations/{conversation_id}/handback", None),
    ):
        refused = await api.post(path, headers=hr(world.outsider_token, key=path), json=body)
        assert refused.status_code == 404, refused.text
    async with console_as(world, world.outsider.id) as team_b:
        assert (await team_b.get(f"/console/conversations/{conversation_id}")).status_code == 404
        candidate = (await world.application(1)).candidate_id
        for path in (
            "/console/conversations",
            "/console/hr-tasks",
            f"/console/candidates/{candidate}",
            kpi_records("handoffs"),
            kpi_records("conversations"),
            kpi_records("replies"),
        ):
            shown = await team_b.get(path)
            assert shown.status_code == 200, (path, shown.status_code)
            assert CODE_A not in shown.text, path
            assert "未通过" not in shown.text, path
            assert 'data-author="result"' not in shown.text, path

    # Admins see everything; team A answers and hands back, audited under team A.
    [seen] = await handoffs(api, admin_token)
    assert seen["application_code"] == CODE_A
    replied = await api.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        headers=hr(world.recruiter_token, key="a-reply"),
        json={"text": "您好，我来看一下"},
    )
    assert replied.status_code == 200, replied.text
    handed = await api.post(
        f"/api/v1/conversations/{conversation_id}/handback",
        headers=hr(world.recruiter_token, key="a-handback"),
    )
    assert handed.status_code == 200, handed.text
    job_a = (await world.application(1)).job_id
    async with world.runtime.sessionmaker() as session:
        teams = (
            await session.scalars(
                select(AuditEntry.team_id).where(
                    AuditEntry.object_type == "conversation",
                    AuditEntry.object_id == str(conversation_id),
                )
            )
        ).all()
        assert teams == [world.team.id, world.team.id]
        # The KPI facts count the hand-off and the conversation for team A's job, and
        # equal their definitions.
        assert (await session.scalars(select(HandoffFacts.job_id))).all() == [job_a]
        assert (await session.scalars(select(ConversationFacts.job_id))).all() == [job_a]
        assert set((await differences(session)).values()) == {0}
    assert admin.id != world.recruiter.id


async def test_a_team_reads_only_its_own_applications_messages_of_a_shared_conversation(
    api: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await shared_candidate(world, nlu_model)
    asked = await chat.say("我的面试结果出来了吗")
    about_b = next(b for b in asked[-1].buttons if CODE_B in b.payload)
    answer_b = texts_of(await chat.press(about_b.payload))
    assert CODE_B in answer_b
    assert "未通过" in texts_of(await chat.say(f"{CODE_A} 的结果出来了吗"))
    await chat.say("帮我转一下人工吧")
    conversation_id = await chat.conversation_id()
    candidate_id = (await world.application(1)).candidate_id
    admin, _ = await world.member(Role.ADMIN)
    [handoff] = await handoffs(api, world.recruiter_token)
    assert handoff["application_code"] == CODE_A

    # Team A, whose application the hand-off is about, reads the conversation without the
    # messages about team B's application, and is told some messages are not shown; its NLU
    # review has only the misread message about its own application.
    about_b_item = await queue_misread(world, conversation_id, "我的面试结果出来了吗")
    about_a_item = await queue_misread(world, conversation_id, f"{CODE_A} 的结果出来了吗")
    async with world.runtime.sessionmaker() as session:
        recruiter = await load_principal(session, world.recruiter.id)
        assert recruiter is not None
        queued = [row.item.id for row in await nlu_review.review_queue(session, recruiter)]
        assert queued == [about_a_item]
        assert (await nlu_review.queue_counts(session, recruiter))[ReviewState.PENDING] == 1
        assert await nlu_review.visible_item(session, recruiter, about_b_item) is None
        assert await nlu_review.visible_item(session, recruiter, about_a_item) is not None

    async with console_as(world, world.recruiter.id) as team_a:
        for path in (
            f"/console/conversations/{conversation_id}",
            f"/console/candidates/{candidate_id}",
        ):
            page = await team_a.get(path, follow_redirects=True)
            assert page.status_code == 200, path
            assert "未通过" in page.text, path
            assert CODE_B not in page.text, path
            assert answer_b not in page.text, path
            assert "about another team's application" in page.text, path
        queue = await team_a.get("/console/conversations")
        assert CODE_B not in queue.text

    # Team B no longer sees the conversation, and never team A's messages.
    async with console_as(world, world.outsider.id) as team_b:
        assert (await team_b.get(f"/console/conversations/{conversation_id}")).status_code == 404
        shown = await team_b.get(f"/console/candidates/{candidate_id}")
        assert shown.status_code == 200
        assert CODE_A not in shown.text
        assert "未通过" not in shown.text

    # An admin reads every message, and nothing is said to be hidden.
    async with console_as(world, admin.id) as everyone:
        page = await everyone.get(
            f"/console/conversations/{conversation_id}", follow_redirects=True
        )
        assert page.status_code == 200
        assert CODE_A in page.text
        assert CODE_B in page.text
        assert "about another team's application" not in page.text


async def test_a_shared_candidate_who_names_no_application_is_handed_to_the_latest_ones_team(
    api: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await shared_candidate(world, nlu_model)
    await chat.say("帮我转一下人工吧")
    conversation_id = await chat.conversation_id()

    [handoff] = (
        await api.get("/api/v1/conversations/handoffs", headers=hr(world.outsider_token))
    ).json()
    assert (handoff["conversation_id"], handoff["application_code"]) == (conversation_id, CODE_B)
    assert (
        await api.get("/api/v1/conversations/handoffs", headers=hr(world.recruiter_token))
    ).json() == []
    refused = await api.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        headers=hr(world.recruiter_token, key="a-reply"),
        json={"text": "您好"},
    )
    assert refused.status_code == 404
    async with console_as(world, world.outsider.id) as team_b:
        page = await team_b.get(f"/console/conversations/{conversation_id}", follow_redirects=True)
        assert page.status_code == 200
        assert CODE_B in page.text
        assert CODE_A not in page.text  # team A's result reached the candidate by e-mail
