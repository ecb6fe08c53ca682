"""The key ids this database holds values under, checked against the keyring at start-up.

`candor serve`, `candor worker` and `candor crypto reencrypt` call `check_keyring` before
they start: a keyring missing an id recorded here (a retired key removed while rows still
use it, or the development keyring of a shell without CANDOR_ENV=production meeting a
production database) stops the process with a clear error, instead of failing at the first
such row or sealing this database's data under a key nobody else has.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import utcnow
from candor.crypto.fields import EncryptionError
from candor.crypto.keys import Keyring
from candor.models.crypto import EncryptionKeyId

__all__ = ["MissingEncryptionKeyError", "check_keyring", "forget_other_keys"]


class MissingEncryptionKeyError(EncryptionError):
    code = "encryption_key_missing"


async def check_keyring(session: AsyncSession, ring: Keyring) -> None:
    """Refuse a keyring without every key id that has encrypted values here; then record
    the active key, when this process encrypts what it writes."""
    used = set((await session.scalars(select(EncryptionKeyId.key_id))).all())
    missing = sorted(used - set(ring.keys))
    if missing:
        raise MissingEncryptionKeyError(
            f"values in this database are encrypted with key(s) {', '.join(missing)}, "
            f"which CANDOR_ENCRYPTION_KEYS (ids: {', '.join(sorted(ring.keys))}) does not "
            "hold: add them back (a key leaves the keyring only after `candor crypto "
            "reencrypt` has moved every row off it), or check CANDOR_ENV and the keys "
            "this process was given"
        )
    if ring.encrypt_writes and ring.active_key_id not in used:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert(EncryptionKeyId)
            .values(key_id=ring.active_key_id, first_used_at=utcnow())
            .on_conflict_do_nothing()
        )


async def forget_other_keys(session: AsyncSession, ring: Keyring) -> list[str]:
    """Once no row is sealed with any key but the active one: the ids that may now leave
    the keyring."""
    removed = (
        await session.scalars(
            delete(EncryptionKeyId)
            .where(EncryptionKeyId.key_id != ring.active_key_id)
            .returning(EncryptionKeyId.key_id)
        )
    ).all()
    return sorted(removed)
