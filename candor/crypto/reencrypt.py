"""The re-encryption pass: seal legacy plaintext, move values off retired keys, fill blind
indexes, in batches by primary key while the application runs.

Each batch is one short transaction: read the next rows after the checkpoint, seal what is
not sealed with the active key, write each changed row only if it is still what was read
(a guarded UPDATE: a row the application changed meanwhile was written with the active key
already, and is left alone), and move the checkpoint. A process killed at any moment loses
at most the batch in flight, which rolled back whole: no row is ever half-written, and the
next run resumes after the last committed batch. A pass that ends is checked by counting
what is still not on the active key; anything left (written by a process still configured
with the old key) gets another pass.

A row that cannot be read (a value that fails authentication, or sealed with a key the
keyring lacks) is logged by table, id and column (never its value), left as it is and
counted; the pass goes on, and the command exits non-zero listing those rows. Only rows
that need work are read, so a run over a clean table reads nothing. Once no row is left on
another key, their ids are forgotten (`candor.crypto.key_ids`): they may leave the keyring.
`all_rows` reads every row and recomputes every blind index, for indexes a process of the
previous release left stale (it changed a value without its index).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Text,
    and_,
    bindparam,
    cast,
    column,
    delete,
    false,
    func,
    not_,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause, TableClause

from candor.clock import utcnow
from candor.crypto.fields import (
    PREFIX,
    EncryptionError,
    current_keyring,
    key_id_of,
    open_value,
    seal,
)
from candor.crypto.key_ids import check_keyring, forget_other_keys
from candor.crypto.keys import Keyring
from candor.crypto.lookups import chat_id_index, email_index, mobile_index, recipient_index
from candor.db.types import JSONType
from candor.logging import get_logger
from candor.models.crypto import EncryptionCheckpoint
from candor.runtime import Runtime

log = get_logger(__name__)

__all__ = ["TABLES", "PassReport", "SealedTable", "reencrypt", "status"]

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure
MAX_BATCH_TRIES = 5
MAX_PASSES = 3


@dataclass(frozen=True, slots=True)
class SealedColumn:
    name: str
    index_column: str | None = None
    index: Callable[[str | None], str | None] | None = None
    is_json: bool = False


@dataclass(frozen=True, slots=True)
class SealedTable:
    name: str
    columns: tuple[SealedColumn, ...]

    def context(self, sealed: SealedColumn) -> str:
        return f"{self.name}.{sealed.name}"

    def raw(self) -> TableClause:
        """The table as stored: no sealing type, so what is read and written is the text."""
        columns: list[ColumnClause[Any]] = [column("id", BigInteger())]
        for sealed in self.columns:
            columns.append(column(sealed.name, JSONType if sealed.is_json else Text()))
            if sealed.index_column:
                columns.append(column(sealed.index_column, Text()))
        return table(self.name, *columns)


TABLES = (
    SealedTable(
        "candidates",
        (
            SealedColumn("mobile", "mobile_index", mobile_index),
            SealedColumn("email", "email_index", email_index),
        ),
    ),
    SealedTable(
        "chat_identities",
        (SealedColumn("external_user_id", "external_user_id_index", chat_id_index),),
    ),
    SealedTable(
        "chat_deliveries", (SealedColumn("recipient", "recipient_index", recipient_index),)
    ),
    SealedTable(
        "interviews",
        (
            SealedColumn("report_summary"),
            SealedColumn("next_steps"),
            SealedColumn("strengths", is_json=True),
            SealedColumn("improvements", is_json=True),
        ),
    ),
    SealedTable("data_exports", (SealedColumn("content", is_json=True),)),
    SealedTable("deletion_requests", (SealedColumn("subject", is_json=True),)),
)


@dataclass(frozen=True, slots=True, order=True)
class UnreadableValue:
    table: str
    row_id: int
    column: str
    code: str


@dataclass(slots=True)
class PassReport:
    rows_read: int = 0
    rows_sealed: int = 0
    rows_skipped: int = 0  # changed by the application between read and write
    passes: int = 0
    resumed_from: dict[str, int] = field(default_factory=dict)
    left: int = 0
    unreadable: set[UnreadableValue] = field(default_factory=set)
    keys_forgotten: list[str] = field(default_factory=list)


def _stored_text(raw: TableClause, sealed: SealedColumn) -> ColumnElement[Any]:
    return cast(raw.c[sealed.name], Text)


def _sealed_prefix(sealed: SealedColumn, key_id: str) -> str:
    # A sealed JSON value is stored as a JSON string: its text starts with a quote.
    return ('"' if sealed.is_json else "") + f"{PREFIX}{key_id}:"


def _plaintext(stored_text: str, sealed: SealedColumn, context: str, ring: Keyring) -> str:
    if sealed.is_json:
        value = json.loads(stored_text)
        if isinstance(value, str) and value.startswith(PREFIX):
            return open_value(value, context, ring)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return open_value(stored_text, context, ring)


def _needs_work(target: SealedTable, raw: TableClause, key_id: str) -> ColumnElement[bool]:
    """Rows with a value not sealed with `key_id`. The empty string (an erased value) is
    stored as it is, without index. A value sealed with the active key has its index: it
    was written through the ORM or by this pass, which compute it; one whose index is NULL
    normalises to nothing (a "phone" without digits), and never gets one."""
    conditions: list[ColumnElement[bool]] = []
    for sealed in target.columns:
        text = _stored_text(raw, sealed)
        on_key = text.startswith(_sealed_prefix(sealed, key_id), autoescape=True)
        conditions.append(and_(text.is_not(None), text != "", not_(on_key)))
    return or_(*conditions)


def _row_changes(target: SealedTable, row: Any, ring: Keyring) -> dict[str, Any] | None:
    """The new values of a row that needs sealing, or None when it is done already."""
    changes: dict[str, Any] = {}
    needed = False
    for sealed in target.columns:
        text = getattr(row, f"{sealed.name}_text")
        changes[f"old_{sealed.name}"] = text
        if text is None or text == "":
            changes[f"new_{sealed.name}"] = text
            if sealed.index_column:
                changes[f"new_{sealed.index_column}"] = None
                needed |= getattr(row, sealed.index_column) is not None
            continue
        context = target.context(sealed)
        stored = json.loads(text) if sealed.is_json else text
        on_key = isinstance(stored, str) and key_id_of(stored) == ring.active_key_id
        plain = _plaintext(text, sealed, context, ring)  # authenticates it, whatever its key
        changes[f"new_{sealed.name}"] = stored if on_key else seal(plain, context, ring)
        needed |= not on_key
        if sealed.index_column and sealed.index is not None:
            index = sealed.index(json.loads(plain) if sealed.is_json else plain)
            changes[f"new_{sealed.index_column}"] = index
            needed |= getattr(row, sealed.index_column) != index
    return changes if needed else None


def _guarded_update(target: SealedTable, raw: TableClause) -> Any:
    guards = [raw.c.id == bindparam("row_id")]
    values: dict[str, Any] = {}
    for sealed in target.columns:
        old = bindparam(f"old_{sealed.name}", type_=Text)
        guards.append(_stored_text(raw, sealed).is_not_distinct_from(old))
        values[sealed.name] = bindparam(f"new_{sealed.name}", type_=raw.c[sealed.name].type)
        if sealed.index_column:
            values[sealed.index_column] = bindparam(f"new_{sealed.index_column}")
    return update(raw).where(*guards).values(values)


async def _batch(
    session: AsyncSession,
    target: SealedTable,
    after_id: int,
    size: int,
    ring: Keyring,
    *,
    all_rows: bool,
    unreadable: set[UnreadableValue],
) -> tuple[int | None, int, int, int]:
    """One batch in the caller's transaction: (last id read or None at the end, rows read,
    rows sealed, rows skipped)."""
    raw = target.raw()
    selected: list[ColumnElement[Any]] = [raw.c.id]
    for sealed in target.columns:
        selected.append(_stored_text(raw, sealed).label(f"{sealed.name}_text"))
        if sealed.index_column:
            selected.append(raw.c[sealed.index_column])
    query = select(*selected).where(raw.c.id > after_id)
    if not all_rows:
        query = query.where(_needs_work(target, raw, ring.active_key_id))
    rows = (await session.execute(query.order_by(raw.c.id).limit(size))).all()
    if not rows:
        return None, 0, 0, 0
    params = []
    for row in rows:
        try:
            changes = _row_changes(target, row, ring)
        except (EncryptionError, ValueError) as error:
            # Never the value: which row, which column, and why.
            details = (error.details if isinstance(error, EncryptionError) else None) or {}
            code = error.code if isinstance(error, EncryptionError) else "value_malformed"
            column_name = str(details.get("column", target.name))
            unreadable.add(UnreadableValue(target.name, int(row.id), column_name, code))
            log.error(
                "crypto.row_unreadable",
                table=target.name,
                row_id=row.id,
                column=column_name,
                code=code,
                key_id=details.get("key_id"),
            )
            continue
        if changes is not None:
            params.append({"row_id": row.id, **changes})
    sealed_count = 0
    if params:
        statement = _guarded_update(target, raw)
        for one in params:  # one statement each: the guard's count says which were skipped
            result = await session.execute(statement, one)
            sealed_count += result.rowcount  # type: ignore[attr-defined]
    checkpoint = await session.get(EncryptionCheckpoint, target.name)
    now = utcnow()
    if checkpoint is None:
        checkpoint = EncryptionCheckpoint(
            table_name=target.name,
            target_key_id=ring.active_key_id,
            last_id=0,
            rows_changed=0,
            started_at=now,
        )
        session.add(checkpoint)
    checkpoint.last_id = int(rows[-1].id)
    checkpoint.rows_changed += sealed_count
    checkpoint.updated_at = now
    return int(rows[-1].id), len(rows), sealed_count, len(params) - sealed_count


def _retryable(error: DBAPIError) -> bool:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in RETRYABLE_SQLSTATES


async def _table_pass(
    runtime: Runtime,
    target: SealedTable,
    ring: Keyring,
    report: PassReport,
    *,
    batch_size: int,
    pause_seconds: float,
    all_rows: bool,
    progress: Callable[[str], None],
) -> None:
    async with runtime.transaction() as session:
        checkpoint = await session.get(EncryptionCheckpoint, target.name)
        if checkpoint is not None and checkpoint.target_key_id != ring.active_key_id:
            await session.delete(checkpoint)  # another key's pass: start over for this one
            checkpoint = None
        after_id = 0 if checkpoint is None else checkpoint.last_id
    if after_id:
        report.resumed_from[target.name] = after_id
        progress(f"{target.name}: resuming after id {after_id}")
    while True:
        for attempt in range(1, MAX_BATCH_TRIES + 1):
            try:
                async with runtime.transaction() as session:
                    last, read, sealed, skipped = await _batch(
                        session,
                        target,
                        after_id,
                        batch_size,
                        ring,
                        all_rows=all_rows,
                        unreadable=report.unreadable,
                    )
                break
            except DBAPIError as error:
                if not _retryable(error) or attempt == MAX_BATCH_TRIES:
                    raise
                log.warning("crypto.batch_retried", table=target.name, attempt=attempt)
                await asyncio.sleep(0.05 * attempt)
        if last is None:
            break
        report.rows_read += read
        report.rows_sealed += sealed
        report.rows_skipped += skipped
        after_id = last
        if sealed:
            progress(f"{target.name}: sealed {sealed} rows up to id {last}")
        if pause_seconds:
            await asyncio.sleep(pause_seconds)
    async with runtime.transaction() as session:
        await session.execute(
            delete(EncryptionCheckpoint).where(EncryptionCheckpoint.table_name == target.name)
        )


async def remaining(session: AsyncSession, ring: Keyring) -> dict[str, int]:
    """Rows per table still not sealed with the active key or missing a blind index."""
    counts = {}
    for target in TABLES:
        raw = target.raw()
        counts[target.name] = int(
            await session.scalar(
                select(func.count())
                .select_from(raw)
                .where(_needs_work(target, raw, ring.active_key_id))
            )
            or 0
        )
    return counts


async def reencrypt(
    runtime: Runtime,
    *,
    batch_size: int = 500,
    pause_seconds: float = 0.0,
    all_rows: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> PassReport:
    ring = current_keyring()
    if not ring.encrypt_writes:
        raise EncryptionError(
            "CANDOR_ENCRYPTION_AT_REST is off: turn it on (every process) before sealing "
            "the stored values",
            code="encryption_off",
        )
    async with _only_run(runtime):
        async with runtime.transaction() as session:
            await check_keyring(session, ring)
        return await _passes(runtime, ring, batch_size, pause_seconds, all_rows, progress)


async def _passes(
    runtime: Runtime,
    ring: Keyring,
    batch_size: int,
    pause_seconds: float,
    all_rows: bool,
    progress: Callable[[str], None],
) -> PassReport:
    report = PassReport()
    for number in range(MAX_PASSES):
        report.passes += 1
        for target in TABLES:
            await _table_pass(
                runtime,
                target,
                ring,
                report,
                batch_size=batch_size,
                pause_seconds=pause_seconds,
                all_rows=all_rows and number == 0,
                progress=progress,
            )
        async with runtime.sessionmaker() as session:
            left = await remaining(session, ring)
        report.left = sum(left.values())
        unreadable_rows = {(value.table, value.row_id) for value in report.unreadable}
        if report.left <= len(unreadable_rows):
            break  # nothing left but the rows no pass can read
        progress(f"still off the active key after pass {report.passes}: {left}")
    if not report.left:
        async with runtime.transaction() as session:
            report.keys_forgotten = await forget_other_keys(session, ring)
    log.info(
        "crypto.reencrypted",
        key_id=ring.active_key_id,
        rows_sealed=report.rows_sealed,
        rows_skipped=report.rows_skipped,
        passes=report.passes,
        left=report.left,
        unreadable=len(report.unreadable),
    )
    return report


class ReencryptRunningError(EncryptionError):
    code = "reencrypt_running"
    http_status = 409


# Any constant: the lock only keeps two passes over this database from running at once.
_ADVISORY_LOCK = 0x63616E646F72  # "candor"


@asynccontextmanager
async def _only_run(runtime: Runtime) -> AsyncIterator[None]:
    """One pass at a time (two would race on the checkpoints): a PostgreSQL session
    advisory lock, held on its own connection; SQLite, a lock file beside the database."""
    if runtime.settings.uses_sqlite:
        path = runtime.settings.sqlite_path()
        if path is None:  # in memory: one process anyway
            yield
            return
        with open(f"{path}.reencrypt.lock", "w") as handle:  # noqa: ASYNC230 - a tiny local file
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise ReencryptRunningError(_RUNNING) from exc
            yield
        return
    async with runtime.engine.connect() as connection:
        locked = await connection.scalar(select(func.pg_try_advisory_lock(_ADVISORY_LOCK)))
        await connection.commit()
        if not locked:
            raise ReencryptRunningError(_RUNNING)
        try:
            yield
        finally:
            await connection.execute(select(func.pg_advisory_unlock(_ADVISORY_LOCK)))
            await connection.commit()


_RUNNING = "another `candor crypto reencrypt` is running on this database"


@dataclass(frozen=True, slots=True)
class ColumnStatus:
    column: str
    stored: int
    on_active_key: int
    plaintext: int
    on_other_keys: int
    missing_index: int  # plaintext not yet indexed: found only while plaintext lookups are on
    empty: int = 0  # "" (erased): stored as it is


async def status(session: AsyncSession, ring: Keyring) -> list[ColumnStatus]:
    rows = []
    for target in TABLES:
        raw = target.raw()
        for sealed in target.columns:
            text = _stored_text(raw, sealed)
            active = text.startswith(_sealed_prefix(sealed, ring.active_key_id), autoescape=True)
            any_key = text.startswith(_sealed_prefix(sealed, "")[:-1], autoescape=True)
            plaintext = and_(text.is_not(None), text != "", not_(any_key))
            missing = and_(
                plaintext,
                raw.c[sealed.index_column].is_(None) if sealed.index_column else false(),
            )
            counts = (
                await session.execute(
                    select(
                        func.count(text),
                        func.count().filter(active),
                        func.count().filter(plaintext),
                        func.count().filter(missing),
                        func.count().filter(text == ""),
                    ).select_from(raw)
                )
            ).one()
            stored, on_active, plain, missing_count, empty = (int(c or 0) for c in counts)
            rows.append(
                ColumnStatus(
                    f"{target.name}.{sealed.name}",
                    stored,
                    on_active,
                    plain,
                    stored - on_active - plain - empty,
                    missing_count,
                    empty,
                )
            )
    return rows
