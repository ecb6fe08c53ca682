"""Domain errors reach API clients as the one error shape, with their code and status."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.errors import install_error_handlers
from candor.ats.errors import UnknownReferenceError
from candor.errors import CandorError
from candor.models import ChatIdentity, Conversation
from candor.models.enums import Channel
from tests.outreach_world import World, hr


class _QuotaError(CandorError):
    code = "quota_exceeded"
    http_status = 429


def _app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get("/boom")


async def test_any_domain_error_is_its_code_and_status_never_a_500() -> None:
    answer = await _get(_app_raising(_QuotaError("at most 10 a minute")))

    assert answer.status_code == 429
    assert answer.json() == {"error": {"code": "quota_exceeded", "message": "at most 10 a minute"}}


async def test_one_raise_may_override_the_code_and_status_and_add_details() -> None:
    error = _QuotaError("slow down", code="too_fast", http_status=503, details={"wait": 5})

    answer = await _get(_app_raising(error))

    assert answer.status_code == 503
    assert answer.json() == {
        "error": {"code": "too_fast", "message": "slow down", "details": {"wait": 5}}
    }


async def test_existing_families_keep_their_codes() -> None:
    answer = await _get(_app_raising(UnknownReferenceError("no job 'x'")))

    assert answer.status_code == 422
    assert answer.json() == {"error": {"code": "unknown_reference", "message": "no job 'x'"}}


async def test_a_service_error_in_a_conversation_reaches_the_client(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.applicant(1)
    candidate_id = (await world.application(1)).candidate_id
    async with world.runtime.transaction() as session:
        identity = ChatIdentity(
            channel=Channel.WEB, external_user_id="web-1", candidate_id=candidate_id
        )
        session.add(identity)
        await session.flush()
        conversation = Conversation(
            chat_identity_id=identity.id, channel=Channel.WEB, candidate_id=candidate_id
        )
        session.add(conversation)
        await session.flush()
        conversation_id = conversation.id
    base = f"/api/v1/conversations/{conversation_id}"

    handback = await api.post(f"{base}/handback", headers=hr(world.recruiter_token, "h"))
    blank = await api.post(
        f"{base}/replies", json={"text": "   "}, headers=hr(world.recruiter_token, "r")
    )

    assert handback.status_code == 409
    assert handback.json() == {
        "error": {"code": "not_handed_off", "message": "this conversation is not with HR"}
    }
    assert blank.status_code == 422
    assert blank.json() == {
        "error": {"code": "invalid_reply", "message": "text: give 1 to 4000 characters"}
    }
