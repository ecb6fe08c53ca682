"""WeChat settings, checked once when the channel is built."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from pydantic import SecretStr

from candor.settings import Settings, WeChatMessageMode

AES_KEY_LENGTH = 43  # EncodingAESKey: 32 bytes in base64 without its trailing "="


class WeChatConfigError(ValueError):
    """The WeChat settings cannot work as given."""


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    token: str
    app_id: str
    app_secret: str
    aes_keys: tuple[str, ...]  # current first, then the one before the last rotation
    api_base: str
    reply_budget_seconds: float
    mode: WeChatMessageMode

    @property
    def accepts_encrypted(self) -> bool:
        return self.mode is not WeChatMessageMode.PLAINTEXT

    @property
    def accepts_plaintext(self) -> bool:
        # In safe mode only msg_signature authenticates a message: `signature` covers no
        # body, so a plaintext body under a valid (e.g. logged) signature would be forged.
        return self.mode is not WeChatMessageMode.SAFE

    @classmethod
    def from_settings(cls, settings: Settings) -> WeChatConfig | None:
        """None when WeChat is not configured (token, app id and secret all unset)."""
        parts = (settings.wechat_token, settings.wechat_app_id, settings.wechat_app_secret)
        if all(part is None for part in parts):
            return None
        if settings.wechat_token is None or settings.wechat_app_id is None:
            raise WeChatConfigError("set CANDOR_WECHAT_TOKEN and CANDOR_WECHAT_APP_ID together")
        if settings.wechat_app_secret is None:
            raise WeChatConfigError("set CANDOR_WECHAT_APP_SECRET with CANDOR_WECHAT_APP_ID")
        if settings.wechat_aes_key is None and settings.wechat_previous_aes_key is not None:
            raise WeChatConfigError(
                "CANDOR_WECHAT_PREVIOUS_AES_KEY needs the current CANDOR_WECHAT_AES_KEY"
            )
        keys = tuple(
            _checked_aes_key(name, key)
            for name, key in (
                ("CANDOR_WECHAT_AES_KEY", settings.wechat_aes_key),
                ("CANDOR_WECHAT_PREVIOUS_AES_KEY", settings.wechat_previous_aes_key),
            )
            if key is not None
        )
        return cls(
            mode=_message_mode(settings.wechat_message_mode, has_key=bool(keys)),
            token=settings.wechat_token,
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret.get_secret_value(),
            aes_keys=keys,
            api_base=settings.wechat_api_base.rstrip("/"),
            reply_budget_seconds=settings.wechat_reply_budget_seconds,
        )


def _message_mode(chosen: WeChatMessageMode | None, *, has_key: bool) -> WeChatMessageMode:
    """The chosen mode, checked against the key; unset: safe with a key, plaintext without.

    Compatible mode (plaintext accepted next to ciphertext) is never derived: it weakens a
    deployment that has a key, so it must be asked for by name.
    """
    if chosen is None:
        return WeChatMessageMode.SAFE if has_key else WeChatMessageMode.PLAINTEXT
    if chosen is WeChatMessageMode.PLAINTEXT and has_key:
        raise WeChatConfigError(
            "CANDOR_WECHAT_MESSAGE_MODE=plaintext takes no EncodingAESKey: unset "
            "CANDOR_WECHAT_AES_KEY, or choose compatible or safe"
        )
    if chosen is not WeChatMessageMode.PLAINTEXT and not has_key:
        raise WeChatConfigError(
            f"CANDOR_WECHAT_MESSAGE_MODE={chosen.value} needs CANDOR_WECHAT_AES_KEY"
        )
    return chosen


def _checked_aes_key(name: str, key: SecretStr) -> str:
    value = key.get_secret_value()
    try:
        decoded = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(value) != AES_KEY_LENGTH or len(decoded) != 32:
        raise WeChatConfigError(f"{name} must be the 43-character EncodingAESKey")
    return value
