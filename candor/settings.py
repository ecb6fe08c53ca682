"""Typed settings, read from `CANDOR_*` environment variables and an optional `.env` file.

Nothing reads the environment at import time: `get_settings()` builds the settings on first
use, so tests and the CLI can set variables before anything is constructed.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


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
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = Field(
        default=LogFormat.CONSOLE, description="console for people, json for log shippers."
    )

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
