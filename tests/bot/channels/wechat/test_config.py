from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from bot.channels.wechat.config import WeChatConfig, WeChatConfigError
from candor.settings import Settings, WeChatMessageMode
from tests.conftest import TEST_SECRET
from tests.wechat_support import AES_KEY, PREVIOUS_AES_KEY


def _settings(**wechat: object) -> Settings:
    return Settings(env="test", secret_key=TEST_SECRET, **wechat)  # type: ignore[arg-type]


def test_unset_means_not_configured() -> None:
    assert WeChatConfig.from_settings(_settings()) is None


def test_token_id_and_secret_configure_plaintext_mode() -> None:
    config = WeChatConfig.from_settings(
        _settings(
            wechat_token="t",
            wechat_app_id="wx1",
            wechat_app_secret="s",
            wechat_api_base="http://127.0.0.1:1/",
        )
    )

    assert config is not None
    assert config.mode is WeChatMessageMode.PLAINTEXT
    assert not config.accepts_encrypted
    assert config.accepts_plaintext
    assert config.api_base == "http://127.0.0.1:1"
    assert config.reply_budget_seconds == 3.5


def test_keys_are_kept_current_first() -> None:
    config = WeChatConfig.from_settings(
        _settings(
            wechat_token="t",
            wechat_app_id="wx1",
            wechat_app_secret="s",
            wechat_aes_key=AES_KEY,
            wechat_previous_aes_key=PREVIOUS_AES_KEY,
        )
    )

    assert config is not None
    assert config.aes_keys == (AES_KEY, PREVIOUS_AES_KEY)


CONFIGURED = {"wechat_token": "t", "wechat_app_id": "wx1", "wechat_app_secret": "s"}


def test_a_key_without_a_chosen_mode_means_safe_mode_encrypted_only() -> None:
    config = WeChatConfig.from_settings(_settings(**CONFIGURED, wechat_aes_key=AES_KEY))

    assert config is not None
    assert config.mode is WeChatMessageMode.SAFE
    assert config.accepts_encrypted
    assert not config.accepts_plaintext


def test_compatible_mode_is_what_was_chosen() -> None:
    config = WeChatConfig.from_settings(
        _settings(**CONFIGURED, wechat_aes_key=AES_KEY, wechat_message_mode="compatible")
    )

    assert config is not None
    assert config.mode is WeChatMessageMode.COMPATIBLE
    assert config.accepts_encrypted
    assert config.accepts_plaintext


def test_the_mode_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDOR_WECHAT_MESSAGE_MODE", "compatible")

    assert _settings().wechat_message_mode is WeChatMessageMode.COMPATIBLE


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValidationError):
        _settings(**CONFIGURED, wechat_message_mode="lenient")


@pytest.mark.parametrize(
    ("wechat", "message"),
    [
        ({"wechat_token": "t"}, "together"),
        ({"wechat_token": "t", "wechat_app_id": "wx1"}, "APP_SECRET"),
        (
            {
                "wechat_token": "t",
                "wechat_app_id": "wx1",
                "wechat_app_secret": "s",
                "wechat_aes_key": "too-short",
            },
            "43-character",
        ),
        (
            {
                "wechat_token": "t",
                "wechat_app_id": "wx1",
                "wechat_app_secret": "s",
                "wechat_aes_key": "!" * 43,
            },
            "43-character",
        ),
        (
            {
                "wechat_token": "t",
                "wechat_app_id": "wx1",
                "wechat_app_secret": "s",
                "wechat_previous_aes_key": AES_KEY,
            },
            "needs the current",
        ),
        ({**CONFIGURED, "wechat_message_mode": "safe"}, "needs CANDOR_WECHAT_AES_KEY"),
        ({**CONFIGURED, "wechat_message_mode": "compatible"}, "needs CANDOR_WECHAT_AES_KEY"),
        (
            {**CONFIGURED, "wechat_message_mode": "plaintext", "wechat_aes_key": AES_KEY},
            "takes no EncodingAESKey",
        ),
    ],
)
def test_half_or_wrong_configuration_is_refused(wechat: dict[str, object], message: str) -> None:
    with pytest.raises(WeChatConfigError, match=message):
        WeChatConfig.from_settings(_settings(**wechat))


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = _settings(wechat_app_secret=SecretStr("app-secret-value"), wechat_aes_key=AES_KEY)

    assert "app-secret-value" not in repr(settings)
    assert AES_KEY not in repr(settings)
