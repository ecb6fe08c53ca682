"""The privacy notice (PIPL Art. 17): what Candor keeps about a candidate, why, how long, and
how to get a copy or have it deleted, shown in chat once per version.

The text and its version live in one YAML file (`data/privacy_notice.yml`, or the file
`CANDOR_PRIVACY_NOTICE_FILE` names), read once when the gateway is built. A bound candidate
is shown the current version with the first answer Candor gives them after their account
is bound: merged into the binding confirmation when they bound with a link or code, or as
its own message after the engine's answer to their next message when they were bound
another way (the dialogue's binding form), before the notice existed, or the version
changed since they last saw it. Which version each candidate
was shown, when, on which channel and in which language is a `privacy_notices_shown` row;
one row per candidate and version, so no version is shown twice, even to two of the
candidate's accounts writing at the same moment (one INSERT ... ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from candor.errors import CandorError
from candor.logging import get_logger
from candor.models import PrivacyNoticeShown
from candor.models.enums import Channel, Locale

log = get_logger(__name__)

SHIPPED_NOTICE = Path(__file__).resolve().parents[2] / "data" / "privacy_notice.yml"
MAX_NOTICE_CHARS = 1000
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


class PrivacyNoticeError(CandorError):
    code = "privacy_notice_invalid"
    http_status = 500


@dataclass(frozen=True, slots=True)
class PrivacyNotice:
    version: str
    texts: dict[Locale, str]

    def text(self, locale: Locale) -> str:
        return self.texts[locale]


def load_notice(path: Path | None = None) -> PrivacyNotice:
    """The notice in `path` (the shipped one by default); PrivacyNoticeError saying what is
    wrong with the file otherwise, so a bad notice stops the start rather than a chat."""
    source = path or SHIPPED_NOTICE
    try:
        raw: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PrivacyNoticeError(f"cannot read the privacy notice {source}: {exc}") from exc
    if not isinstance(raw, dict):
        raise PrivacyNoticeError(f"{source}: expected a mapping with version, zh-CN and en")
    version = str(raw.get("version") or "")
    if not _VERSION.match(version):
        raise PrivacyNoticeError(
            f"{source}: `version` must be 1 to 32 letters, digits, dots, dashes or underscores"
        )
    texts: dict[Locale, str] = {}
    for locale in Locale:
        value = raw.get(locale.value)
        if not isinstance(value, str) or not value.strip():
            raise PrivacyNoticeError(f"{source}: the {locale.value} text is missing")
        if len(value) > MAX_NOTICE_CHARS:
            raise PrivacyNoticeError(
                f"{source}: the {locale.value} text is longer than {MAX_NOTICE_CHARS} characters"
            )
        texts[locale] = value.strip()
    return PrivacyNotice(version, texts)


async def take_due_notice(
    session: AsyncSession,
    notice: PrivacyNotice,
    *,
    candidate_id: int,
    channel: Channel,
    locale: Locale,
    now: datetime,
) -> str | None:
    """The notice's text if this candidate has not been shown this version yet, recorded as
    shown now (in the caller's transaction: it is shown when the answer it goes with is);
    None when they have."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(PrivacyNoticeShown)
        .values(
            candidate_id=candidate_id,
            version=notice.version,
            channel=channel,
            locale=locale,
            shown_at=now,
        )
        .on_conflict_do_nothing(index_elements=["candidate_id", "version"])
        .returning(PrivacyNoticeShown.id)
    )
    if await session.scalar(statement) is None:
        return None
    log.info(
        "chat.privacy_notice_shown",
        candidate_id=candidate_id,
        version=notice.version,
        channel=channel.value,
    )
    return notice.text(locale)
