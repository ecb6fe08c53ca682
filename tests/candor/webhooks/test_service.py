"""The webhook service's policy, read once from the settings for the API and the console."""

from __future__ import annotations

from datetime import timedelta

from candor.settings import Settings
from candor.webhooks.service import WebhookPolicy
from tests.conftest import TEST_SECRET


def test_the_policy_is_read_from_the_settings() -> None:
    settings = Settings(
        env="test",
        secret_key=TEST_SECRET,
        database_url="sqlite+aiosqlite://",
        webhooks_allow_private_networks=True,
        webhooks_secret_grace_hours=6,
    )

    assert WebhookPolicy.from_settings(settings) == WebhookPolicy(
        allow_private_networks=True, secret_grace=timedelta(hours=6)
    )
