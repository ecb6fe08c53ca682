"""Manual binding through the conversation gateway, on an injected clock: a code goes out only
for the candidate's own contact, wrong codes are capped per application and day, and the
answers never tell whether an application exists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.conversation import ConversationGateway
from candor.chat import limits
from candor.chat.binding import LONG_LOCK
from candor.chat.messages import InboundMessage, Reply
from candor.models import ChatDelivery, ChatIdentity
from candor.models.enums import Channel
from tests.outreach_world import World

START = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    at: datetime

    def __call__(self) -> datetime:
        return self.at


def says(user: str, text: str, *, at: datetime) -> InboundMessage:
    return InboundMessage(Channel.TELEGRAM, user, at, text=text)


def joined(replies: list[Reply]) -> str:
    return "\n".join(reply.text for reply in replies)


async def codes_mailed_to(world: World, address: str) -> list[str]:
    async with world.runtime.sessionmaker() as session:
        # The recipient is sealed at rest: compared here, after it is read.
        rows = (
            await session.execute(
                select(ChatDelivery.recipient, ChatDelivery.body)
                .where(ChatDelivery.channel == Channel.EMAIL)
                .order_by(ChatDelivery.id)
            )
        ).all()
    bodies = [body for recipient, body in rows if recipient == address]
    return [found.group(1) for body in bodies if (found := re.search(r"验证码：(\d{6})", body))]


async def bound_candidate(world: World, user: str) -> int | None:
    async with world.runtime.sessionmaker() as session:
        return await session.scalar(
            select(ChatIdentity.candidate_id).where(ChatIdentity.external_user_id == user)
        )


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_a_code_goes_only_to_a_candidate_who_typed_their_own_contact(world: World) -> None:
    await world.applicant(1, email="HanMeimei@Example.com", mobile="+86 138-0013-8001")
    app = await world.application(1)
    clock = Clock(START)
    gateway = ConversationGateway(world.runtime, clock=clock)

    code_only = await gateway.handle(says("tg-1", f"绑定 {app.code}", at=START))
    mismatch = await gateway.handle(says("tg-2", f"绑定 {app.code} li@example.com", at=START))
    unknown = await gateway.handle(
        says("tg-3", "绑定 AP-2026-999999 hanmeimei@example.com", at=START)
    )
    assert await codes_mailed_to(world, "hanmeimei@example.com") == []

    matched = await gateway.handle(says("tg-4", f"绑定 {app.code} hanmeimei@example.com", at=START))
    assert joined(matched) == joined(mismatch) == joined(unknown)  # nothing disclosed
    assert "手机号或邮箱" in joined(code_only)
    [code] = await codes_mailed_to(world, "hanmeimei@example.com")  # to the address on file

    # The phone on file, typed differently, works as well (a minute later: one e-mail a minute).
    clock.at = START + timedelta(minutes=2)
    await gateway.handle(says("tg-5", f"绑定：{app.code}，手机：13800138001", at=clock.at))
    assert len(await codes_mailed_to(world, "hanmeimei@example.com")) == 2

    # The mismatching account cannot use the code; the candidate who asked can.
    assert await bound_candidate(world, "tg-2") is None
    await gateway.handle(says("tg-2", f"{app.code} {code}", at=clock.at))
    assert await bound_candidate(world, "tg-2") is None
    clock.at = START + timedelta(minutes=3)
    *_, latest = await codes_mailed_to(world, "hanmeimei@example.com")
    bound = await gateway.handle(says("tg-5", latest, at=clock.at))
    assert app.code in joined(bound)
    assert await bound_candidate(world, "tg-5") == app.candidate_id


async def test_a_days_wrong_codes_lock_the_application_for_a_day(world: World) -> None:
    await world.applicant(1)
    app = await world.application(1)
    clock = Clock(START)
    gateway = ConversationGateway(world.runtime, clock=clock)
    ask = f"绑定 {app.code} lilei@example.com"
    allowance = limits.FAILED_CODES_PER_APPLICATION.limit

    # Even someone who knows the contact, and waits out each 15-minute lock, gets only the
    # day's allowance of guesses.
    failures = 0
    while failures < allowance:
        await gateway.handle(says("tg-x", ask, at=clock.at))
        [*_, code] = await codes_mailed_to(world, "lilei@example.com")
        for _ in range(min(5, allowance - failures)):
            await gateway.handle(says("tg-x", f"{app.code} {wrong(code)}", at=clock.at))
            failures += 1
        clock.at += timedelta(minutes=16)
    mailed = len(await codes_mailed_to(world, "lilei@example.com"))

    # Past the 15-minute lock, the application stays locked: nothing is sent, no code works.
    clock.at += timedelta(hours=1)
    refused = await gateway.handle(says("tg-y", ask, at=clock.at))
    assert len(await codes_mailed_to(world, "lilei@example.com")) == mailed
    unknown = await gateway.handle(
        says("tg-z", "绑定 AP-2026-999999 lilei@example.com", at=clock.at)
    )
    assert joined(refused) == joined(unknown)
    last_code = (await codes_mailed_to(world, "lilei@example.com"))[-1]
    await gateway.handle(says("tg-x", f"{app.code} {last_code}", at=clock.at))
    assert await bound_candidate(world, "tg-x") is None

    # After the long lock, the candidate binds.
    clock.at = START + LONG_LOCK + timedelta(hours=2)
    await gateway.handle(says("tg-y", ask, at=clock.at))
    fresh = (await codes_mailed_to(world, "lilei@example.com"))[-1]
    bound = await gateway.handle(says("tg-y", fresh, at=clock.at))
    assert app.code in joined(bound)
    assert await bound_candidate(world, "tg-y") == app.candidate_id
