"""What reaches the database: ciphertext only, found again by blind index, refused when
altered. Through the real entry points (the ATS intake, the chat transcript, the SMS opt-out,
the binding code's delivery)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from candor.ats.intake import accept_event
from candor.ats.schemas import ATS_EVENT
from candor.chat import transcript
from candor.chat.consent import stop_sms
from candor.crypto.fields import CiphertextRejectedError, UnknownEncryptionKeyError
from candor.delivery.direct import queue_direct
from candor.models import Candidate, ChatIdentity, Interview
from candor.models.enums import Channel, Locale
from candor.outreach.sms_callbacks import mobile_forms
from candor.runtime import Runtime
from candor.settings import Settings
from tests.conftest import TEST_SECRET, _reset_scaled_state
from tests.factories import application_created, make_team

NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
OPENID = "oRvZ6wAbCdEfGhIjKlMnOpQrStU"
REPORT = "候选人在系统设计题中表现稳健"


async def ingest(runtime: Runtime, n: int = 1, **candidate: Any) -> None:
    async with runtime.transaction() as session:
        if n == 1:
            await make_team(session, external_id="team-a")
        raw = application_created(
            event_id=f"c-{n}", application=f"app-{n}", candidate=f"cand-{n}", **candidate
        )
        await accept_event(session, ATS_EVENT.validate_python(raw))
        await accept_event(
            session,
            ATS_EVENT.validate_python(
                {
                    "event_id": f"done-{n}",
                    "type": "interview_completed",
                    "data": {
                        "application_external_id": f"app-{n}",
                        "interview_external_id": f"iv-{n}",
                        "kind": "ai_video",
                        "completed_at": "2026-03-04T10:00:00+08:00",
                        "score": 80,
                        "report": {
                            "summary": REPORT,
                            "strengths": ["沟通清晰"],
                            "improvements": ["测试意识"],
                        },
                    },
                }
            ),
        )


async def raw_rows(runtime: Runtime, sql: str) -> list[tuple[Any, ...]]:
    async with runtime.engine.connect() as connection:
        return [tuple(row) for row in (await connection.execute(text(sql))).all()]


async def test_the_database_holds_no_plaintext_phone_email_openid_or_report(
    runtime: Runtime,
) -> None:
    await ingest(runtime, mobile="+86 139-0000-1234", email="Han.Meimei@Example.com")
    async with runtime.transaction() as session:
        thread = await transcript.open_thread(session, Channel.WECHAT, OPENID)
        candidate = await session.scalar(select(Candidate))
        assert candidate is not None
        thread.identity.candidate_id = candidate.id
        queue_direct(
            session,
            channel=Channel.EMAIL,
            recipient="han.meimei@example.com",
            subject="验证码",
            body="123456",
            locale=Locale.ZH_CN,
            now=NOW,
        )

    stored = await raw_rows(
        runtime,
        "SELECT mobile, email, mobile_index, email_index FROM candidates "
        "UNION ALL SELECT external_user_id, external_user_id_index, NULL, NULL "
        "FROM chat_identities "
        "UNION ALL SELECT recipient, NULL, NULL, NULL FROM chat_deliveries "
        "UNION ALL SELECT report_summary, next_steps, CAST(strengths AS TEXT), "
        "CAST(improvements AS TEXT) FROM interviews",
    )
    everything = " ".join(str(value) for row in stored for value in row)
    for plaintext in ("1390000", "0000-1234", "meimei", "Meimei", OPENID, REPORT, "沟通清晰"):
        assert plaintext not in everything
    assert everything.count("enc:v1:dev:") == 7  # mobile, email, openid, recipient, 3 report

    async with runtime.sessionmaker() as session:
        candidate = await session.scalar(select(Candidate))
        interview = await session.scalar(select(Interview))
    assert candidate is not None
    assert interview is not None
    assert candidate.mobile == "+86 139-0000-1234"
    assert candidate.email == "han.meimei@example.com"
    assert (interview.report_summary, interview.strengths) == (REPORT, ["沟通清晰"])
    assert interview.improvements == ["测试意识"]


async def test_exact_lookups_find_sealed_values_by_blind_index(runtime: Runtime) -> None:
    await ingest(runtime, 1, mobile="+86 139-0000-1234", email="han@example.com")
    await ingest(runtime, 2, mobile="13700001111", email="li@example.com")
    async with runtime.transaction() as session:
        first = await transcript.open_thread(session, Channel.TELEGRAM, "777001")
    async with runtime.transaction() as session:
        again = await transcript.find_thread(session, Channel.TELEGRAM, "777001")
        by_email = await session.scalar(
            select(Candidate.external_id).where(Candidate.email == "HAN@example.com")
        )
        by_identity = await session.scalar(
            select(ChatIdentity.id).where(
                ChatIdentity.channel == Channel.TELEGRAM,
                ChatIdentity.external_user_id == "777001",
            )
        )
        other_channel = await transcript.find_thread(session, Channel.WECHAT, "777001")
        # The SMS opt-out finds the number however the ATS wrote it.
        opted_out = await stop_sms(
            session, mobile_forms("86", "13900001234"), provider="aliyun", now=NOW
        )

    assert again is not None
    assert again.identity.id == first.identity.id == by_identity
    assert other_channel is None
    assert by_email == "cand-1"
    async with runtime.sessionmaker() as session:
        assert (
            await session.scalar(select(Candidate.external_id).where(Candidate.id.in_(opted_out)))
            == "cand-1"
        )
        assert len(opted_out) == 1


async def test_one_chat_account_per_channel_is_kept_by_its_blind_index(runtime: Runtime) -> None:
    from sqlalchemy.exc import IntegrityError

    async with runtime.transaction() as session:
        session.add(ChatIdentity(channel=Channel.WECHAT, external_user_id=OPENID))
    with pytest.raises(IntegrityError):
        async with runtime.transaction() as session:
            session.add(ChatIdentity(channel=Channel.WECHAT, external_user_id=OPENID))


async def test_an_altered_value_in_the_database_is_refused_not_misread(runtime: Runtime) -> None:
    await ingest(runtime, email="han@example.com")
    [(sealed,)] = await raw_rows(runtime, "SELECT email FROM candidates")
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    async with runtime.engine.begin() as connection:
        await connection.execute(text("UPDATE candidates SET email = :v"), {"v": flipped})

    async with runtime.sessionmaker() as session:
        with pytest.raises(CiphertextRejectedError):
            await session.scalar(select(Candidate.email))


async def test_a_value_moved_to_another_column_is_refused(runtime: Runtime) -> None:
    await ingest(runtime, email="han@example.com")
    async with runtime.transaction() as session:
        await transcript.open_thread(session, Channel.WEB, "web-1")
    async with runtime.engine.begin() as connection:
        await connection.execute(
            text("UPDATE chat_identities SET external_user_id = (SELECT email FROM candidates)")
        )

    async with runtime.sessionmaker() as session:
        with pytest.raises(CiphertextRejectedError, match="another column"):
            await session.scalar(select(ChatIdentity.external_user_id))


async def test_a_value_under_a_key_not_configured_is_a_clear_error(runtime: Runtime) -> None:
    await ingest(runtime, email="han@example.com")
    async with runtime.engine.begin() as connection:
        await connection.execute(
            text("UPDATE candidates SET email = REPLACE(email, 'enc:v1:dev:', 'enc:v1:gone:')")
        )

    async with runtime.sessionmaker() as session:
        with pytest.raises(UnknownEncryptionKeyError, match="'gone'") as refused:
            await session.scalar(select(Candidate.email))
    assert refused.value.code == "encryption_key_unknown"


async def test_with_encryption_off_values_are_written_plain_and_still_found(
    settings: Settings,
) -> None:
    plain = Settings(
        env="test",
        secret_key=TEST_SECRET,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        encryption_at_rest=False,
    )
    runtime = Runtime.create(plain)
    try:
        if not settings.uses_sqlite:
            await _reset_scaled_state(runtime)
        await ingest(runtime, email="han@example.com")
        assert await raw_rows(runtime, "SELECT email FROM candidates") == [("han@example.com",)]
        async with runtime.sessionmaker() as session:
            found = await session.scalar(
                select(Candidate.external_id).where(Candidate.email == "han@example.com")
            )
        assert found == "cand-1"
    finally:
        await runtime.aclose()
