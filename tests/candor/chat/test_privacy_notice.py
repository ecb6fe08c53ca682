"""The privacy notice in chat, through the real gateway and embedded engine: shown with the
first answer after binding, once per version per candidate, in the candidate's language,
and again once when the version changes."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.chat.binding import issue_link_for_code
from candor.chat.privacy_notice import PrivacyNoticeError, load_notice
from candor.clock import utcnow
from candor.models import ChatMessage, PrivacyNoticeShown
from candor.models.enums import Channel, Locale
from nlu.model import NluModel
from tests.dialogue_world import Chat, nlu_model, texts_of
from tests.outreach_world import World

__all__ = ["nlu_model"]
SHIPPED = load_notice()
ZH_MARK, EN_MARK = "【隐私说明】", "[Privacy]"


def gateway_with(
    world: World, nlu_model: NluModel, notice: Path | None = None
) -> ConversationGateway:
    settings = world.runtime.settings.model_copy(update={"privacy_notice_file": notice})
    runtime = dataclasses.replace(world.runtime, settings=settings)
    return ConversationGateway(runtime, engine=EmbeddedEngine(runtime, model=nlu_model))


def notice_file(tmp_path: Path, version: str, zh: str = "新版隐私说明 v2") -> Path:
    path = tmp_path / f"notice-{version}.yml"
    path.write_text(f'version: "{version}"\nzh-CN: "{zh}"\nen: "New privacy notice"\n', "utf-8")
    return path


async def shown(world: World) -> list[tuple[int, str, Channel, Locale]]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(select(PrivacyNoticeShown).order_by(PrivacyNoticeShown.id))
        return [(r.candidate_id, r.version, r.channel, r.locale) for r in rows.all()]


async def link_token(world: World, channel: Channel, code: str = "AP-2026-000001") -> str:
    async with world.runtime.transaction() as session:
        issued = await issue_link_for_code(
            session, code, channel, actor="test", now=utcnow(), valid_for=timedelta(days=1)
        )
    assert issued is not None
    return issued.plaintext


async def test_binding_in_chat_shows_the_notice_once_with_the_confirmation(
    world: World, nlu_model: NluModel
) -> None:
    await world.applicant(1)
    app = await world.application(1)
    gateway = gateway_with(world, nlu_model)
    chat = Chat(world, gateway, "tg-1", channel=Channel.TELEGRAM)

    [bound] = await chat.say(
        None, event="start", event_key=await link_token(world, Channel.TELEGRAM)
    )

    assert app.code in bound.text  # one message: the confirmation, then the notice
    assert bound.text.index(app.code) < bound.text.index(ZH_MARK)
    assert SHIPPED.text(Locale.ZH_CN) in bound.text
    assert await shown(world) == [
        (app.candidate_id, SHIPPED.version, Channel.TELEGRAM, Locale.ZH_CN)
    ]
    # The transcript has what was sent.
    async with world.runtime.sessionmaker() as session:
        texts = (await session.scalars(select(ChatMessage.text))).all()
    assert any(text and ZH_MARK in text for text in texts)

    # Never again for this version: not on the next message, nor on another account.
    assert ZH_MARK not in texts_of(await chat.say("我的面试结果出来了吗"))
    web = Chat(world, gateway, "web-1", channel=Channel.WEB)
    [again] = await web.say(None, event="start", event_key=await link_token(world, Channel.WEB))
    assert app.code in again.text
    assert ZH_MARK not in again.text
    assert len(await shown(world)) == 1


async def test_a_candidate_bound_before_sees_it_after_the_answer_to_their_next_message(
    world: World, nlu_model: NluModel
) -> None:
    # Bound without a confirmation in chat (before the notice existed): the next message brings it.
    await world.applicant(1, bind=[Channel.WEB], notice_seen=False)
    chat = Chat(world, gateway_with(world, nlu_model), "web-user-1")

    *answer, notice = await chat.say("我的面试结果出来了吗")

    assert answer
    assert ZH_MARK not in texts_of(answer)
    assert notice.text == SHIPPED.text(Locale.ZH_CN)
    assert ZH_MARK not in texts_of(await chat.say("谢谢"))
    assert len(await shown(world)) == 1


async def test_an_english_speaking_candidate_gets_the_english_notice(
    world: World, nlu_model: NluModel
) -> None:
    await world.applicant(1, bind=[Channel.WEB], notice_seen=False, locale="en")
    chat = Chat(world, gateway_with(world, nlu_model), "web-user-1")

    *_, notice = await chat.say("Is my interview result out?")

    assert notice.text == SHIPPED.text(Locale.EN)
    assert EN_MARK in notice.text
    assert "export my data" in notice.text
    [(_, _, _, locale)] = await shown(world)
    assert locale is Locale.EN


async def test_a_new_version_is_shown_once_more_and_then_not_again(
    world: World, nlu_model: NluModel, tmp_path: Path
) -> None:
    await world.applicant(1, bind=[Channel.WEB])  # saw the shipped version when binding
    before = Chat(world, gateway_with(world, nlu_model), "web-user-1")
    assert ZH_MARK not in texts_of(await before.say("我的面试结果出来了吗"))

    updated = gateway_with(world, nlu_model, notice_file(tmp_path, "2027-01"))
    chat = Chat(world, updated, "web-user-1")
    *_, notice = await chat.say("我的面试结果出来了吗")
    assert notice.text == "新版隐私说明 v2"
    assert "新版隐私说明" not in texts_of(await chat.say("下一步是什么"))

    versions = [version for _, version, _, _ in await shown(world)]
    assert versions == [SHIPPED.version, "2027-01"]


async def test_an_unbound_account_is_never_shown_it(world: World, nlu_model: NluModel) -> None:
    chat = Chat(world, gateway_with(world, nlu_model), "stranger")
    replies = await chat.say("你好")
    assert ZH_MARK not in texts_of(replies)
    assert await shown(world) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("- just a list", "expected a mapping"),
        ('version: "has space"\nzh-CN: a\nen: b', "`version`"),
        ('version: "3"\nzh-CN: a', "the en text is missing"),
        ('version: "3"\nzh-CN: ""\nen: b', "the zh-CN text is missing"),
        (f'version: "3"\nzh-CN: "{"长" * 1001}"\nen: b', "longer than 1000"),
        ("version: [unclosed", "cannot read"),
    ],
)
def test_a_bad_notice_file_is_refused_saying_why(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "notice.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PrivacyNoticeError, match=problem) as refused:
        load_notice(path)
    assert refused.value.code == "privacy_notice_invalid"


def test_a_missing_notice_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PrivacyNoticeError, match="cannot read"):
        load_notice(tmp_path / "absent.yml")


def test_the_shipped_notice_says_what_how_long_and_how_to_export_or_delete() -> None:
    zh, en = SHIPPED.text(Locale.ZH_CN), SHIPPED.text(Locale.EN)
    for needed in ("导出我的数据", "删除我的数据", "保存", "个月"):
        assert needed in zh
    for needed in ("export my data", "delete my data", "months"):
        assert needed in en
