"""A small hiring world for outreach tests: two teams, their recruiters, and helpers that
drive applications through the real ATS ingestion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from api.app import create_app
from candor.ats.intake import accept_event
from candor.ats.schemas import ATS_EVENT
from candor.bootstrap import ensure_reference_data
from candor.chat.privacy_notice import load_notice
from candor.models import Application, Candidate, ChatIdentity, HRUser, PrivacyNoticeShown, Team
from candor.models.enums import Channel, Role
from candor.models.outreach import MessageTemplate
from candor.outreach.context import ResultDrafter, outreach_context
from candor.outreach.service import OutreachContext
from candor.runtime import Runtime
from tests.factories import application_created, make_hr_token, make_hr_user, make_team


@dataclass
class World:
    runtime: Runtime
    team: Team
    other_team: Team
    recruiter: HRUser
    outsider: HRUser
    recruiter_token: str
    outsider_token: str

    async def context(self) -> OutreachContext:
        async with self.runtime.sessionmaker() as session:
            return await outreach_context(session, self.runtime.settings)

    async def post(self, raw: dict[str, Any]) -> dict[str, Any]:
        async with self.runtime.transaction() as session:
            event = ATS_EVENT.validate_python(raw)
            outcome = await accept_event(
                session, event, on_result_decided=ResultDrafter(self.runtime.settings)
            )
            return outcome.body

    async def applicant(
        self,
        n: int,
        *,
        team: str = "team-a",
        bind: list[Channel] | None = None,
        completed_at: str = "2026-03-03T10:40:00+08:00",
        notice_seen: bool = True,
        **candidate: Any,
    ) -> str:
        """An application at the AI interview, completed; returns its external id. The
        accounts in `bind` are bound already and, unless `notice_seen` is False, the
        candidate was shown the current privacy notice when they bound."""
        app_id = f"app-{n}"
        await self.post(
            application_created(
                event_id=f"c-{n}",
                application=app_id,
                candidate=f"cand-{n}",
                job=f"job-{team}",
                team=team,
                **candidate,
            )
        )
        await self.post(
            {
                "event_id": f"done-{n}",
                "type": "interview_completed",
                "data": {
                    "application_external_id": app_id,
                    "interview_external_id": f"iv-{n}",
                    "kind": "ai_video",
                    "completed_at": completed_at,
                    "score": 66,
                    "report": {
                        "summary": "ok",
                        "strengths": ["沟通", "逻辑", "学习", "第四条"],
                        "improvements": ["系统设计"],
                    },
                },
            }
        )
        async with self.runtime.transaction() as session:
            cand = await session.scalar(
                select(Candidate).where(Candidate.external_id == f"cand-{n}")
            )
            assert cand is not None
            for channel in bind or []:
                session.add(
                    ChatIdentity(
                        channel=channel,
                        external_user_id=f"{channel.value}-user-{n}",
                        candidate_id=cand.id,
                        bound_at=datetime.now(UTC),
                    )
                )
            if bind and notice_seen:
                session.add(
                    PrivacyNoticeShown(
                        candidate_id=cand.id,
                        version=load_notice(self.runtime.settings.privacy_notice_file).version,
                        channel=bind[0],
                        locale=cand.locale,
                        shown_at=datetime.now(UTC),
                    )
                )
        return app_id

    async def decide(self, n: int, decision: str, *, version: int = 1) -> dict[str, Any]:
        return await self.post(
            {
                "event_id": f"decide-{n}-{version}",
                "type": "result_decided",
                "data": {
                    "application_external_id": f"app-{n}",
                    "interview_external_id": f"iv-{n}",
                    "decision": decision,
                    "decided_at": "2026-03-05T18:00:00+08:00",
                    "next_steps": "3月12日 14:00 现场面试",
                },
            }
        )

    async def member(self, role: Role, team: Team | None = None) -> tuple[HRUser, str]:
        """Another HR user (in `team`, if given) and their personal token."""
        async with self.runtime.transaction() as session:
            user = await make_hr_user(session, team=team, role=role)
            return user, await make_hr_token(session, user)

    async def application(self, n: int) -> Application:
        async with self.runtime.sessionmaker() as session:
            found = await session.scalar(
                select(Application).where(Application.external_id == f"app-{n}")
            )
            assert found is not None
            return found


async def install_unchecked_template(runtime: Runtime, key: str, **changes: Any) -> int:
    """A new current version of `key` written straight to the database, as a template saved
    before the save-time sample rendering existed (or one that fails only on real data)
    would be; returns its version."""
    async with runtime.transaction() as session:
        current = await session.scalar(
            select(MessageTemplate).where(
                MessageTemplate.key == key, MessageTemplate.is_current.is_(True)
            )
        )
        assert current is not None
        await session.execute(
            update(MessageTemplate).where(MessageTemplate.key == key).values(is_current=False)
        )
        fields = {
            "subject": current.subject,
            "body": current.body,
            "wechat_fields": dict(current.wechat_fields),
            **changes,
        }
        session.add(
            MessageTemplate(
                key=key,
                version=current.version + 1,
                outcome=current.outcome,
                locale=current.locale,
                wechat_template_id=current.wechat_template_id,
                is_current=True,
                created_by="test:unchecked",
                **fields,
            )
        )
        return current.version + 1


def hr(token: str, key: str | None = None) -> dict[str, str]:
    """Headers for an HR user's request, with an Idempotency-Key for POSTs."""
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The API over the world's runtime."""
    app = create_app(runtime=world.runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


@pytest.fixture
async def world(runtime: Runtime) -> World:
    await ensure_reference_data(runtime)
    async with runtime.transaction() as session:
        team = await make_team(session, external_id="team-a")
        other = await make_team(session, external_id="team-b", name="销售部")
        recruiter = await make_hr_user(session, team=team, role=Role.RECRUITER)
        outsider = await make_hr_user(session, team=other, role=Role.RECRUITER)
        recruiter_token = await make_hr_token(session, recruiter)
        outsider_token = await make_hr_token(session, outsider)
    return World(runtime, team, other, recruiter, outsider, recruiter_token, outsider_token)
