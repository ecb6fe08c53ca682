"""Which NLU model the chat uses, for every API process, and swapping it without a restart.

The database holds the answer (`nlu_active_model`: one row pointing at an accepted
`nlu_models` row, or at nothing: the project's own model). Each process asks at most once a
second (`CHECK_EVERY_SECONDS`), and the answer is shared through Redis for a few seconds
(`POINTER_CACHE_SECONDS`), so the database sees one small read per few seconds, not one per
chat turn. Accepting or reverting a model drops the Redis copy after its commit, so
processes notice within about a second; were that lost, within the cache's few seconds.

A process that sees a new model loads it from its own cache directory
(`CANDOR_NLU_CACHE_DIR/reviewed/<fingerprint>`), or first unpacks it there from the
database (another machine trained it), off the event loop; turns meanwhile keep the model
they had. A reviewed model trained on other project files than the running ones (after a
deploy changed `data/nlu.yml`, `config.yml` or the model format) is not used: the
project's model answers until a model trained on the current files is accepted.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import tempfile
import time
import uuid
import weakref
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from candor.db.aftercommit import on_commit
from candor.logging import get_logger
from candor.models import ActiveNluModel, NluModelVersion
from candor.runtime import Runtime
from candor.settings import Settings
from nlu.model import NluModel, prune_models
from nlu.tokenizer import RecruitingTokenizer

log = get_logger(__name__)

POINTER_ROW_ID = 1
POINTER_KEY = "candor:nlu:active-model"
POINTER_CACHE_SECONDS = 5
CHECK_EVERY_SECONDS = 1.0
MODEL_FILES = ("meta.json", "arrays.npz")
REVIEWED_MODELS_KEPT = 5


@dataclass(frozen=True, slots=True)
class ActivePointer:
    """The accepted model (id and fingerprints), or all None for the project's model."""

    model_id: int | None = None
    fingerprint: str | None = None
    base_fingerprint: str | None = None

    def to_json(self) -> str:
        return json.dumps([self.model_id, self.fingerprint, self.base_fingerprint])

    @classmethod
    def from_json(cls, raw: str | bytes) -> ActivePointer:
        model_id, fingerprint, base_fingerprint = json.loads(raw)
        return cls(
            int(model_id) if model_id is not None else None,
            str(fingerprint) if fingerprint is not None else None,
            str(base_fingerprint) if base_fingerprint is not None else None,
        )

    def usable_with(self, project_fingerprint: str) -> bool:
        """Whether the chat uses this model with the running project files."""
        return self.model_id is not None and self.base_fingerprint == project_fingerprint


PROJECT_MODEL = ActivePointer()


async def read_pointer(session: AsyncSession) -> ActivePointer:
    row = (
        await session.execute(
            select(
                ActiveNluModel.model_id,
                NluModelVersion.fingerprint,
                NluModelVersion.base_fingerprint,
            )
            .select_from(ActiveNluModel)
            .outerjoin(NluModelVersion, NluModelVersion.id == ActiveNluModel.model_id)
            .where(ActiveNluModel.id == POINTER_ROW_ID)
        )
    ).first()
    if row is None or row.model_id is None:
        return PROJECT_MODEL
    return ActivePointer(row.model_id, row.fingerprint, row.base_fingerprint)


async def shared_pointer(runtime: Runtime) -> ActivePointer:
    """The pointer through Redis's short-lived copy; the database when there is none."""
    try:
        cached = await runtime.redis.get(POINTER_KEY)
    except RedisError as exc:
        log.warning("nlu_review.pointer_cache_unavailable", error=str(exc))
        cached = None
    if cached is not None:
        try:
            return ActivePointer.from_json(cached)
        except (ValueError, TypeError):
            log.warning("nlu_review.pointer_cache_unreadable")
    async with runtime.sessionmaker() as session:
        pointer = await read_pointer(session)
    try:
        await runtime.redis.set(POINTER_KEY, pointer.to_json(), ex=POINTER_CACHE_SECONDS)
    except RedisError as exc:
        log.warning("nlu_review.pointer_cache_unavailable", error=str(exc))
    return pointer


def forget_pointer_on_commit(session: AsyncSession, redis: Redis) -> None:
    """Drop Redis's copy once the change is committed, so processes read the new one."""

    async def forget() -> None:
        await redis.delete(POINTER_KEY)

    on_commit(session, forget)


# -- models on disk and in the database -----------------------------------------------------


def model_dir(settings: Settings, fingerprint: str) -> Path:
    return settings.nlu_cache_dir / "reviewed" / fingerprint[:24]


def pack_model(model: NluModel) -> bytes:
    """The files `NluModel.save` writes, zipped: what the database keeps of a model."""
    with tempfile.TemporaryDirectory(prefix="candor-nlu-") as temporary:
        directory = Path(temporary) / "model"
        model.save(directory)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in MODEL_FILES:
                archive.write(directory / name, arcname=name)
    return buffer.getvalue()


def unpack_model(artifact: bytes, directory: Path) -> None:
    """Write a packed model into `directory` atomically (only its two known files)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            for name in MODEL_FILES:
                (staging / name).write_bytes(archive.read(name))
        os.rename(staging, directory)
    except OSError:
        if not (directory / "meta.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_locally(settings: Settings, model: NluModel) -> None:
    """Keep a freshly trained model in this machine's cache, and only the newest few."""
    directory = model_dir(settings, model.fingerprint)
    if not (directory / "meta.json").is_file():
        model.save(directory)
    prune_models(directory.parent, keep=directory, kept=REVIEWED_MODELS_KEPT)


def load_reviewed(
    settings: Settings,
    fingerprint: str,
    *,
    tokenizer: RecruitingTokenizer,
    artifact: bytes | None,
) -> NluModel:
    """A reviewed model from this machine's cache, unpacked from `artifact` first when the
    cache lacks it. Raises FileNotFoundError when neither has it."""
    directory = model_dir(settings, fingerprint)
    if not (directory / "meta.json").is_file():
        if artifact is None:
            raise FileNotFoundError(f"model {fingerprint[:12]} is neither cached nor stored")
        unpack_model(artifact, directory)
    return NluModel.load(directory, tokenizer=tokenizer)


async def stored_artifact(session: AsyncSession, model_id: int) -> bytes | None:
    found: bytes | None = await session.scalar(
        select(NluModelVersion.artifact).where(NluModelVersion.id == model_id)
    )
    return found


# -- the chat's model ------------------------------------------------------------------------


@dataclass(slots=True)
class _Watch:
    checked_at: float = -math.inf
    pointer: ActivePointer = PROJECT_MODEL
    model: NluModel | None = None  # the loaded reviewed model of `pointer`
    unusable: set[int] = field(default_factory=set)  # models that failed to load
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# One watch per database (each Runtime has its own engine), so tests never share one.
_watches: weakref.WeakKeyDictionary[AsyncEngine, _Watch] = weakref.WeakKeyDictionary()


async def active_model(runtime: Runtime, base: NluModel) -> NluModel:
    """The model a chat turn uses: the accepted reviewed model if one is active and was
    trained on the project files `base` was, else `base` (the project's own model).

    Costs a clock read per turn; at most once a second a Redis read (or, every few seconds
    per deployment, a database read); and once per accepted model a load off the loop."""
    watch = _watches.get(runtime.engine)
    if watch is None:
        watch = _watches.setdefault(runtime.engine, _Watch())
    if time.monotonic() - watch.checked_at < CHECK_EVERY_SECONDS or watch.lock.locked():
        return _current(watch, base)
    async with watch.lock:
        if time.monotonic() - watch.checked_at < CHECK_EVERY_SECONDS:
            return _current(watch, base)  # checked meanwhile by another turn
        watch.checked_at = time.monotonic()
        try:
            pointer = await shared_pointer(runtime)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("nlu_review.pointer_unreadable", error=str(exc))
            return _current(watch, base)
        if pointer == watch.pointer:
            return _current(watch, base)
        try:
            model = await _load(runtime, pointer, base, watch)
        except (SQLAlchemyError, OSError) as exc:
            # Perhaps passing (the database, the disk): tried again at the next check.
            log.warning("nlu_review.active_model_not_loaded", error=str(exc))
            return _current(watch, base)
        watch.pointer, watch.model = pointer, model
        log.info(
            "nlu_review.model_swapped",
            model_id=pointer.model_id if model is not None else None,
            fingerprint=(model or base).fingerprint[:12],
        )
        return _current(watch, base)


def _current(watch: _Watch, base: NluModel) -> NluModel:
    if watch.model is not None and watch.pointer.usable_with(base.fingerprint):
        return watch.model
    return base


async def _load(
    runtime: Runtime, pointer: ActivePointer, base: NluModel, watch: _Watch
) -> NluModel | None:
    if pointer.model_id is None or pointer.fingerprint is None:
        return None
    if not pointer.usable_with(base.fingerprint):
        log.warning(
            "nlu_review.active_model_outdated",
            model_id=pointer.model_id,
            detail="trained on other project files than these; the project's model answers",
        )
        return None
    if pointer.model_id in watch.unusable:
        return None
    settings = runtime.settings
    artifact = None
    if not (model_dir(settings, pointer.fingerprint) / "meta.json").is_file():
        async with runtime.sessionmaker() as session:
            artifact = await stored_artifact(session, pointer.model_id)
    try:
        return await asyncio.to_thread(
            load_reviewed,
            settings,
            pointer.fingerprint,
            tokenizer=base.tokenizer,
            artifact=artifact,
        )
    except (FileNotFoundError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        # Gone from the database (retired meanwhile) or unreadable: the project's model.
        watch.unusable.add(pointer.model_id)
        log.warning("nlu_review.active_model_unusable", model_id=pointer.model_id, error=str(exc))
        return None
