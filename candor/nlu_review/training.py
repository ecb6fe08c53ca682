"""Models trained on the reviewed examples: training a candidate, the accept gate, and the
active-model pointer's changes (admins, in the console).

A candidate is trained on the project's NLU data plus the approved examples, then it and
the model the chat uses now are scored on every blind set; both sets of figures are kept
with the candidate. Accepting it is refused while any figure is worse than the current
model's on any blind set, or when what it was compared with is no longer true (another
model became active, the project files or the blind sets changed: train again).

Training takes seconds, so it runs in a worker thread, one at a time across all processes
(a Redis lock), and without holding the database: the request's transaction is committed
before training starts (as idempotency keys commit early), and the candidate is written in
a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import LockError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.errors import CandorError
from candor.logging import get_logger
from candor.models import ActiveNluModel, NluModelVersion
from candor.models.nlu_review import NluModelState
from candor.nlu_review import active
from candor.nlu_review.evaluation import (
    BlindSetError,
    BlindSets,
    Figures,
    Regression,
    eval_dir,
    load_blind_sets,
    measure,
    regressions,
)
from candor.nlu_review.export import ReviewedExamples, approved_examples
from candor.settings import Settings
from nlu.model import MODEL_FORMAT, NluModel, load_or_train, open_tokenizer, train
from nlu.project import RasaProject
from nlu.training_data import TrainingData, TrainingDataError

log = get_logger(__name__)

TRAINING_LOCK_KEY = "candor:nlu:training"
TRAINING_LOCK_SECONDS = 600  # a crashed trainer's lock expires
HISTORY_LIMIT = 20


class ModelError(CandorError, ValueError):
    """A model change that cannot be made as asked; the message says why."""

    code = "invalid_model_change"
    http_status = 422


class NothingToTrainError(ModelError):
    code = "nothing_to_train"


class ModelNotFoundError(ModelError):
    code = "model_not_found"
    http_status = 404


class TrainingBusyError(ModelError):
    code = "training_busy"
    http_status = 409


class ModelStateError(ModelError):
    code = "model_state"
    http_status = 409


class StaleCandidateError(ModelError):
    """What the candidate was measured against is no longer the case: train again."""

    code = "stale_candidate"
    http_status = 409


class GateRefusedError(ModelError):
    """The candidate does worse than the current model on a blind set."""

    code = "gate_refused"
    http_status = 409

    def __init__(self, model_id: int, found: list[Regression]) -> None:
        self.regressions = found
        self.detail = (
            "it does worse than the current model on the blind evaluation sets ("
            + "; ".join(r.describe() for r in found)
            + "). Reopen wrong verdicts, or review more messages, and train again."
        )
        super().__init__(f"model {model_id} is refused: {self.detail}")


def project_fingerprint(project: RasaProject) -> str:
    return project.fingerprint(salt=MODEL_FORMAT)


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overview:
    """What the console's model page shows."""

    active: NluModelVersion | None  # the accepted model the pointer names
    active_in_use: bool  # False: trained on other project files, the project's model answers
    candidates: list[NluModelVersion]
    history: list[NluModelVersion]  # retired and discarded, newest first
    reviewed: ReviewedExamples | None
    blind: BlindSets | None
    problem: str | None  # why the blind sets cannot be read
    blockers: dict[int, str]  # candidate id -> why accepting it would be refused now


async def overview(session: AsyncSession, settings: Settings) -> Overview:
    project = RasaProject.default()
    fingerprint = project_fingerprint(project)
    pointer = await active.read_pointer(session)
    current = (
        await session.get(NluModelVersion, pointer.model_id)
        if pointer.model_id is not None
        else None
    )
    candidates = list(
        (
            await session.scalars(
                select(NluModelVersion)
                .where(NluModelVersion.state == NluModelState.CANDIDATE)
                .order_by(NluModelVersion.id.desc())
            )
        ).all()
    )
    history = list(
        (
            await session.scalars(
                select(NluModelVersion)
                .where(NluModelVersion.state.in_((NluModelState.RETIRED, NluModelState.DISCARDED)))
                .order_by(NluModelVersion.id.desc())
                .limit(HISTORY_LIMIT)
            )
        ).all()
    )
    blind: BlindSets | None = None
    reviewed: ReviewedExamples | None = None
    problem: str | None = None
    try:
        blind = load_blind_sets(eval_dir(settings))
        reviewed = await approved_examples(session, blind=blind, intents=project.intents())
    except BlindSetError as exc:
        problem = str(exc)
    in_use = pointer.usable_with(fingerprint)
    blockers = {
        candidate.id: reason
        for candidate in candidates
        if (reason := _blocker(candidate, blind, fingerprint, pointer.model_id if in_use else None))
        is not None
    }
    return Overview(current, in_use, candidates, history, reviewed, blind, problem, blockers)


def _blocker(
    candidate: NluModelVersion,
    blind: BlindSets | None,
    fingerprint: str,
    effective_model_id: int | None,
) -> str | None:
    """Why accepting the candidate would be refused now, or None."""
    stale = _staleness(candidate, blind, fingerprint, effective_model_id)
    if stale is not None:
        return stale
    found = regressions(candidate.figures, candidate.baseline_figures)
    return GateRefusedError(candidate.id, found).detail if found else None


def _staleness(
    candidate: NluModelVersion,
    blind: BlindSets | None,
    fingerprint: str,
    effective_model_id: int | None,
) -> str | None:
    """What no longer holds of the candidate's comparison, or None."""
    if candidate.base_fingerprint != fingerprint:
        return (
            f"the project's training files changed since model {candidate.id} was trained: "
            "train again"
        )
    if blind is None or blind.digest != candidate.eval_digest:
        return (
            f"the blind evaluation sets changed since model {candidate.id} was measured: "
            "train again"
        )
    if candidate.baseline_model_id != effective_model_id:
        return (
            f"the model in use changed since model {candidate.id} was compared with it: train again"
        )
    return None


# -- training --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Trained:
    base_fingerprint: str  # of the project files as read for training
    fingerprint: str
    figures: Figures
    baseline_figures: Figures
    artifact: bytes
    seconds: float


async def train_candidate(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    actor: str,
    now: datetime,
) -> NluModelVersion:
    """Train a candidate on the project data plus the approved examples and measure it and
    the model in use on the blind sets. Older candidates are superseded. Commits the
    session's transaction before training (see the module's docstring)."""
    lock = redis.lock(TRAINING_LOCK_KEY, timeout=TRAINING_LOCK_SECONDS, blocking=False)
    if not await lock.acquire():
        raise TrainingBusyError("a model is being trained already; try again in a minute")
    try:
        return await _train_locked(session, settings, actor=actor, now=now)
    finally:
        with contextlib.suppress(LockError):
            await lock.release()


async def _train_locked(
    session: AsyncSession, settings: Settings, *, actor: str, now: datetime
) -> NluModelVersion:
    project = RasaProject.default()
    fingerprint = project_fingerprint(project)
    try:
        blind = load_blind_sets(eval_dir(settings))
    except BlindSetError as exc:
        raise ModelError(str(exc)) from exc
    reviewed = await approved_examples(session, blind=blind, intents=project.intents())
    if not reviewed.examples:
        raise NothingToTrainError("no approved examples to train on yet: review some messages")
    pointer = await active.read_pointer(session)
    baseline_id = pointer.model_id if pointer.usable_with(fingerprint) else None
    baseline_artifact = None
    if (
        baseline_id is not None
        and pointer.fingerprint is not None
        and not (active.model_dir(settings, pointer.fingerprint) / "meta.json").is_file()
    ):
        baseline_artifact = await active.stored_artifact(session, baseline_id)
    await session.commit()  # nothing is held while training: chat turns go on
    try:
        trained = await asyncio.to_thread(
            _train_and_measure,
            settings,
            project,
            reviewed,
            blind,
            baseline_fingerprint=pointer.fingerprint if baseline_id is not None else None,
            baseline_artifact=baseline_artifact,
        )
    except (TrainingDataError, FileNotFoundError, ValueError) as exc:
        raise ModelError(f"training failed: {exc}") from exc
    superseded = (
        await session.scalars(
            select(NluModelVersion)
            .where(NluModelVersion.state == NluModelState.CANDIDATE)
            .with_for_update()
        )
    ).all()
    for old in superseded:
        old.state, old.artifact = NluModelState.DISCARDED, None
        old.decided_by, old.decided_at = actor, now
    candidate = NluModelVersion(
        state=NluModelState.CANDIDATE,
        fingerprint=trained.fingerprint,
        base_fingerprint=trained.base_fingerprint,
        eval_digest=blind.digest,
        examples=len(reviewed.examples),
        figures=trained.figures,
        baseline_model_id=baseline_id,
        baseline_figures=trained.baseline_figures,
        artifact=trained.artifact,
        training_seconds=round(trained.seconds, 3),
        trained_by=actor,
        trained_at=now,
    )
    session.add(candidate)
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.NLU_MODEL_TRAINED,
        object_type="nlu_model",
        object_id=candidate.id,
        after=_snapshot(candidate),
        details={
            "examples": candidate.examples,
            "left_out_in_blind_sets": reviewed.in_blind_sets,
            "left_out_unknown_intent": reviewed.unknown_intent,
            "superseded": [old.id for old in superseded],
            "baseline_model_id": baseline_id,
        },
        at=now,
    )
    log.info(
        "nlu_review.candidate_trained",
        model_id=candidate.id,
        examples=candidate.examples,
        seconds=candidate.training_seconds,
    )
    return candidate


def _train_and_measure(
    settings: Settings,
    project: RasaProject,
    reviewed: ReviewedExamples,
    blind: BlindSets,
    *,
    baseline_fingerprint: str | None,
    baseline_artifact: bytes | None,
) -> _Trained:
    """In a worker thread: train, measure both models, pack the candidate."""
    started = time.perf_counter()
    base_fingerprint = project_fingerprint(project)
    yaml = reviewed.yaml()
    data = TrainingData()
    data.merge(project.training_data())
    data.merge(reviewed.training_data())
    fingerprint = hashlib.sha256(f"{base_fingerprint}\0{yaml}".encode()).hexdigest()
    tokenizer = open_tokenizer(project, settings.nlu_cache_dir)
    model = train(
        data,
        tokenizer=tokenizer,
        thresholds=project.fallback_thresholds(),
        fingerprint=fingerprint,
    )
    baseline: NluModel
    if baseline_fingerprint is None:
        baseline = load_or_train(settings, project=project)
    else:
        baseline = active.load_reviewed(
            settings, baseline_fingerprint, tokenizer=tokenizer, artifact=baseline_artifact
        )
    figures = measure(model, blind)
    baseline_figures = measure(baseline, blind)
    active.save_locally(settings, model)
    return _Trained(
        base_fingerprint,
        fingerprint,
        figures,
        baseline_figures,
        active.pack_model(model),
        time.perf_counter() - started,
    )


# -- the gate and the pointer ----------------------------------------------------------------


async def accept(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    model_id: int,
    *,
    actor: str,
    now: datetime,
) -> NluModelVersion:
    """Make the candidate the chat's model, if it passes the gate (else GateRefusedError or
    StaleCandidateError, and nothing changes)."""
    pointer_row = await _locked_pointer(session, actor=actor, now=now)
    candidate = await _model(session, model_id)
    if candidate.state is not NluModelState.CANDIDATE:
        raise ModelStateError(
            f"model {candidate.id} is {candidate.state.value}: only a candidate can be accepted"
        )
    project = RasaProject.default()
    fingerprint = project_fingerprint(project)
    try:
        blind: BlindSets | None = load_blind_sets(eval_dir(settings))
    except BlindSetError:
        blind = None
    current = (
        await session.get(NluModelVersion, pointer_row.model_id, with_for_update=True)
        if pointer_row.model_id is not None
        else None
    )
    effective = (
        current.id if current is not None and current.base_fingerprint == fingerprint else None
    )
    stale = _staleness(candidate, blind, fingerprint, effective)
    if stale is not None:
        raise StaleCandidateError(stale)
    found = regressions(candidate.figures, candidate.baseline_figures)
    if found:
        log.info("nlu_review.accept_refused", model_id=candidate.id, regressions=len(found))
        raise GateRefusedError(candidate.id, found)
    if current is not None:
        current.state, current.artifact = NluModelState.RETIRED, None
    candidate.state = NluModelState.ACTIVE
    candidate.decided_by, candidate.decided_at = actor, now
    pointer_row.model_id, pointer_row.changed_by, pointer_row.changed_at = candidate.id, actor, now
    record(
        session,
        actor=actor,
        action=Action.NLU_MODEL_ACCEPTED,
        object_type="nlu_model",
        object_id=candidate.id,
        before={"active_model_id": current.id if current is not None else None},
        after={"active_model_id": candidate.id},
        details={"figures": candidate.figures, "baseline_figures": candidate.baseline_figures},
        at=now,
    )
    await session.flush()
    active.forget_pointer_on_commit(session, redis)
    log.info("nlu_review.model_accepted", model_id=candidate.id)
    return candidate


async def discard(
    session: AsyncSession, model_id: int, *, actor: str, now: datetime
) -> NluModelVersion:
    candidate = await _model(session, model_id)
    if candidate.state is not NluModelState.CANDIDATE:
        raise ModelStateError(
            f"model {candidate.id} is {candidate.state.value}: only a candidate can be discarded"
        )
    candidate.state, candidate.artifact = NluModelState.DISCARDED, None
    candidate.decided_by, candidate.decided_at = actor, now
    record(
        session,
        actor=actor,
        action=Action.NLU_MODEL_DISCARDED,
        object_type="nlu_model",
        object_id=candidate.id,
        before={"state": NluModelState.CANDIDATE.value},
        after={"state": candidate.state.value},
        at=now,
    )
    await session.flush()
    return candidate


async def revert_to_project_model(
    session: AsyncSession, redis: Redis, *, actor: str, now: datetime
) -> None:
    """Stop using the accepted model: the project's own model answers again."""
    pointer_row = await _locked_pointer(session, actor=actor, now=now)
    if pointer_row.model_id is None:
        raise ModelStateError("the project's own model is in use already")
    current = await session.get_one(NluModelVersion, pointer_row.model_id, with_for_update=True)
    current.state, current.artifact = NluModelState.RETIRED, None
    current.decided_by, current.decided_at = actor, now
    pointer_row.model_id, pointer_row.changed_by, pointer_row.changed_at = None, actor, now
    record(
        session,
        actor=actor,
        action=Action.NLU_MODEL_REVERTED,
        object_type="nlu_model",
        object_id=current.id,
        before={"active_model_id": current.id},
        after={"active_model_id": None},
        at=now,
    )
    await session.flush()
    active.forget_pointer_on_commit(session, redis)


async def _model(session: AsyncSession, model_id: int) -> NluModelVersion:
    found = await session.get(NluModelVersion, model_id, with_for_update=True)
    if found is None:
        raise ModelNotFoundError(f"there is no model {model_id}")
    return found


async def _locked_pointer(session: AsyncSession, *, actor: str, now: datetime) -> ActiveNluModel:
    """The pointer row, locked so model changes are serial; created on first use."""
    row = await session.get(ActiveNluModel, active.POINTER_ROW_ID, with_for_update=True)
    if row is not None:
        return row
    try:
        async with session.begin_nested():
            row = ActiveNluModel(
                id=active.POINTER_ROW_ID, model_id=None, changed_by=actor, changed_at=now
            )
            session.add(row)
    except IntegrityError:  # created meanwhile by a concurrent change
        row = await session.get(
            ActiveNluModel, active.POINTER_ROW_ID, with_for_update=True, populate_existing=True
        )
        if row is None:
            raise
    return row


def _snapshot(model: NluModelVersion) -> dict[str, object]:
    return {
        "state": model.state.value,
        "fingerprint": model.fingerprint[:12],
        "examples": model.examples,
        "figures": model.figures,
        "baseline_figures": model.baseline_figures,
    }
