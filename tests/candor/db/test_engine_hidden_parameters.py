"""In production a failed statement's error and log never show its parameters (a phone or
an openid compared as plaintext, a value the re-encryption pass guards on)."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from candor.db.engine import create_engine
from candor.settings import Settings
from tests.conftest import TEST_SECRET

SECRET_VALUE = "oProductionOpenId-0042"


@pytest.mark.parametrize("env", ["production", "test"])
async def test_production_errors_carry_no_parameters(settings: Settings, env: str) -> None:
    configured = Settings(
        env=env,
        secret_key=TEST_SECRET * 2,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        encryption_keys="k1:" + base64.b64encode(b"k" * 32).decode(),
        blind_index_key=base64.b64encode(b"b" * 32).decode(),
    )
    engine = create_engine(configured)
    try:
        async with engine.connect() as connection:
            with pytest.raises(IntegrityError) as failed:
                await connection.execute(
                    text("INSERT INTO teams (id, external_id, name) VALUES (NULL, :x, NULL)"),
                    {"x": SECRET_VALUE},
                )
    finally:
        await engine.dispose()

    assert (SECRET_VALUE in str(failed.value)) is (env != "production")
