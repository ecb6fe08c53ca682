"""Who viewed whom: the audit trail's reads of candidates' personal data (PIPL Art. 51, 54),
with the readers' and candidates' names, for admins.

The rows are the audit log's own (`ACCESS_ACTIONS`: a transcript or candidate page read in
the console or over the API, a candidate looked up over the API, an HR export, a download
through a candidate's export link), so nothing here can drift from what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import ACCESS_ACTIONS, AuditFilter, list_entries
from candor.models import AuditEntry, Candidate, HRUser


@dataclass(frozen=True, slots=True)
class AccessRow:
    entry: AuditEntry
    reader: str  # the HR user's name, else the actor as recorded ("export_link")
    candidate_id: int | None
    candidate_name: str | None  # None: an unbound account's conversation, or deleted
    conversation_id: int | None


async def access_log(
    session: AsyncSession,
    *,
    reader: str | None = None,
    candidate_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AccessRow]:
    """The reads, newest first, optionally of one reader (`user:<id>`) or one candidate."""
    entries = await list_entries(
        session,
        AuditFilter(
            actor=reader,
            actions=ACCESS_ACTIONS,
            object_type="candidate" if candidate_id is not None else None,
            object_id=str(candidate_id) if candidate_id is not None else None,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        ),
    )
    user_ids = {
        int(e.actor.removeprefix("user:"))
        for e in entries
        if e.actor.startswith("user:") and e.actor.removeprefix("user:").isdigit()
    }
    candidate_ids = {
        int(e.object_id) for e in entries if e.object_type == "candidate" and e.object_id.isdigit()
    }
    users = await _names(session, HRUser.id, HRUser.display_name, user_ids)
    names = await _names(session, Candidate.id, Candidate.name, candidate_ids)
    rows = []
    for entry in entries:
        user_id = entry.actor.removeprefix("user:")
        reader_name = users.get(int(user_id)) if user_id.isdigit() else None
        about = int(entry.object_id) if entry.object_type == "candidate" else None
        conversation = entry.details.get("conversation_id")
        if entry.object_type == "conversation":
            conversation = int(entry.object_id)
        rows.append(
            AccessRow(
                entry=entry,
                reader=reader_name or entry.actor,
                candidate_id=about,
                candidate_name=names.get(about) if about is not None else None,
                conversation_id=conversation if isinstance(conversation, int) else None,
            )
        )
    return rows


async def _names(
    session: AsyncSession, id_column: Any, name_column: Any, ids: set[int]
) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(id_column, name_column).where(id_column.in_(sorted(ids))))
    return {int(row_id): str(name) for row_id, name in rows.all()}
