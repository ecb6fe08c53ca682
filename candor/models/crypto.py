"""Where an interrupted `candor crypto reencrypt` pass resumes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from candor.db.base import Base
from candor.db.types import UTCDateTime, utcnow


class EncryptionCheckpoint(Base):
    """One table's pass in progress: every row up to `last_id` is sealed with
    `target_key_id` and indexed. Written in each batch's own transaction, so a pass killed
    at any moment resumes after the last batch that committed; deleted when the pass ends."""

    __tablename__ = "encryption_checkpoints"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_key_id: Mapped[str] = mapped_column(String(16))
    last_id: Mapped[int] = mapped_column(BigInteger)
    rows_changed: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EncryptionKeyId(Base):
    """A key id that has encrypted values here: recorded by every process that starts
    writing with it, removed by `candor crypto reencrypt` once no row is sealed with it.
    A process whose CANDOR_ENCRYPTION_KEYS lacks one of these ids refuses to start (it
    would fail on the first such row, or seal this database's data under another keyring)."""

    __tablename__ = "encryption_key_ids"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
