"""Lookups of sealed values: what they match, and what they send to the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, select, text

from candor.chat import transcript
from candor.chat.consent import stop_sms
from candor.crypto.lookups import has_mobile, stored
from candor.models import Candidate, ChatIdentity
from candor.models.enums import Channel
from candor.outreach.sms_callbacks import mobile_forms
from candor.runtime import Runtime
from candor.settings import Settings
from tests.candor.crypto.test_reencrypt import NOW
from tests.conftest import TEST_SECRET, _reset_scaled_state

OPENID = "oLegacyOpenId123"
EMAIL = "han@example.com"
MOBILE = "13900001234"


async def add_legacy_rows(runtime: Runtime) -> None:
    """Rows as the release before encryption wrote them: plaintext, no blind index."""
    async with runtime.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO candidates (id, external_id, name, mobile, email, locale, "
                "consent_contact, consent_talent_pool, consent_wechat_subscription, "
                "preferred_channels, created_at, updated_at) VALUES (1, 'cand-1', 'H', "
                ":mobile, :email, 'zh-CN', :yes, :no, :no, '[]', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"
            ),
            {"yes": True, "no": False, "mobile": MOBILE, "email": EMAIL},
        )
        await connection.execute(
            text(
                "INSERT INTO chat_identities (channel, external_user_id, created_at, "
                "updated_at) VALUES ('wechat', :openid, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"openid": OPENID},
        )
        await connection.execute(
            text(
                "INSERT INTO candidates (id, external_id, name, locale, consent_contact, "
                "consent_talent_pool, consent_wechat_subscription, preferred_channels, "
                "created_at, updated_at) VALUES (2, 'cand-2', 'no contact', 'zh-CN', :yes, "
                ":no, :no, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"yes": True, "no": False},
        )


@pytest.fixture(params=[True, False], ids=["plaintext-lookups", "index-only"])
async def legacy(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(
        Settings(
            env="test",
            secret_key=TEST_SECRET,
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            encryption_plaintext_lookups=request.param,
        )
    )
    if not settings.uses_sqlite:
        await _reset_scaled_state(runtime)
    await add_legacy_rows(runtime)
    try:
        yield runtime
    finally:
        await runtime.aclose()


def parameters_sent(runtime: Runtime) -> list[Any]:
    sent: list[Any] = []

    @event.listens_for(runtime.engine.sync_engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, _sql: str, parameters: Any, *_: Any) -> None:
        sent.append(parameters)

    return sent


async def test_legacy_rows_are_found_by_plaintext_only_while_that_is_on(legacy: Runtime) -> None:
    plaintext_on = legacy.settings.encryption_plaintext_lookups
    sent = parameters_sent(legacy)

    async with legacy.transaction() as session:
        by_email = await session.scalar(select(Candidate.id).where(Candidate.email == EMAIL))
        await transcript.open_thread(session, Channel.WECHAT, OPENID)
        legacy_forms = stored(Candidate.mobile.expression) == MOBILE
        by_mobile = await session.scalar(
            select(Candidate.id).where(has_mobile(MOBILE, legacy_forms))
        )
        thread_found = len((await session.scalars(select(ChatIdentity.id))).all()) == 1
        opted_out = await stop_sms(session, mobile_forms("86", MOBILE), provider="aliyun", now=NOW)

    found = (by_email, thread_found, by_mobile, opted_out)
    if plaintext_on:
        assert found == (1, True, 1, [1])
    else:
        assert found == (None, False, None, [])
        everything = repr(sent)
        for plaintext in (EMAIL, OPENID, MOBILE):
            assert plaintext not in everything


async def test_a_number_without_digits_matches_nobody(legacy: Runtime) -> None:
    async with legacy.sessionmaker() as session:
        found = (await session.scalars(select(Candidate.id).where(has_mobile("n/a")))).all()
        by_column = (
            await session.scalars(select(Candidate.id).where(Candidate.mobile == "n/a"))
        ).all()

    assert (found, by_column) == ([], [])
