"""Typed settings, read from `CANDOR_*` environment variables and an optional `.env` file.

Nothing reads the environment at import time: `get_settings()` builds the settings on first
use, so tests and the CLI can set variables before anything is constructed.
"""

from __future__ import annotations

import ipaddress
from datetime import time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from candor.crypto.keys import Keyring, KeyringError, development_keyring, parse_keyring

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - refused outside development
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/candor.sqlite3"
EMBEDDED_REDIS_URL = "memory://"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class DialogueEngine(StrEnum):
    EMBEDDED = "embedded"
    RASA = "rasa"


class WeChatMessageMode(StrEnum):
    """The message encryption mode chosen in the Official Account admin (消息加解密方式)."""

    PLAINTEXT = "plaintext"  # 明文: plaintext messages only
    COMPATIBLE = "compatible"  # 兼容: plaintext and encrypted messages
    SAFE = "safe"  # 安全: encrypted messages only


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class SmsProvider(StrEnum):
    ALIYUN = "aliyun"  # Alibaba Cloud SMS (dysmsapi 2017-05-25)
    TENCENT = "tencent"  # Tencent Cloud SMS (sms 2021-01-11)


class InsecureSettingsError(ValueError):
    """Raised when a non-development environment would run with a default secret."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CANDOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="development, test or production. Default secrets are refused outside "
        "development.",
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy async URL. SQLite (aiosqlite) by default; "
        "postgresql+asyncpg://user@host/db in scaled mode.",
    )
    database_pool_size: int = Field(
        default=10, ge=1, description="Connections per process (PostgreSQL only)."
    )
    database_echo: bool = Field(default=False, description="Log every SQL statement.")
    redis_url: str = Field(
        default=EMBEDDED_REDIS_URL,
        description="redis://host:port/db in scaled mode; memory:// is the in-process "
        "emulation (fakeredis) for the embedded default.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET_KEY),
        description="Signs sessions and binding tokens. Must be set outside development.",
    )
    dialogue_engine: DialogueEngine = Field(
        default=DialogueEngine.EMBEDDED, description="embedded (in-process) or rasa (HTTP)."
    )
    nlu_cache_dir: Path = Field(
        default=Path("var/nlu"),
        description="Where the embedded NLU keeps trained models (one per training-data "
        "fingerprint) and jieba's dictionary cache.",
    )
    nlu_fallback_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Below this intent confidence the embedded engine asks a clarifying "
        "question; unset means config.yml's FallbackClassifier threshold.",
    )
    nlu_eval_dir: Path | None = Field(
        default=None,
        description="The blind evaluation sets (*.jsonl of {text, intent}) a reviewed NLU "
        "model must not regress on before the console accepts it; unset: tests/nlu/eval.",
    )
    rasa_url: str = Field(
        default="http://127.0.0.1:5005",
        description="Base URL of the Rasa server (engine rasa, `candor nlu evaluate "
        "--engine rasa`).",
    )
    rasa_home: Path = Field(
        default=Path("var/rasa"),
        description="Where `candor rasa setup` creates Rasa's own venv and `candor rasa "
        "train` writes its model.",
    )
    rasa_python: str | None = Field(
        default=None,
        description="A Python 3.8-3.10 for Rasa's venv; found via pyenv or PATH if unset.",
    )
    company_name: str = Field(
        default="Candor Demo Co.", description="Company name used in candidate messages."
    )
    promise_working_days: int = Field(
        default=5,
        ge=1,
        le=30,
        description="Working days after the interview within which "
        "every candidate hears back (China's calendar).",
    )
    quiet_hours_start: time = Field(
        default=time(21, 0),
        description="No candidate messages from this local time (Asia/Shanghai)...",
    )
    quiet_hours_end: time = Field(
        default=time(8, 0), description="...until this local time; deferred messages go out then."
    )
    delivery_webhook_url: str | None = Field(
        default=None,
        description="POST every outbound message to this URL as JSON (a "
        "company gateway or a test double) instead of the built-in channels.",
    )
    dispatcher_batch_size: int = Field(
        default=100, ge=1, le=1000, description="Outbox rows a worker claims at a time."
    )
    dispatcher_concurrency: int = Field(
        default=32, ge=1, le=512, description="Deliveries a worker sends at once."
    )
    dispatcher_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Tries on one channel before falling back."
    )
    webhooks_allow_private_networks: bool = Field(
        default=False,
        description="Let webhook endpoints be loopback, private, link-local or other "
        "non-public addresses (an on-premise ATS). Off: such URLs are refused when saved "
        "and when sent to.",
    )
    webhooks_secret_grace_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="Hours a rotated webhook secret keeps signing beside the new one.",
    )
    webhooks_disable_after_hours: float = Field(
        default=72,
        gt=0,
        le=24 * 30,
        description="Hours an endpoint may fail every attempt before Candor stops sending "
        "to it and tells the admins.",
    )
    webhooks_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=60,
        description="How long one webhook attempt may take, from resolving the host to "
        "reading the answer (the claim lease is kept at least three times longer).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where candidates reach this server; web-chat binding links start here.",
    )
    idempotency_key_retention_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days an HR POST's Idempotency-Key and its stored answer are kept: a "
        "retry with the same key after that runs the request again.",
    )
    privacy_deletion_cooling_off_days: int = Field(
        default=7,
        ge=0,
        le=90,
        description="Days a confirmed deletion request waits before the candidate's data is "
        "erased; the candidate (or an admin) may cancel it until then.",
    )
    privacy_deletion_confirm_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="Minutes a candidate has to confirm a deletion asked for in chat.",
    )
    privacy_erasure_batch_rows: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Rows one erasure step changes in one transaction: a candidate's erasure "
        "never holds the database's writer for long.",
    )
    retention_unhired_candidate_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Days after their applications last changed (none active, never hired) "
        "that a candidate's personal data is kept; then the purge opens a deletion request for "
        "them, which waits out the cooling-off period like any other (admins may hold it).",
    )
    retention_unhired_chat_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        description="Days after their last result message (or, with none sent, their "
        "applications' last change) that the chat transcripts of candidates who were not "
        "hired are kept (the texts are erased, the counts stay); also how long messages "
        "written while unbound, a quiet conversation's dialogue memory and misread messages "
        "not approved for training are kept.",
    )
    retention_binding_token_days: int = Field(
        default=0,
        ge=0,
        le=365,
        description="Days a used, revoked or expired binding token is kept (0: at once).",
    )
    retention_chat_delivery_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days the text and address of a sent or failed direct chat delivery "
        "(HR replies, binding codes) are kept.",
    )
    retention_audit_detail_days: int = Field(
        default=730,
        ge=30,
        le=3650,
        description="Days the before/after/details of an audit row are kept; who did what "
        "to which object, and when, stays.",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="The largest request body accepted; a larger one is refused with 413 "
        "before it is held in memory.",
    )
    binding_token_days: int = Field(
        default=30, ge=1, le=30, description="Days a binding link stays valid (WeChat's QR max)."
    )
    privacy_notice_file: Path | None = Field(
        default=None,
        description="The privacy notice shown in chat after binding (YAML: version, zh-CN, "
        "en); unset: the shipped data/privacy_notice.yml. Change `version` when the text "
        "changes, so every candidate is shown it once more.",
    )
    data_export_link_hours: int = Field(
        default=24,
        ge=1,
        le=168,
        description="Hours a candidate's data-export download link stays valid (it works once).",
    )
    access_audit_window_minutes: int = Field(
        default=10,
        ge=0,
        le=1440,
        description="An HR user's repeated reads of one candidate's transcript or page within "
        "this many minutes write one `transcript.read` / `candidate.viewed` audit row, not "
        "one per page load; 0 audits every read.",
    )
    telegram_bot_token: SecretStr | None = Field(
        default=None, description="The Telegram bot's token; unset disables Telegram."
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Checked against X-Telegram-Bot-Api-Secret-Token on /telegram/webhook.",
    )
    telegram_api_base: str = Field(
        default="https://api.telegram.org",
        description="Bot API base URL (a local fake Bot API server in tests).",
    )
    telegram_bot_username: str | None = Field(
        default=None, description="The bot's @username, for t.me/<bot>?start=<token> links."
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for candidate e-mail and HR notifications."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if required.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(
        default="Candor <noreply@localhost>", description="From address of every e-mail."
    )
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    sms_provider: SmsProvider | None = Field(
        default=None,
        description="aliyun or tencent; with the key and the sign name it turns SMS on.",
    )
    sms_access_key_id: str | None = Field(
        default=None, description="Alibaba Cloud AccessKey ID, or Tencent Cloud SecretId."
    )
    sms_access_key_secret: SecretStr | None = Field(
        default=None, description="Alibaba Cloud AccessKey secret, or Tencent Cloud SecretKey."
    )
    sms_sdk_app_id: str | None = Field(
        default=None, description="Tencent Cloud SMS SdkAppId (Tencent only)."
    )
    sms_region: str | None = Field(
        default=None,
        description="The provider's region; unset: cn-hangzhou (Alibaba), ap-guangzhou (Tencent).",
    )
    sms_endpoint: str | None = Field(
        default=None,
        description="The provider's API origin instead of its public one, e.g. "
        "http://127.0.0.1:8911 for the local fake (candor.devtools.fake_sms) or an on-premise "
        "gateway; unset: the SDK's endpoint for the region.",
    )
    sms_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one send may take before it is retried."
    )
    sms_concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Sends in flight at once per process (the SDKs block: each takes a thread).",
    )
    sms_per_number_per_minute: int = Field(
        default=1, ge=1, le=100, description="Texts to one number within a minute, at most."
    )
    sms_per_number_per_hour: int = Field(
        default=3, ge=1, le=100, description="Texts to one number within an hour, at most."
    )
    sms_per_number_per_day: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Texts to one number in a China-time day, at most (providers allow 10).",
    )
    sms_quiet_hours_start: time = Field(
        default=time(21, 0),
        description="No text is sent from this local time (Asia/Shanghai)...",
    )
    sms_quiet_hours_end: time = Field(
        default=time(8, 0), description="...until this time; texts due at night wait for it."
    )
    wechat_token: str | None = Field(
        default=None,
        description="WeChat Official Account callback Token (signs every callback). With "
        "app id and secret it turns the WeChat channel on.",
    )
    wechat_app_id: str | None = Field(default=None, description="WeChat Official Account AppID.")
    wechat_app_secret: SecretStr | None = Field(
        default=None, description="WeChat AppSecret, for the access_token."
    )
    wechat_aes_key: SecretStr | None = Field(
        default=None,
        description="EncodingAESKey (43 characters) for compatible and safe modes; unset "
        "means plaintext mode only.",
    )
    wechat_message_mode: WeChatMessageMode | None = Field(
        default=None,
        description="Which callbacks are accepted: plaintext (no EncodingAESKey), compatible "
        "(plaintext and encrypted) or safe (encrypted only). Unset: safe with an "
        "EncodingAESKey, plaintext without one; compatible is only ever chosen explicitly.",
    )
    wechat_previous_aes_key: SecretStr | None = Field(
        default=None,
        description="The EncodingAESKey before the last rotation, still accepted for "
        "callbacks encrypted with it.",
    )
    wechat_api_base: str = Field(
        default="https://api.weixin.qq.com",
        description="WeChat API base URL (a local fake in tests and benchmarks).",
    )
    wechat_reply_budget_seconds: float = Field(
        default=3.5,
        gt=0,
        le=4.5,
        description="How long the callback waits for the answer before acknowledging and "
        "sending it as a customer-service message instead (WeChat gives up after 5 s).",
    )
    wechat_subscription_template_id: str | None = Field(
        default=None,
        description="The one-time subscription (一次性订阅消息) template the bot offers when a "
        "consenting WeChat candidate asks about a result that is still pending; unset: no offer.",
    )
    wecom_corp_id: str | None = Field(
        default=None,
        description="WeCom (企业微信) CorpID. With agent id, secret, token and EncodingAESKey it "
        "turns on HR approvals as WeCom app messages.",
    )
    wecom_agent_id: int | None = Field(
        default=None, description="The AgentId of Candor's self-built WeCom app."
    )
    wecom_secret: SecretStr | None = Field(
        default=None, description="The WeCom app's Secret, for its access_token."
    )
    wecom_token: SecretStr | None = Field(
        default=None, description="The WeCom app's callback Token (signs every callback)."
    )
    wecom_encoding_aes_key: SecretStr | None = Field(
        default=None,
        description="The WeCom app's callback EncodingAESKey (43 characters); WeCom always "
        "encrypts callbacks.",
    )
    wecom_api_base_url: str = Field(
        default="https://qyapi.weixin.qq.com/cgi-bin/",
        description="WeCom API base URL (a local fake in tests and the demo).",
    )
    sms_sign_name: str | None = Field(
        default=None,
        max_length=20,
        description="The approved SMS signature (签名, without 【】). Providers put it in front "
        "of every SMS as 【sign】, so it counts toward the segments the console shows.",
    )
    sms_callback_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Secret ?token= of the SMS provider callbacks (replies and delivery "
        "receipts): /sms/<provider>/<kind>?token=<token>. Neither Alibaba nor Tencent signs these "
        "callbacks, so this token is what tells them apart from anyone else's POST; unset, "
        "the callbacks are disabled (404).",
    )
    sms_callback_allowed_ips: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="Optional comma-separated addresses or networks the SMS providers call "
        "from; when set, callbacks from anywhere else are refused (403). Behind a proxy, list "
        "it in CANDOR_TRUSTED_PROXIES so the provider's own address is the one checked.",
    )
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks (10.0.0.5, 10.0.0.0/8) of the "
        "reverse proxies in front of Candor. Only a request from one of them has its "
        "X-Forwarded-For and X-Forwarded-Proto believed; by default none is, so a client "
        "cannot choose the address that login throttling counts.",
    )
    metrics_dir: Path | None = Field(
        default=None,
        description="Directory shared by every Candor process of this host (`candor serve "
        "--workers N`, `candor worker`) for Prometheus' multiprocess mode: /metrics on any API "
        "process then serves the sum of all of them. Unset: each process reports only its own "
        "(right for the embedded single process). The same as PROMETHEUS_MULTIPROC_DIR, which "
        "wins when both are set.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Bearer token that lets a scraper outside CANDOR_METRICS_ALLOWED_NETWORKS "
        "read /metrics (Authorization: Bearer <token>). Unset: only those networks may.",
    )
    metrics_allowed_networks: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=lambda: [
            ipaddress.ip_network("127.0.0.0/8"),
            ipaddress.ip_network("::1/128"),
        ],
        description="Comma-separated addresses or networks that may read /metrics without a "
        "token (default: loopback only). The client address is the one CANDOR_TRUSTED_PROXIES "
        "vouches for, never a bare X-Forwarded-For.",
    )
    metrics_scrape_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="How long /metrics waits for each of its database and Redis readings "
        "before reporting without it (and counting candor_metrics_scrape_errors_total).",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="The keys that encrypt candidates' phones, e-mails, chat ids and interview "
        "reports at rest (AES-256-GCM): comma-separated id:base64 pairs, each key 32 random "
        "bytes (`candor crypto generate-key`), ids 1-16 of A-Z a-z 0-9 _ -. Keep retired keys "
        "listed until `candor crypto reencrypt` has moved every row off them. Required "
        "outside development and test, where a key derived from CANDOR_SECRET_KEY is used.",
    )
    encryption_active_key: str | None = Field(
        default=None,
        description="The id of the key in CANDOR_ENCRYPTION_KEYS that encrypts new values; "
        "may be left out when there is only one key.",
    )
    blind_index_key: SecretStr | None = Field(
        default=None,
        description="32 random bytes, base64: the HMAC key of the blind indexes that exact "
        "lookups by phone, e-mail and chat id use. Never rotated by `candor crypto "
        "reencrypt`; required with CANDOR_ENCRYPTION_KEYS.",
    )
    encryption_at_rest: bool = Field(
        default=True,
        description="Encrypt the values written. Off only for the first step of a rolling "
        "upgrade from a release before it (docs/operations.md) and for benchmarks: values "
        "are then written in plaintext, with their blind index, and read either way. "
        "With CANDOR_ENV=production it is refused unless CANDOR_ENCRYPTION_UPGRADE_WINDOW "
        "is also set.",
    )
    encryption_upgrade_window: bool = Field(
        default=False,
        description="Production only: allow CANDOR_ENCRYPTION_AT_REST=false for the first "
        "step of a rolling upgrade (every start then logs a warning). Unset it as soon as "
        "every process runs the new release.",
    )
    encryption_plaintext_lookups: bool = Field(
        default=True,
        description="Also find legacy rows (written before encryption at rest, their blind "
        "index still NULL) by their stored plaintext. Turn it off once `candor crypto "
        "status` shows no plaintext: lookups then compare blind indexes only, and no "
        "phone, e-mail or chat id is sent to the database to compare with.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = Field(
        default=LogFormat.CONSOLE, description="console for people, json for log shippers."
    )
    log_file: Path | None = Field(
        default=None,
        description="Append the log to this file instead of writing it to stderr; ERROR and "
        "above still reach stderr too. `candor demo` uses demo.log next to its SQLite file.",
    )

    @field_validator(
        "trusted_proxies", "sms_callback_allowed_ips", "metrics_allowed_networks", mode="before"
    )
    @classmethod
    def _split_proxy_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "telegram_bot_token",
        "telegram_webhook_secret",
        "smtp_password",
        "sms_access_key_secret",
        "wechat_app_secret",
        "wechat_aes_key",
        "wechat_previous_aes_key",
        "wecom_secret",
        "wecom_token",
        "wecom_encoding_aes_key",
        "wecom_corp_id",
        "wecom_agent_id",
        "sms_callback_token",
        "metrics_token",
        "encryption_keys",
        "encryption_active_key",
        "blind_index_key",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: Any) -> Any:
        # An env file's `CANDOR_METRICS_TOKEN=` means "not set" to an operator; without this it
        # is an empty secret that fails its length check and stops every process.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> Self:
        if self.env is Environment.DEVELOPMENT:
            return self
        if self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
            raise InsecureSettingsError(
                f"CANDOR_SECRET_KEY is the development default; set a real secret "
                f"before running with CANDOR_ENV={self.env.value}"
            )
        if len(self.secret_key.get_secret_value()) < 32:
            raise InsecureSettingsError("CANDOR_SECRET_KEY must be at least 32 characters")
        return self

    _keyring: Keyring | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build_keyring(self) -> Self:
        # Built (and checked) here, so a bad or missing key stops the process at start-up.
        if (
            self.env is Environment.PRODUCTION
            and not self.encryption_at_rest
            and not self.encryption_upgrade_window
        ):
            raise KeyringError(
                "CANDOR_ENCRYPTION_AT_REST=false is refused with CANDOR_ENV=production: it is "
                "only for a rolling upgrade's first step; set CANDOR_ENCRYPTION_UPGRADE_WINDOW="
                "true for that window (docs/operations.md)"
            )
        if self.encryption_keys is None and self.blind_index_key is None:
            if self.env is Environment.PRODUCTION:
                raise KeyringError(
                    "CANDOR_ENCRYPTION_KEYS and CANDOR_BLIND_INDEX_KEY must be set with "
                    "CANDOR_ENV=production: candidates' personal data is encrypted at rest "
                    "(create keys with `candor crypto generate-key`; docs/operations.md)"
                )
            self._keyring = development_keyring(
                self.secret_key.get_secret_value(),
                encrypt_writes=self.encryption_at_rest,
                plaintext_lookups=self.encryption_plaintext_lookups,
            )
            return self
        if self.encryption_keys is None or self.blind_index_key is None:
            raise KeyringError("CANDOR_ENCRYPTION_KEYS and CANDOR_BLIND_INDEX_KEY are set together")
        self._keyring = parse_keyring(
            self.encryption_keys.get_secret_value(),
            self.encryption_active_key,
            self.blind_index_key.get_secret_value(),
            encrypt_writes=self.encryption_at_rest,
            plaintext_lookups=self.encryption_plaintext_lookups,
        )
        return self

    @property
    def keyring(self) -> Keyring:
        assert self._keyring is not None  # built by the validator
        return self._keyring

    @property
    def wecom_enabled(self) -> bool:
        """Whether HR approvals over WeCom are configured (every WeCom setting given)."""
        return None not in (
            self.wecom_corp_id,
            self.wecom_agent_id,
            self.wecom_secret,
            self.wecom_token,
            self.wecom_encoding_aes_key,
        )

    @property
    def access_audit_window(self) -> timedelta:
        return timedelta(minutes=self.access_audit_window_minutes)

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url.startswith("memory://")

    @property
    def is_embedded(self) -> bool:
        """True when no external server is needed: SQLite and in-process Redis."""
        return self.uses_sqlite and self.uses_embedded_redis

    def sqlite_path(self) -> Path | None:
        if not self.uses_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        return None if path in ("", ":memory:") else Path(path)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
