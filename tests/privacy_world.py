"""A candidate seeded across every feature, through the real services and the chat gateway,
and the scans that prove what an erasure left: every text and JSON column of every table
(read from the metadata, not listed by hand) and the whole Redis keyspace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.ratelimit import RedisRateLimiter
from bot.channels.sms.limits import NumberLimits
from bot.channels.telegram import RATE_PREFIX
from bot.channels.wechat.state import WeChatState
from bot.conversation import ConversationGateway
from candor.auth.principals import HRPrincipal
from candor.chat import binding, limits
from candor.clock import utcnow
from candor.crypto.lookups import chat_id_index, email_index, mobile_index, recipient_index
from candor.dialogue import hr_actions, service
from candor.models import Application, Base, Candidate, Conversation, OutreachMessage
from candor.models.enums import ApplicationStatus, Channel, InterviewKind, Role
from candor.models.scheduling import InterviewSlot, SlotSource
from candor.runtime import Runtime
from candor.scheduling import service as scheduling
from tests.dialogue_world import Chat, result_sent
from tests.outreach_world import World, hr


@dataclass(frozen=True)
class Seeded:
    n: int
    candidate_id: int
    name: str
    mobile: str
    email: str
    code: str
    openids: tuple[str, ...]

    @property
    def needles(self) -> tuple[str, ...]:
        """Their values, and the keyed hashes (blind indexes) the database finds them by."""
        return (
            self.name,
            self.mobile,
            self.email,
            self.code,
            *self.openids,
            *(
                index
                for index in (
                    mobile_index(self.mobile),
                    email_index(self.email),
                    recipient_index(self.email),
                    *(chat_id_index(openid) for openid in self.openids),
                    *(recipient_index(openid) for openid in self.openids),
                )
                if index is not None
            ),
        )


async def seed_everywhere(
    world: World,
    gateway: ConversationGateway,
    api: httpx.AsyncClient,
    n: int,
    *,
    name: str,
    mobile: str,
    email: str,
) -> Seeded:
    """Candidate n: an application with a completed interview and a result sent; chats on
    the web, Telegram and WeChat (a hand-off, an opt-out, a job question); HR's reply over
    the API (an idempotency key) and a transcript read (audit rows); a rating; a binding link;
    a binding code e-mailed to an account never bound; and Redis keys of the channels."""
    runtime = world.runtime
    await world.applicant(
        n,
        bind=[Channel.WEB, Channel.TELEGRAM, Channel.WECHAT],
        name=name,
        mobile=mobile,
        email=email,
    )
    await result_sent(world, n)
    application = await world.application(n)
    web = Chat(world, gateway, f"web-user-{n}")
    await web.say(f"你好，我是{name}，手机{mobile}，邮箱{email}")
    await web.say("我的面试结果出来了吗")
    telegram = Chat(world, gateway, f"telegram-user-{n}", channel=Channel.TELEGRAM)
    await telegram.say("帮我看看现在到哪一步了")
    await telegram.say("以后不要再给我推送消息了")
    await telegram.press('/opt_out{"opt_out_scope": "all"}')
    wechat = Chat(world, gateway, f"wechat-user-{n}", channel=Channel.WECHAT)
    await wechat.say("这个岗位工资大概多少呀")
    stranger = Chat(world, gateway, f"web-stranger-{n}")
    await stranger.say(f"绑定 {application.code} {email}")
    await web.say("导出我的数据")  # a copy of all of it, behind a link
    await web.say("转人工")

    conversation_id = await web.conversation_id()
    reply = await api.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": f"{name}你好，HR 已收到你的消息"},
        headers=hr(world.recruiter_token, f"reply-{n}"),
    )
    assert reply.status_code == 200, reply.text
    now = utcnow()
    async with runtime.transaction() as session:
        candidate = await session.scalar(
            select(Candidate).where(Candidate.external_id == f"cand-{n}")
        )
        assert candidate is not None
        conversation = await session.get_one(Conversation, conversation_id)
        await hr_actions.transcript_read(
            session,
            actor=f"user:{world.recruiter.id}",
            candidate_id=candidate.id,
            conversation=conversation,
            lines=3,
            via="console",
            now=now,
        )
        message = await session.scalar(
            select(OutreachMessage).where(OutreachMessage.application_id == application.id)
        )
        assert message is not None
        await service.ask_rating_once(session, message, candidate.id, conversation_id, now=now)
        await service.store_rating(session, candidate.id, 4, now=now)
        app_row = await session.get_one(Application, application.id)
        await binding.issue_token(
            session,
            app_row,
            Channel.TELEGRAM,
            actor=f"user:{world.recruiter.id}",
            now=now,
            valid_for=timedelta(days=7),
        )
        candidate_id = candidate.id
        await _book_an_interview(world, session, candidate, app_row, message, now=now)

    redis = runtime.redis
    await RedisRateLimiter(redis, prefix=RATE_PREFIX).acquire(f"telegram-user-{n}", max_wait=0)
    await NumberLimits(redis, per_minute=5, per_hour=20, per_day=50).take(mobile, now)
    state = WeChatState(redis, "wx-test-app")
    await state.open_window(f"wechat-user-{n}", at=int(now.timestamp()))
    await redis.set(
        f"wechat:wx-test-app:inbound:wechat-user-{n}:1700000000", f"answered:{name}你好"
    )
    await limits.count(
        redis, limits.ANON_MESSAGES_PER_ACCOUNT, limits.subject("web", f"web-user-{n}"), now=now
    )
    return Seeded(
        n,
        candidate_id,
        name,
        mobile,
        email,
        application.code,
        (f"web-user-{n}", f"telegram-user-{n}", f"wechat-user-{n}"),
    )


async def _book_an_interview(
    world: World,
    session: AsyncSession,
    candidate: Candidate,
    application: Application,
    message: OutreachMessage,
    *,
    now: datetime,
) -> None:
    """Self-scheduling: their zone, a booking HR cancelled with a reason that names them,
    and the booking that stands."""
    candidate.time_zone = "Asia/Shanghai"
    # The ATS took the rejection back and advanced them: an ended application books nothing.
    application.status = ApplicationStatus.ACTIVE
    await scheduling.set_policy(
        session,
        application.job_id,
        interview_kind=InterviewKind.ONSITE,
        min_notice_hours=0,
        actor="test",
    )
    slots = [
        InterviewSlot(
            job_id=application.job_id,
            round=2,
            kind=InterviewKind.ONSITE,
            starts_at=now + timedelta(days=days),
            ends_at=now + timedelta(days=days, hours=1),
            capacity=1,
            location="漕河泾 3 号楼",
            interviewers=["王面试官"],
            source=SlotSource.MANUAL,
            created_by="test",
        )
        for days in (3, 4)
    ]
    session.add_all(slots)
    await session.flush()
    invitation = await scheduling.invite(
        session, application, outreach_message_id=message.id, now=now
    )
    assert invitation is not None
    principal = HRPrincipal(
        user_id=world.recruiter.id, role=Role.RECRUITER, team_ids=frozenset({world.team.id})
    )
    first = await scheduling.hr_book(session, principal, application.id, slots[0].id, now=now)
    await scheduling.hr_cancel(
        session,
        principal,
        first.public_id,
        reason=f"{candidate.name}（{candidate.mobile}，{candidate.email}）说要改期",
        now=now,
    )
    held = await scheduling.hold(session, invitation, slots[1].id, by="candidate", now=now)
    await scheduling.confirm(session, invitation, held.public_id, by="candidate", now=now)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False, default=str)


async def database_mentions(runtime: Runtime, needles: tuple[str, ...]) -> list[str]:
    """Every (table, column, needle) where a text or JSON column of any table holds one."""
    lowered = [n.lower() for n in needles]
    found = []
    async with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(table.select())).mappings().all()
            for row in rows:
                for column, value in row.items():
                    if isinstance(value, int | float | bool | datetime) or value is None:
                        continue
                    text = _text(value).lower()
                    found += [
                        f"{table.name}.{column}: {needle}" for needle in lowered if needle in text
                    ]
    return sorted(set(found))


async def redis_mentions(runtime: Runtime, needles: tuple[str, ...]) -> list[str]:
    lowered = [n.lower() for n in needles]
    redis = runtime.redis
    found = []
    async for key in redis.scan_iter(count=1000):
        kind = str(await redis.type(key))
        if kind == "string":
            value: Any = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1)
        else:
            value = None
        text = f"{key} {_text(value)}".lower()
        found += [f"redis {key}: {needle}" for needle in lowered if needle in text]
    return sorted(set(found))


async def rows_mentioning(runtime: Runtime, needles: tuple[str, ...]) -> list[str]:
    """The rows (whole) that hold one of `needles`: to show another candidate is untouched."""
    lowered = [n.lower() for n in needles]
    rows_found = []
    async with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in (await connection.execute(table.select())).mappings().all():
                text = " ".join(_text(v) for v in row.values() if isinstance(v, str | dict | list))
                if any(n in text.lower() for n in lowered):
                    rows_found.append(f"{table.name}: {_text(dict(row))}")
    return sorted(rows_found)


async def kpi_facts(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    async with runtime.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in (await connection.execute(table.select())).all()), key=repr
            )
            for table in Base.metadata.sorted_tables
            if table.name.startswith("kpi_")
        }


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
