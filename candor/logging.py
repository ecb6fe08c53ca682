"""structlog set-up with personal data masked before anything is written.

Events use dotted names (`ats.event_ingested`) and keyword fields. Fields that name personal
data are masked by key; phone numbers and e-mail addresses are also masked wherever they
appear inside other strings, so a message that quotes a candidate cannot leak them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from candor.settings import LogFormat, Settings

PERSONAL_KEYS = frozenset(
    {
        "name",
        "candidate_name",
        "display_name",
        "mobile",
        "phone",
        "email",
        "openid",
        "unionid",
        "external_user_id",
        "recipient",
        "from_user",
        "to_user",
        "password",
        "token",
    }
)

# Every quantifier is bounded (RFC 5321's 64-character local part and 63-character labels)
# and the labels are separated by a character they cannot contain, so each starting position
# costs a bounded number of steps: masking is linear in the text, whatever an attacker sends.
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# Mainland mobiles, optionally with +86, and other long digit runs that look like phones.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_NON_DIGITS = re.compile(r"\D")
# Secrets that ride in URLs: a Telegram bot token in the path (`/bot123456:AA…/sendMessage`),
# a data-export link's single-use token (`/privacy/exports/<token>`: a chat app's preview
# fetches it without using it up, so a logged token could still be downloaded), and
# credential-like query parameters (`access_token`, `corpsecret`, `msg_signature`, `sign`…).
# All are masked whole, whatever their length, so no prefix of a secret is ever kept.
_BOT_TOKEN = re.compile(r"(/bot\d{1,20}:)[\w-]+")
_EXPORT_TOKEN = re.compile(r"(/privacy/exports/)[A-Za-z0-9_-]+")
_QUERY_PARAMETER = re.compile(r"([?&;][\w.-]{1,64}=)([^&;#\s\"'<>]+)")
_SECRET_PARAMETER_ENDINGS = ("token", "secret", "key", "signature", "sign", "password")
REDACTED = "***"

MAX_LOGGED_CHARS = 2000
"""A logged string keeps this many characters; the rest is replaced by a truncation note."""
# A match is at most ~600 characters and masking shrinks text at most ninefold (a 64-character
# local part becomes one), so masking this much before cutting leaves no match straddling the
# cut: nothing half-masked can reach the kept part.
_MASKED_BEFORE_CUT = 9 * MAX_LOGGED_CHARS + 1024


def mask_value(value: str) -> str:
    """Keep just enough to tell two values apart in a log, e.g. `张**` or `o6_b***vE`."""
    if not value:
        return value
    if "@" in value:
        local, _, domain = value.partition("@")
        return _truncated(f"{local[:1]}***@{domain}")
    digits = _NON_DIGITS.sub("", value)
    if len(digits) >= 7 and len(digits) >= len(value) - 4:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(value) <= 3:
        return value[:1] + "*" * (len(value) - 1)
    return f"{value[:2]}***{value[-2:]}"


def _redact_parameter(match: re.Match[str]) -> str:
    name = match.group(1)[1:-1].lower()
    if name.endswith(_SECRET_PARAMETER_ENDINGS):
        return match.group(1) + REDACTED
    return match.group(0)


def redact_secrets(text: str) -> str:
    """Mask bot tokens and export-link tokens in URL paths and the values of secret-looking
    query parameters."""
    text = _BOT_TOKEN.sub(lambda m: m.group(1) + REDACTED, text)
    if "/privacy/exports/" in text:
        text = _EXPORT_TOKEN.sub(lambda m: m.group(1) + REDACTED, text)
    return _QUERY_PARAMETER.sub(_redact_parameter, text)


def _mask_people(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_value(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_value(m.group(0)), text)


def mask_text(text: str) -> str:
    """Mask phone numbers, e-mail addresses and URL secrets wherever they appear in `text`."""
    return _mask_people(redact_secrets(text))


def _truncated(text: str) -> str:
    if len(text) <= MAX_LOGGED_CHARS:
        return text
    return f"{text[:MAX_LOGGED_CHARS]}…[truncated, {len(text)} chars]"


def mask_bounded_text(text: str) -> str:
    """`mask_text`, cut to `MAX_LOGGED_CHARS`: what a log line may carry of any one string."""
    # Secrets are redacted over the whole text (linear, and a secret cut in two would keep a
    # prefix); the shrink bound above then holds for the phones and addresses left to mask.
    redacted = redact_secrets(text)
    if len(redacted) <= MAX_LOGGED_CHARS:
        return _mask_people(redacted)
    masked = _mask_people(redacted[:_MASKED_BEFORE_CUT])[:MAX_LOGGED_CHARS]
    return f"{masked}…[truncated, {len(text)} chars]"


def _mask(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in PERSONAL_KEYS and value is not None:
        return mask_value(str(value))
    if isinstance(value, str):
        return mask_bounded_text(value)
    if isinstance(value, Mapping):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask(value, key)
    return event_dict


class _DropRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


_DROP_RECORDS = _DropRecords()


_ERROR_METHODS = frozenset({"error", "err", "exception", "critical", "fatal", "failure"})
_open_files: dict[Path, TextIO] = {}


class _FileLogger:
    """structlog's logger for CANDOR_LOG_FILE: every line to the file, and the ERROR and
    worse ones to stderr too, so that a failure is still seen where the command runs."""

    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __getattr__(self, method: str) -> Any:
        to_stderr = method in _ERROR_METHODS

        def write(message: str) -> None:
            self._file.write(message + "\n")
            self._file.flush()
            if to_stderr:
                print(message, file=sys.stderr, flush=True)

        return write


def _log_file(path: Path) -> TextIO:
    """The open file for `path`: logging is configured again by each part that starts (the
    app, the worker), and all of them append to one handle."""
    resolved = path.resolve()
    if resolved not in _open_files:
        resolved.parent.mkdir(parents=True, exist_ok=True)
        _open_files[resolved] = resolved.open("a", encoding="utf-8", buffering=1)
    return _open_files[resolved]


def close_log_files() -> None:
    """Close the CANDOR_LOG_FILE handles (configure logging again before logging more)."""
    for file in _open_files.values():
        file.close()
    _open_files.clear()


class _CandorHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the root handlers configure_logging added, to replace rather than pile up."""


class _StderrHandler(_CandorHandler):
    """Writes to whatever `sys.stderr` is when a record comes, like logging's last resort."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class _MaskingFormatter(logging.Formatter):
    """Masks the whole formatted line (message, arguments, traceback): third-party records
    carry URLs with tokens and whatever text a library quotes, past structlog's processors."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


# httpx logs every request's full URL at INFO: Telegram's bot token is in the path and
# WeChat's access_token in the query. Their failures still arrive as WARNING or exceptions.
_QUIETED_LOGGERS = ("httpx", "httpcore")


def _route_standard_logging(file: TextIO | None, level: int) -> None:
    """Send the standard library's records (uvicorn's, asyncio's) to the log file, and the
    ERROR and worse ones to stderr too, as the structlog lines go; without a file, WARNING and
    worse go to stderr as logging's last resort would send them, but masked."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _CandorHandler)]:
        root.removeHandler(handler)
    # In UTC, like the structlog lines around them in the same file.
    formatter = _MaskingFormatter(
        "%(asctime)s [%(levelname)-8s] %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    to_stderr = _StderrHandler()
    to_stderr.setFormatter(formatter)
    root.addHandler(to_stderr)
    for name in _QUIETED_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if file is None:
        to_stderr.setLevel(logging.WARNING)
        return
    to_stderr.setLevel(logging.ERROR)
    to_file = _CandorHandler(file)
    to_file.setFormatter(formatter)
    root.addHandler(to_file)
    root.setLevel(level)


def configure_logging(settings: Settings) -> None:
    log_file = _log_file(settings.log_file) if settings.log_file is not None else None
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_format is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=log_file is None and sys.stderr.isatty())
    )
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    logger_factory: Any = structlog.PrintLoggerFactory(file=sys.stderr)
    if log_file is not None:
        file_logger = _FileLogger(log_file)
        logger_factory = lambda *_args: file_logger  # noqa: E731
    _route_standard_logging(log_file, level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    # uvicorn's access log writes raw query strings (openids, bind tokens, WeChat signatures
    # and nonces) past the masking above; the `http.request` line replaces it. A filter,
    # unlike `disabled`, survives uvicorn re-applying its logging config in a worker process.
    logging.getLogger("uvicorn.access").addFilter(_DROP_RECORDS)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
