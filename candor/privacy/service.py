"""A candidate's copy of their data: asked for in chat, downloaded once through a link that
expires; and the copy an HR user takes from the console, scoped to their teams.

The link carries a random token (192 bits); only its SHA-256 is stored, beside the copy made
when it was asked for (so any API process can serve it). Taking the copy is one locked read
and one update: the first download wins, a second one, or one after `expires_at`, is
refused and gets nothing, and the copy itself is dropped from the row as it is handed out.
The worker's `prune_data_exports` drops the copies nobody downloaded once they expire.

Every step is audited in the caller's transaction: the link created (actor `candidate`),
the copy downloaded or its download refused (actor `export_link`: whoever holds the link;
once per link and reason, so a spent link cannot fill the trail; the landing page's look
is only logged), HR's copy (the HR user). Everything flushes; the entry point commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.auth.principals import HRPrincipal
from candor.auth.scope import candidate_own_data, visible_teams
from candor.chat.teams import team_of_candidate
from candor.console.conversations import visible_candidate
from candor.errors import CandorError
from candor.logging import get_logger
from candor.models import AuditEntry, Candidate, DataExport
from candor.privacy.export import build_export
from candor.privacy.links import DOWNLOAD_PATH

log = get_logger(__name__)

TOKEN_BYTES = 24  # 192 bits: 32 URL-safe characters
# Each copy is the candidate's whole history: a few a day is plenty for a person.
MAX_EXPORTS_PER_DAY = 5


class ExportLinkError(CandorError):
    """The link gives nothing: unknown (404), used (410) or expired (410)."""

    code = "export_link_unknown"
    http_status = 404


class TooManyExportsError(CandorError):
    code = "too_many_exports"
    http_status = 429


class CandidateNotVisibleError(CandorError):
    code = "not_found"
    http_status = 404


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedExport:
    token: str
    expires_at: datetime
    export_id: int

    def url(self, public_url: str) -> str:
        return f"{public_url.rstrip('/')}{DOWNLOAD_PATH}{self.token}"


async def create_link(
    session: AsyncSession,
    candidate: Candidate,
    *,
    via: str,
    valid_for: timedelta,
    now: datetime,
) -> IssuedExport:
    """A copy of everything Candor holds about `candidate` behind a new single-use link.
    Their earlier links that were not used stop working (one link at a time, like binding
    links); TooManyExportsError past MAX_EXPORTS_PER_DAY copies in 24 hours."""
    asked_today = await session.scalar(
        select(func.count(DataExport.id)).where(
            DataExport.candidate_id == candidate.id,
            DataExport.created_at > now - timedelta(days=1),
        )
    )
    if (asked_today or 0) >= MAX_EXPORTS_PER_DAY:
        raise TooManyExportsError(f"{MAX_EXPORTS_PER_DAY} copies in a day already")
    await session.execute(
        update(DataExport)
        .where(
            DataExport.candidate_id == candidate.id,
            DataExport.downloaded_at.is_(None),
            DataExport.expires_at > now,
        )
        .values(expires_at=now, content=null())
        .execution_options(synchronize_session=False)
    )
    content = await build_export(session, candidate, candidate_own_data(), now=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    export = DataExport(
        token_hash=hash_token(token),
        candidate_id=candidate.id,
        requested_by="candidate",
        via=via,
        created_at=now,
        expires_at=now + valid_for,
        content=content,
    )
    session.add(export)
    await session.flush()
    record(
        session,
        actor="candidate",
        action=Action.DATA_EXPORT_CREATED,
        object_type="candidate",
        object_id=candidate.id,
        team_id=await team_of_candidate(session, candidate.id),
        details={"export_id": export.id, "via": via, "expires_at": export.expires_at.isoformat()},
        at=now,
    )
    log.info("privacy.export_created", candidate_id=candidate.id, export_id=export.id, via=via)
    return IssuedExport(token, export.expires_at, export.id)


@dataclass(frozen=True, slots=True)
class LinkState:
    """A link that can still be downloaded (the landing page shows it)."""

    expires_at: datetime


async def check_link(
    session: AsyncSession, token: str, *, now: datetime
) -> LinkState | ExportLinkError:
    """What the link gives now, without using it up (a chat app's link preview fetches the
    landing page too): its state, or the refusal (logged, not audited: the download is)."""
    export = await session.scalar(
        select(DataExport).where(DataExport.token_hash == hash_token(token))
    )
    refused = _refusal(export, now)
    if refused is not None:
        # Only logged: anyone holding a spent link may fetch the page without end.
        log.info("privacy.export_link_looked", reason=refused.code)
        return refused
    assert export is not None
    return LinkState(export.expires_at)


async def take(
    session: AsyncSession, token: str, *, client: str | None, now: datetime
) -> dict[str, Any] | ExportLinkError:
    """The copy behind the link, once; or the refusal (unknown, used, expired), audited
    when the link was real. Returned, not raised: the caller commits the refusal's audit
    row and answers with the error."""
    export = await session.scalar(
        select(DataExport).where(DataExport.token_hash == hash_token(token)).with_for_update()
    )
    refused = await _refused(session, export, client=client, now=now)
    if refused is not None:
        return refused
    assert export is not None
    assert export.content is not None
    content = export.content
    await session.execute(
        update(DataExport)
        .where(DataExport.id == export.id)
        .values(downloaded_at=now, content=null())
        .execution_options(synchronize_session=False)
    )
    record(
        session,
        actor="export_link",
        action=Action.DATA_EXPORT_DOWNLOADED,
        object_type="candidate",
        object_id=export.candidate_id,
        team_id=await team_of_candidate(session, export.candidate_id),
        details={"export_id": export.id, "client": client},
        at=now,
    )
    log.info("privacy.export_downloaded", export_id=export.id)
    return content


async def _refused(
    session: AsyncSession, export: DataExport | None, *, client: str | None, now: datetime
) -> ExportLinkError | None:
    """Why the link gives nothing; None when it may be downloaded. The first refused
    download of a real link for each reason is audited, later ones only logged: the link is
    the only credential, and whoever holds a spent one could otherwise write audit rows
    without end (an unknown token names nobody: it is only logged)."""
    refusal = _refusal(export, now)
    if refusal is None:
        return None
    if export is None:
        log.info("privacy.export_link_unknown")
        return refusal
    if await _refusal_audited(session, export, refusal.code):
        log.info("privacy.export_refused_again", export_id=export.id, reason=refusal.code)
        return refusal
    record(
        session,
        actor="export_link",
        action=Action.DATA_EXPORT_REFUSED,
        object_type="candidate",
        object_id=export.candidate_id,
        team_id=await team_of_candidate(session, export.candidate_id),
        details={"export_id": export.id, "reason": refusal.code, "client": client},
        at=now,
    )
    log.info("privacy.export_refused", export_id=export.id, reason=refusal.code)
    return refusal


async def _refusal_audited(session: AsyncSession, export: DataExport, reason: str) -> bool:
    """Whether this link's refusal for `reason` is in the audit trail already. The rows are
    found by the candidate's object index, after the link was made: a handful per link."""
    details = await session.scalars(
        select(AuditEntry.details).where(
            AuditEntry.object_type == "candidate",
            AuditEntry.object_id == str(export.candidate_id),
            AuditEntry.action == Action.DATA_EXPORT_REFUSED,
            AuditEntry.at >= export.created_at,
        )
    )
    return any(d.get("export_id") == export.id and d.get("reason") == reason for d in details.all())


def _refusal(export: DataExport | None, now: datetime) -> ExportLinkError | None:
    if export is None:
        return ExportLinkError("this download link is not known")
    if export.downloaded_at is not None:
        return ExportLinkError(
            "this download link was used already; ask for a new copy in the chat",
            code="export_link_used",
            http_status=410,
        )
    if export.expires_at <= now or export.content is None:
        return ExportLinkError(
            "this download link has expired; ask for a new copy in the chat",
            code="export_link_expired",
            http_status=410,
        )
    return None


async def export_for_hr(
    session: AsyncSession, principal: HRPrincipal, candidate_id: int, *, via: str, now: datetime
) -> dict[str, Any]:
    """The copy an HR user may see of a candidate they see (their teams' applications and
    what belongs to them), audited; CandidateNotVisibleError for anyone else's."""
    candidate = await visible_candidate(session, principal, candidate_id)
    if candidate is None:
        raise CandidateNotVisibleError(f"no candidate {candidate_id} in your teams")
    content = await build_export(session, candidate, visible_teams(principal), now=now)
    record(
        session,
        actor=principal.actor,
        action=Action.CANDIDATE_EXPORTED,
        object_type="candidate",
        object_id=candidate.id,
        team_id=await team_of_candidate(session, candidate.id),
        details={
            "via": via,
            "scope": content["scope"],
            "applications": len(content["applications"]),
            "messages": len(content["messages"]),
        },
        at=now,
    )
    log.info("privacy.hr_export", candidate_id=candidate.id, actor=principal.actor)
    return content


async def prune_expired(session: AsyncSession, *, now: datetime) -> int:
    """Drop the copies behind links that expired undownloaded; the rows stay as the record."""
    result = await session.execute(
        update(DataExport)
        .where(DataExport.expires_at <= now, DataExport.content.is_not(None))
        .values(content=null())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
