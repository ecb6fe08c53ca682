"""A candidate's copy of their data, end to end: asked for in chat (the real gateway and
embedded engine), downloaded once through the link's page and button, refused after that
or once expired, and audited at each step; one candidate's copy holds nothing of another's."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy import text as sql

from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.audit.service import Action
from candor.clock import clock_at, utcnow
from candor.models import (
    Application,
    AuditEntry,
    Candidate,
    ChatMessage,
    CsatRating,
    DataExport,
    OutreachMessage,
)
from candor.models.enums import Channel
from candor.privacy.service import MAX_EXPORTS_PER_DAY
from candor.worker import PruneDataExports
from nlu.model import NluModel
from tests.dialogue_world import Chat, nlu_model, result_sent, texts_of
from tests.factories import application_created
from tests.outreach_world import World, api

__all__ = ["api", "nlu_model"]
LINK = re.compile(r"https?://\S+?(/privacy/exports/[A-Za-z0-9_-]{16,64})")
OTHERS_WORDS = "候选人二号的私人留言"


async def second_application(world: World) -> None:
    """Candidate 1 also applied in team-b, a day before applying in team-a; the result
    there is decided, not sent."""
    await world.post(
        application_created(
            event_id="c-1b",
            application="app-1b",
            candidate="cand-1",
            job="job-b",
            team="team-b",
            applied_at="2026-03-01T10:00:00+08:00",
        )
    )
    await world.post(
        {
            "event_id": "done-1b",
            "type": "interview_completed",
            "data": {
                "application_external_id": "app-1b",
                "interview_external_id": "iv-1b",
                "kind": "ai_video",
                "completed_at": "2026-03-04T10:40:00+08:00",
                "score": 91,
                "report": {"summary": "内部评语-不外传", "strengths": [], "improvements": []},
            },
        }
    )
    await world.post(
        {
            "event_id": "decide-1b",
            "type": "result_decided",
            "data": {
                "application_external_id": "app-1b",
                "interview_external_id": "iv-1b",
                "decision": "advance",
                "decided_at": "2026-03-06T18:00:00+08:00",
            },
        }
    )


async def rate(world: World, n: int, rating: int) -> None:
    """Candidate n rated the result they were sent."""
    async with world.runtime.transaction() as session:
        application = await session.scalar(
            select(Application).where(Application.external_id == f"app-{n}")
        )
        assert application is not None
        message = await session.scalar(
            select(OutreachMessage).where(OutreachMessage.application_id == application.id)
        )
        assert message is not None
        session.add(
            CsatRating(
                outreach_message_id=message.id,
                candidate_id=application.candidate_id,
                asked_at=utcnow(),
                rating=rating,
                rated_at=utcnow(),
            )
        )


def gateway(world: World, nlu_model: NluModel) -> ConversationGateway:
    return ConversationGateway(world.runtime, engine=EmbeddedEngine(world.runtime, model=nlu_model))


def link_path(replies_text: str) -> str:
    found = LINK.search(replies_text)
    assert found is not None, replies_text
    return found.group(1)


async def audit_actions(world: World) -> list[tuple[str, str, str]]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.action, r.actor, r.object_id) for r in rows.all() if "export" in r.action]


async def test_the_copy_is_complete_and_only_the_candidates_own(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    await world.applicant(
        2, bind=[Channel.WEB], name="韩梅梅", email="hmm@example.com", mobile="13900139000"
    )
    await result_sent(world, 1, "reject")
    await result_sent(world, 2, "reject")
    await second_application(world)
    await rate(world, 1, 4)
    await rate(world, 2, 1)
    gw = gateway(world, nlu_model)
    mine, theirs = Chat(world, gw, "web-user-1"), Chat(world, gw, "web-user-2")
    await theirs.say(OTHERS_WORDS)
    await mine.say("我的面试结果出来了吗")
    await mine.say("加入人才库")

    asked = texts_of(await mine.say("导出我的数据"))
    assert "只能下载一次" in asked
    assert "24 小时" in asked
    path = link_path(asked)
    token = path.rsplit("/", 1)[1]

    # The landing page only looks: a link preview does not use the link up.
    for _ in range(2):
        page = await api.get(path)
        assert page.status_code == 200
        assert 'id="download"' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"

    download = await api.post(path)
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"
    copy = download.json()
    raw = json.dumps(copy, ensure_ascii=False)

    async with world.runtime.sessionmaker() as session:
        codes = dict(
            (await session.execute(select(Application.external_id, Application.code))).all()
        )
        me = await session.scalar(select(Candidate).where(Candidate.external_id == "cand-1"))
        assert me is not None
    assert copy["format"] == "candor.personal-data-export"
    assert copy["scope"] == "complete"
    assert copy["profile"]["name"] == "李雷"
    assert copy["profile"]["email"] == "lilei@example.com"
    assert [a["code"] for a in copy["applications"]] == [codes["app-1b"], codes["app-1"]]
    assert copy["applications"][0]["interviews"][0]["completed_at"].endswith("+08:00")
    # Only the result that was sent: the decided, unsent advance of app-1b is no part of it.
    [result] = copy["results"]
    assert (result["application"], result["outcome"]) == (codes["app-1"], "reject")
    assert result["sent_at"] is not None
    assert result["text"]
    said = [m["text"] for m in copy["messages"] if m["from"] == "candidate"]
    assert said == ["我的面试结果出来了吗", "加入人才库", "导出我的数据"]
    assert any(m["from"] == "bot" for m in copy["messages"])
    assert [c["channel"] for c in copy["chat_accounts"]] == ["web"]
    assert copy["consents"]["talent_pool"] is True
    assert [c["after"] for c in copy["consents"]["changes"]] == [{"talent_pool": True}]
    assert len(copy["consents"]["privacy_notices_shown"]) == 1
    assert [(r["application"], r["rating"]) for r in copy["ratings"]] == [(codes["app-1"], 4)]
    # Nothing of the other candidate, nor the interviews' internal scores and reports.
    for foreign in ("韩梅梅", "hmm@example.com", OTHERS_WORDS, codes["app-2"], "内部评语", "score"):
        assert foreign not in raw, foreign

    # Once: a second download, and the page, are refused with the stable code, no data.
    again = await api.post(path)
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "export_link_used"
    assert "profile" not in again.text
    assert "李雷" not in again.text
    refused_page = await api.get(path)
    assert refused_page.status_code == 410
    assert 'data-code="export_link_used"' in refused_page.text
    html_again = await api.post(path, headers={"Accept": "text/html"})
    assert html_again.status_code == 410
    assert "李雷" not in html_again.text

    async with world.runtime.sessionmaker() as session:
        [export] = (await session.scalars(select(DataExport))).all()
        stored = (await session.scalars(select(ChatMessage.text))).all()
    assert export.token_hash != token
    assert token not in export.token_hash
    assert export.content is None
    assert export.downloaded_at is not None
    # The transcript keeps the reply without the token: a reader of it cannot use the link.
    assert not any(text and token in text for text in stored)
    assert any(text and "/privacy/exports/[single-use link]" in text for text in stored)
    assert await audit_actions(world) == [
        (Action.DATA_EXPORT_CREATED, "candidate", str(me.id)),
        (Action.DATA_EXPORT_DOWNLOADED, "export_link", str(me.id)),
        (Action.DATA_EXPORT_REFUSED, "export_link", str(me.id)),
    ]


async def test_an_expired_link_gives_nothing_and_its_copy_is_dropped(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    chat = Chat(world, gateway(world, nlu_model), "web-user-1")
    with clock_at(utcnow() - timedelta(hours=24, minutes=1)):  # asked a day and a minute ago
        path = link_path(texts_of(await chat.say("export my data")))

    assert await PruneDataExports().run(world.runtime) == 1
    async with world.runtime.sessionmaker() as session:
        [export] = (await session.scalars(select(DataExport))).all()
    assert export.content is None
    assert export.downloaded_at is None

    expired = await api.post(path)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "export_link_expired"
    page = await api.get(path)
    assert page.status_code == 410
    assert 'data-code="export_link_expired"' in page.text
    assert [a for a, _, _ in await audit_actions(world)] == [
        Action.DATA_EXPORT_CREATED,
        Action.DATA_EXPORT_REFUSED,
    ]


async def test_a_spent_link_cannot_fill_the_audit_trail(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    # Whoever holds a used link may fetch it without end: the refusal is audited once per
    # link and reason (the download attempt), the page's look only logged.
    await world.applicant(1, bind=[Channel.WEB])
    chat = Chat(world, gateway(world, nlu_model), "web-user-1")
    path = link_path(texts_of(await chat.say("导出我的数据")))
    assert (await api.post(path)).status_code == 200
    for _ in range(3):
        assert (await api.get(path)).status_code == 410
        assert (await api.post(path)).status_code == 410
        assert (await api.post(path, headers={"Accept": "text/html"})).status_code == 410

    assert [a for a, _, _ in await audit_actions(world)] == [
        Action.DATA_EXPORT_CREATED,
        Action.DATA_EXPORT_DOWNLOADED,
        Action.DATA_EXPORT_REFUSED,
    ]


async def test_an_unbound_chat_is_told_how_to_bind_and_gets_nothing(
    world: World, nlu_model: NluModel
) -> None:
    await world.applicant(1)  # the application exists, this account is not bound to it
    replies = await Chat(world, gateway(world, nlu_model), "stranger").say("导出我的数据")
    text = texts_of(replies)
    assert "绑定" in text
    assert "/privacy/exports/" not in text
    assert "李雷" not in text
    async with world.runtime.sessionmaker() as session:
        assert (await session.scalars(select(DataExport))).all() == []
    assert await audit_actions(world) == []


async def test_a_new_link_ends_the_unused_one_and_a_day_has_a_limit(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    chat = Chat(world, gateway(world, nlu_model), "web-user-1")
    paths = [
        link_path(texts_of(await chat.say("导出我的数据"))) for _ in range(MAX_EXPORTS_PER_DAY)
    ]
    limited = texts_of(await chat.say("导出我的数据"))
    assert "/privacy/exports/" not in limited
    assert str(MAX_EXPORTS_PER_DAY) in limited

    first = await api.post(paths[0])
    assert (first.status_code, first.json()["error"]["code"]) == (410, "export_link_expired")
    assert (await api.post(paths[-1])).status_code == 200


async def test_unknown_and_malformed_links(api: httpx.AsyncClient, world: World) -> None:
    unknown = await api.post("/privacy/exports/" + "A" * 32)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "export_link_unknown")
    assert (await api.get("/privacy/exports/" + "A" * 32)).status_code == 404
    malformed = await api.post("/privacy/exports/short")
    assert malformed.status_code == 422
    assert await audit_actions(world) == []  # an unknown token names nobody


async def test_the_copy_waiting_for_its_download_is_sealed_at_rest(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    await world.applicant(1, bind=[Channel.WEB], mobile="13811112222")
    chat = Chat(world, gateway(world, nlu_model), "web-user-1")
    path = link_path(texts_of(await chat.say("导出我的数据")))

    async with world.runtime.engine.connect() as connection:
        (stored,) = (
            await connection.execute(sql("SELECT CAST(content AS TEXT) FROM data_exports"))
        ).one()
    for plaintext in ("李雷", "lilei@example.com", "13811112222", "导出我的数据"):
        assert plaintext not in stored
    assert "enc:v1:" in stored

    download = await api.post(path)
    assert download.status_code == 200
    assert download.json()["profile"]["email"] == "lilei@example.com"
