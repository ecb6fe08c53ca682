from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from candor.settings import (
    DEFAULT_SECRET_KEY,
    DialogueEngine,
    InsecureSettingsError,
    Settings,
)

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_KEYS: dict[str, Any] = {
    "encryption_keys": "k1:" + base64.b64encode(b"k" * 32).decode(),
    "blind_index_key": base64.b64encode(b"b" * 32).decode(),
}


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in [n for n in __import__("os").environ if n.startswith("CANDOR_")]:
        monkeypatch.delenv(name)

    settings = Settings()

    assert settings.is_embedded
    assert settings.sqlite_path() == Path("var/candor.sqlite3")
    assert settings.dialogue_engine is DialogueEngine.EMBEDDED
    assert settings.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
    assert DEFAULT_SECRET_KEY not in repr(settings)


def test_environment_variables_switch_to_scaled_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDOR_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/candor")
    monkeypatch.setenv("CANDOR_REDIS_URL", "redis://127.0.0.1:6379/0")

    settings = Settings()

    assert not settings.uses_sqlite
    assert not settings.uses_embedded_redis
    assert settings.sqlite_path() is None


@pytest.mark.parametrize("env", ["production", "test"])
def test_default_secret_is_refused_outside_development(env: str) -> None:
    with pytest.raises(
        ValidationError, match="CANDOR_SECRET_KEY is the development default"
    ) as info:
        Settings(env=env)
    assert isinstance(info.value.errors()[0]["ctx"]["error"], InsecureSettingsError)


def test_short_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(env="production", secret_key="short", **PRODUCTION_KEYS)


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(env="production", secret_key="x" * 40, **PRODUCTION_KEYS)
    assert settings.env == "production"


def test_env_example_documents_every_setting() -> None:
    documented = set(
        re.findall(
            r"^#?\s*(CANDOR_[A-Z_]+)=", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M
        )
    )
    expected = {f"CANDOR_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_sms_callbacks_take_a_long_token_and_an_address_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CANDOR_SMS_CALLBACK_TOKEN", "x" * 16)
    monkeypatch.setenv("CANDOR_SMS_CALLBACK_ALLOWED_IPS", "10.0.0.0/8, 203.0.113.7")

    settings = Settings()

    assert [str(n) for n in settings.sms_callback_allowed_ips] == ["10.0.0.0/8", "203.0.113.7/32"]
    with pytest.raises(ValidationError):
        Settings(sms_callback_token="too-short")


def test_a_blank_optional_secret_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDOR_METRICS_TOKEN", "")
    monkeypatch.setenv("CANDOR_SMS_CALLBACK_TOKEN", "  ")

    settings = Settings(_env_file=None)

    assert settings.metrics_token is None
    assert settings.sms_callback_token is None
    # A value that is set is still held to its length.
    monkeypatch.setenv("CANDOR_METRICS_TOKEN", "short")
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(_env_file=None)


def test_wecom_is_on_only_with_all_five_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CORP_ID", "AGENT_ID", "SECRET", "TOKEN", "ENCODING_AES_KEY"):
        monkeypatch.setenv(f"CANDOR_WECOM_{name}", "")  # as an env file's blank line leaves it
    blank = Settings(_env_file=None)
    assert (blank.wecom_agent_id, blank.wecom_secret, blank.wecom_enabled) == (None, None, False)

    monkeypatch.setenv("CANDOR_WECOM_CORP_ID", "ww1")
    monkeypatch.setenv("CANDOR_WECOM_AGENT_ID", "1000002")
    monkeypatch.setenv("CANDOR_WECOM_SECRET", "s")
    monkeypatch.setenv("CANDOR_WECOM_TOKEN", "t")
    assert not Settings(_env_file=None).wecom_enabled
    monkeypatch.setenv("CANDOR_WECOM_ENCODING_AES_KEY", "k" * 43)
    configured = Settings(_env_file=None)
    assert configured.wecom_enabled
    assert configured.wecom_agent_id == 1000002
