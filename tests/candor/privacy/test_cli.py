"""`candor privacy ...` as real processes: an erasure killed half way (SIGKILL) leaves the
candidate hidden and finishes on the next run; the purge's report and its audit row."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import func, insert, select

from candor.clock import utcnow
from candor.models import (
    AuditEntry,
    BindingToken,
    Candidate,
    ChatIdentity,
    ChatMessage,
    Conversation,
    DeletionRequest,
)
from candor.models.chat import Direction
from candor.models.enums import Channel
from candor.models.privacy import DeletionState
from candor.privacy.queries import is_hidden
from candor.runtime import Runtime
from tests.outreach_world import World
from tests.privacy_world import database_mentions

CANDOR = [sys.executable, "-c", "from candor.cli import main; main()"]
MESSAGES = 1500


def env_of(runtime: Runtime, **extra: str) -> dict[str, str]:
    settings = runtime.settings
    return {
        **os.environ,
        "CANDOR_ENV": "test",
        "CANDOR_SECRET_KEY": settings.secret_key.get_secret_value(),
        "CANDOR_DATABASE_URL": settings.database_url,
        "CANDOR_REDIS_URL": settings.redis_url,
        **extra,
    }


def candor(runtime: Runtime, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CANDOR, *args],
        env=env_of(runtime, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def start(runtime: Runtime, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CANDOR, *args],
        env=env_of(runtime, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def a_talkative_candidate_due_for_erasure(world: World) -> tuple[int, int]:
    """Candidate 1 with a long transcript, and a request past its cooling-off period."""
    await world.applicant(1, bind=[Channel.WEB], name="韩梅梅", mobile="13911112222")
    now = utcnow()
    async with world.runtime.transaction() as session:
        candidate = await session.scalar(select(Candidate).where(Candidate.external_id == "cand-1"))
        assert candidate is not None
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.candidate_id == candidate.id)
        )
        assert identity is not None
        conversation = Conversation(
            chat_identity_id=identity.id, channel=Channel.WEB, candidate_id=candidate.id
        )
        session.add(conversation)
        await session.flush()
        await session.execute(
            insert(ChatMessage),
            [
                {
                    "conversation_id": conversation.id,
                    "candidate_id": candidate.id,
                    "direction": Direction.INBOUND,
                    "channel": Channel.WEB,
                    "text": f"我是韩梅梅，电话13911112222，第{i}条",
                    "at": now - timedelta(seconds=MESSAGES - i),
                }
                for i in range(MESSAGES)
            ],
        )
        request = DeletionRequest(
            candidate_id=candidate.id,
            state=DeletionState.PENDING,
            requested_by="user:1",
            via="console",
            requested_at=now - timedelta(days=8),
            confirmed_at=now - timedelta(days=8),
            erase_after=now - timedelta(days=1),
            subject={},
            progress={},
        )
        session.add(request)
        await session.flush()
        return candidate.id, request.id


async def erased_messages(runtime: Runtime, candidate_id: int) -> int:
    async with runtime.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ChatMessage)
                .where(ChatMessage.candidate_id == candidate_id, ChatMessage.text.is_(None))
            )
            or 0
        )


async def test_an_erasure_killed_half_way_is_hidden_and_finishes_on_restart(
    world: World,
) -> None:
    runtime = world.runtime
    candidate_id, request_id = await a_talkative_candidate_due_for_erasure(world)
    # One row per transaction, so the process is surely killed between two commits.
    process = start(runtime, "privacy", "erase", CANDOR_PRIVACY_ERASURE_BATCH_ROWS="1")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if await erased_messages(runtime, candidate_id) >= 10:
                break
            await asyncio.sleep(0.02)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.kill()  # SIGKILL: no clean-up of any kind
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)

    half = await erased_messages(runtime, candidate_id)
    assert 10 <= half < MESSAGES
    async with runtime.sessionmaker() as session:
        request = await session.get_one(DeletionRequest, request_id)
        assert request.state is DeletionState.ERASING
        # Half way, the candidate is hidden and nothing names or finds them any more.
        assert await is_hidden(session, candidate_id)
        candidate = await session.get_one(Candidate, candidate_id)
        assert (candidate.name, candidate.mobile, candidate.email) == ("[erased]", None, None)
        assert await session.scalar(
            select(func.count()).select_from(ChatIdentity).where(
                ChatIdentity.candidate_id == candidate_id
            )
        ) == 0  # fmt: skip

    finished = candor(runtime, "privacy", "erase")

    assert finished.returncode == 0, finished.stderr
    assert "erased 1 candidates" in finished.stdout
    assert await erased_messages(runtime, candidate_id) == MESSAGES
    assert await database_mentions(runtime, ("韩梅梅", "13911112222", "AP-2026-000001")) == []
    async with runtime.sessionmaker() as session:
        request = await session.get_one(DeletionRequest, request_id)
        assert request.state is DeletionState.DONE
    # A run with nothing due changes nothing.
    assert "erased 0 candidates" in candor(runtime, "privacy", "erase").stdout


async def test_purge_dry_run_reports_then_purges_with_an_audit_row(world: World) -> None:
    runtime = world.runtime
    await world.applicant(1)
    application = await world.application(1)
    now = utcnow()
    async with runtime.transaction() as session:
        session.add_all(
            BindingToken(
                token_hash=f"{i:064d}",
                application_id=application.id,
                channel=Channel.WEB,
                created_at=now - timedelta(days=40),
                created_by="user:1",
                expires_at=now - timedelta(days=10) if i < 3 else now + timedelta(days=5),
            )
            for i in range(5)
        )

    dry = candor(runtime, "privacy", "purge", "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert "binding_tokens: would purge 3 rows" in dry.stdout
    assert "unhired_chats: would purge 0 rows" in dry.stdout
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(BindingToken)) == 5
        purges = select(func.count()).where(AuditEntry.action == "privacy.purged")
        assert await session.scalar(purges) == 0

    purged = candor(runtime, "privacy", "purge")

    assert purged.returncode == 0, purged.stderr
    assert "binding_tokens: purged 3 rows" in purged.stdout
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(BindingToken)) == 2
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "privacy.purged")
        )
    assert audit is not None
    assert audit.actor == "cli"
    assert audit.details["rows"]["binding_tokens"] == 3
    # Nothing left to purge: the next report is all zeros.
    assert "total: would purge 0 rows" in candor(runtime, "privacy", "purge", "--dry-run").stdout
