"""Interview self-scheduling: bookings per second under contention, and the chat turn around
a booking.

1. Contention. `--candidates` candidates with open invitations book at once, at most
   `--concurrency` in flight (each on its own pooled connection), spread over `--processes`
   OS processes, for `--slots` slots of `--capacity` seats: fewer seats than candidates.
   Each candidate does what the chat does: reads the offers (its own session), holds the
   soonest (one transaction), confirms it (another); when the time was just taken it reads
   the offers again and tries the next, until it is booked or no time is left. Prints
   bookings/s (confirmed bookings over the wall time of the whole race), the conflicts
   (times a candidate was told "just taken" and retried; seat collisions the hold resolved
   inside its transaction, by unique violation and savepoint), p50/p99 of a successful
   hold+confirm, and checks that no seat was booked twice.
2. The booking turn, sequential, no contention: the chat turn "下一轮面试什么时间"
   (ask_next_step) through `ConversationGateway` and the embedded engine, for candidates
   with an open invitation and with a confirmed booking; and the two button turns of a
   booking through the same gateway: tapping a time (offers + hold) and tapping "confirm"
   (confirm, the interview row, the webhook event, the confirmation with its .ics link).

    .venv/bin/python bench/scheduling.py                        # SQLite + in-process Redis
    .venv/bin/python bench/scheduling.py --database postgres    # scratch PostgreSQL db + Redis db 8
    .venv/bin/python bench/scheduling.py --database postgres --processes 2 --concurrency 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialogue_turn import database, rss_mib, seed  # noqa: E402  (bench/ is the script's directory)
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.exc import IntegrityError  # noqa: E402

from bot.conversation import ConversationGateway  # noqa: E402
from candor.ats.intake import accept_event  # noqa: E402
from candor.ats.schemas import ATS_EVENT  # noqa: E402
from candor.auth.principals import HRPrincipal  # noqa: E402
from candor.chat.messages import InboundMessage, Reply  # noqa: E402
from candor.clock import BUSINESS_TZ, utcnow  # noqa: E402
from candor.db.migrate import upgrade  # noqa: E402
from candor.logging import configure_logging  # noqa: E402
from candor.models import Application, Job  # noqa: E402
from candor.models.enums import Channel, InterviewKind, Role  # noqa: E402
from candor.models.scheduling import (  # noqa: E402
    BookingState,
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
    SlotSource,
)
from candor.runtime import Runtime  # noqa: E402
from candor.scheduling import ics, service  # noqa: E402
from candor.scheduling.errors import SlotTakenError  # noqa: E402
from candor.scheduling.slots import WeeklyWindow, add_slots, weekly_specs  # noqa: E402
from candor.settings import Settings  # noqa: E402
from candor.sla.calendar import WorkingCalendar  # noqa: E402
from candor.sla.service import current_calendar  # noqa: E402

SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - a throwaway db
QUESTION = "下一轮面试什么时间"
ADMIN = HRPrincipal(user_id=0, role=Role.ADMIN, team_ids=frozenset())
RACE_JOB = "race-job"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)] if ordered else 0.0


def bench_settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        env="test",
        secret_key=SECRET,
        database_url=database_url,
        redis_url=redis_url,
        log_level="WARNING",
    )


# -- Seeding ----------------------------------------------------------------------------------


async def job_id_of(runtime: Runtime, external_id: str) -> int:
    async with runtime.sessionmaker() as session:
        found = await session.scalar(select(Job.id).where(Job.external_id == external_id))
        assert found is not None
        return found


async def open_scheduling(
    runtime: Runtime, job_id: int, *, slots: int, capacity: int, start: date
) -> None:
    """The job schedules its second round itself, with `slots` one-hour slots of
    `capacity` seats on the working days from `start`."""
    async with runtime.transaction() as session:
        await service.set_policy(
            session,
            job_id,
            interview_kind=InterviewKind.ONSITE,
            min_notice_hours=2,
            move_cutoff_hours=24,
            offer_count=3,
            actor="bench",
        )
        calendar = await current_calendar(session)
        window = WeeklyWindow(
            start=clock_time(9), end=clock_time(18), duration_minutes=60, capacity=capacity
        )
        specs = weekly_specs(calendar, [window], start, start + timedelta(days=120))[:slots]
        assert len(specs) == slots, "widen the window: not enough working hours"
        await add_slots(
            session,
            ADMIN,
            job_id,
            specs,
            round=2,
            kind=InterviewKind.ONSITE,
            source=SlotSource.WEEKLY,
            now=utcnow(),
        )


async def invite_all(runtime: Runtime, job_id: int) -> list[int]:
    now = utcnow()
    async with runtime.transaction() as session:
        applications = (
            await session.scalars(select(Application).where(Application.job_id == job_id))
        ).all()
        invitations = []
        for application in applications:
            invitation = await service.invite(
                session, application, outreach_message_id=None, now=now
            )
            assert invitation is not None
            invitations.append(invitation.id)
        return invitations


async def seed_race(runtime: Runtime, candidates: int) -> None:
    for first in range(0, candidates, 200):
        async with runtime.transaction() as session:
            for n in range(first, min(first + 200, candidates)):
                raw = {
                    "event_id": f"race-{n}",
                    "type": "application_created",
                    "data": {
                        "application_external_id": f"race-app-{n}",
                        "applied_at": "2026-03-02T10:00:00+08:00",
                        "candidate": {"external_id": f"race-cand-{n}", "name": "韩梅梅"},
                        "job": {
                            "external_id": RACE_JOB,
                            "title": "测试工程师",
                            "team_external_id": "bench-team",
                        },
                    },
                }
                await accept_event(session, ATS_EVENT.validate_python(raw))


def first_day() -> date:
    return utcnow().astimezone(BUSINESS_TZ).date() + timedelta(days=2)


# -- 1. Contention ----------------------------------------------------------------------------


@dataclass
class RaceFigures:
    booked: list[str] = field(default_factory=list)
    retried: int = 0  # "just taken": offers read again and the next time tried
    collisions: int = 0  # unique violations resolved inside a hold
    latencies: list[float] = field(default_factory=list)  # successful hold+confirm
    unbooked: int = 0


async def race(
    settings: Settings, invitations: list[int], concurrency: int, pick: str, seed_value: int
) -> RaceFigures:
    runtime = Runtime.create(settings.model_copy(update={"database_pool_size": concurrency}))
    figures = RaceFigures()
    rng = random.Random(seed_value)

    @event.listens_for(runtime.engine.sync_engine, "handle_error")
    def _count(context: Any) -> None:
        if isinstance(context.sqlalchemy_exception, IntegrityError):
            figures.collisions += 1

    gate = asyncio.Semaphore(concurrency)
    try:
        async with runtime.sessionmaker() as session:
            calendar: WorkingCalendar = await current_calendar(session)

        async def candidate(invitation_id: int) -> None:
            async with gate:
                while True:
                    now = utcnow()
                    async with runtime.sessionmaker() as session:
                        invitation = await session.get_one(SchedulingInvitation, invitation_id)
                        offered = await service.offers(session, invitation, calendar, now=now)
                    if not offered:
                        figures.unbooked += 1
                        return
                    choice = offered[0] if pick == "soonest" else rng.choice(offered)
                    began = time.perf_counter()
                    try:
                        async with runtime.transaction() as session:
                            invitation = await session.get_one(SchedulingInvitation, invitation_id)
                            held = await service.hold(
                                session, invitation, choice.slot.id, by=service.CANDIDATE, now=now
                            )
                            public_id = held.public_id
                    except SlotTakenError:
                        figures.retried += 1
                        continue
                    async with runtime.transaction() as session:
                        invitation = await session.get_one(SchedulingInvitation, invitation_id)
                        await service.confirm(
                            session, invitation, public_id, by=service.CANDIDATE, now=now
                        )
                    figures.latencies.append(time.perf_counter() - began)
                    figures.booked.append(public_id)
                    return

        await asyncio.gather(*(candidate(i) for i in invitations))
        return figures
    finally:
        await runtime.aclose()


def race_process(
    database_url: str,
    redis_url: str,
    invitations: list[int],
    concurrency: int,
    pick: str,
    seed_value: int,
    start: Any,
    results: Any,
) -> None:
    settings = bench_settings(database_url, redis_url)
    configure_logging(settings)

    async def run() -> RaceFigures:
        await asyncio.to_thread(start.wait)
        return await race(settings, invitations, concurrency, pick, seed_value)

    results.put(asdict(asyncio.run(run())))  # a dict: the parent cannot import __mp_main__


async def double_booked(settings: Settings) -> tuple[int, int]:
    """(seats live in more than one booking, confirmed bookings)."""
    runtime = Runtime.create(settings)
    try:
        async with runtime.sessionmaker() as session:
            doubled = (
                await session.execute(
                    select(InterviewBooking.slot_id, InterviewBooking.seat)
                    .where(InterviewBooking.state.in_(("held", "confirmed")))
                    .group_by(InterviewBooking.slot_id, InterviewBooking.seat)
                    .having(func.count() > 1)
                )
            ).all()
            confirmed = await session.scalar(
                select(func.count())
                .select_from(InterviewBooking)
                .where(InterviewBooking.state == BookingState.CONFIRMED)
            )
        return len(doubled), int(confirmed or 0)
    finally:
        await runtime.aclose()


def contention(settings: Settings, invitations: list[int], args: argparse.Namespace) -> None:
    seats = args.slots * args.capacity
    began = time.perf_counter()
    if args.processes == 1:
        figures = [asyncio.run(race(settings, invitations, args.concurrency, args.pick, 1))]
    else:
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(args.processes + 1)
        results = context.Queue()
        per = max(1, args.concurrency // args.processes)
        workers = [
            context.Process(
                target=race_process,
                args=(
                    settings.database_url,
                    settings.redis_url,
                    invitations[n :: args.processes],
                    per,
                    args.pick,
                    n,
                    start,
                    results,
                ),
            )
            for n in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        start.wait()  # every process imported and ready: the race starts now
        began = time.perf_counter()
        figures = [RaceFigures(**results.get(timeout=1800)) for _ in workers]
        for worker in workers:
            worker.join()
    wall = time.perf_counter() - began
    booked = sum(len(f.booked) for f in figures)
    latencies = [x for f in figures for x in f.latencies]
    doubled, confirmed = asyncio.run(double_booked(settings))
    assert confirmed == booked == min(seats, len(invitations)), (confirmed, booked)
    assert doubled == 0
    print(
        f"contention: candidates={len(invitations)} seats={seats} "
        f"({args.slots} slots x {args.capacity}) concurrency={args.concurrency} "
        f"processes={args.processes} pick={args.pick}"
    )
    print(f"bookings={booked} wall_s={wall:.2f} bookings_per_s={booked / wall:.1f}")
    print(
        f"conflicts_retried={sum(f.retried for f in figures)} "
        f"seat_collisions_in_hold={sum(f.collisions for f in figures)} "
        f"unbooked={sum(f.unbooked for f in figures)} double_booked_seats={doubled}"
    )
    print(
        f"hold_confirm_p50_ms={statistics.median(latencies) * 1000:.1f} "
        f"hold_confirm_p99_ms={percentile(latencies, 0.99) * 1000:.1f}"
    )


# -- 2. The booking turn ----------------------------------------------------------------------


async def booking_turn(settings: Settings, turns: int, candidates: int) -> None:
    from bot.dialogue.engine import EmbeddedEngine

    runtime = Runtime.create(settings)
    gateway = ConversationGateway(runtime, engine=EmbeddedEngine(runtime))
    try:
        job_id = await job_id_of(runtime, "job-1")
        invitations = await invite_all(runtime, job_id)
        async with runtime.sessionmaker() as session:
            calendar = await current_calendar(session)
            web_ids = dict(
                (
                    await session.execute(
                        select(SchedulingInvitation.id, Application.external_id).join(
                            Application, Application.id == SchedulingInvitation.application_id
                        )
                    )
                ).all()
            )
        booked_half = invitations[: candidates // 2]

        async def pick(invitation_id: int) -> str:
            now = utcnow()
            async with runtime.transaction() as session:
                invitation = await session.get_one(SchedulingInvitation, invitation_id)
                offered = await service.offers(session, invitation, calendar, now=now)
                held = await service.hold(
                    session, invitation, offered[0].slot.id, by=service.CANDIDATE, now=now
                )
                return held.public_id

        async def confirm(invitation_id: int, public_id: str) -> bytes:
            now = utcnow()
            async with runtime.transaction() as session:
                invitation = await session.get_one(SchedulingInvitation, invitation_id)
                booking, _ = await service.confirm(
                    session, invitation, public_id, by=service.CANDIDATE, now=now
                )
                slot = await session.get_one(InterviewSlot, booking.slot_id)
                return ics.booking_ics(
                    slot, booking_id=booking.public_id, title="二面", description="", now=now
                )

        async def cancel(invitation_id: int, public_id: str) -> None:
            async with runtime.transaction() as session:
                invitation = await session.get_one(SchedulingInvitation, invitation_id)
                await service.cancel(session, invitation, public_id, by="user:0", now=utcnow())

        for invitation_id in booked_half:
            await confirm(invitation_id, await pick(invitation_id))

        async def ask(invitation_id: int, n: int) -> tuple[float, str]:
            user = "web-" + web_ids[invitation_id].removeprefix("app-")
            message = InboundMessage(
                Channel.WEB, user, utcnow(), text=QUESTION, provider_message_id=f"q-{n}"
            )
            began = time.perf_counter()
            replies = await gateway.handle(message)
            return time.perf_counter() - began, replies[0].text if replies else ""

        await ask(invitations[-1], -1)  # warm-up: the NLU model and the engine load
        open_turns: list[float] = []
        booked_turns: list[float] = []
        for n in range(turns):
            invitation_id = invitations[n % len(invitations)]
            took, text = await ask(invitation_id, n)
            if invitation_id in booked_half:
                assert "安排在" in text, text  # "你的下一轮现场面试安排在 …"
                booked_turns.append(took)
            else:
                assert text, "no answer"
                open_turns.append(took)

        async def press(invitation_id: int, payload: str, n: int) -> tuple[float, Reply]:
            user = "web-" + web_ids[invitation_id].removeprefix("app-")
            message = InboundMessage(
                Channel.WEB,
                user,
                utcnow(),
                event="button",
                event_key=payload,
                provider_message_id=f"b-{n}",
            )
            began = time.perf_counter()
            replies = await gateway.handle(message)
            assert replies, payload
            return time.perf_counter() - began, replies[-1]

        picks: list[float] = []
        confirms: list[float] = []
        open_ones = invitations[candidates // 2 :]
        for n in range(turns):
            invitation_id = open_ones[n % len(open_ones)]
            async with runtime.sessionmaker() as session:
                invitation = await session.get_one(SchedulingInvitation, invitation_id)
                offered = await service.offers(session, invitation, calendar, now=utcnow())
            # The chat's own turns: the candidate taps a time, then "confirm".
            took, held = await press(
                invitation_id, f'/choose_slot{{"slot_id": "{offered[0].slot.id}"}}', 2 * n
            )
            picks.append(took)
            confirm_payload = next(
                b.payload for b in held.buttons if b.payload.startswith("/confirm_booking")
            )
            took, _ = await press(invitation_id, confirm_payload, 2 * n + 1)
            confirms.append(took)
            public_id = json.loads(confirm_payload.removeprefix("/confirm_booking"))["booking_id"]
            await cancel(invitation_id, public_id)  # not measured: the next round books again
    finally:
        await runtime.aclose()
    print(f"booking turn: turns={turns} candidates={candidates} engine=embedded")
    for name, values in (
        ("turn_ask_next_step_open_invitation", open_turns),
        ("turn_ask_next_step_booked", booked_turns),
        ("turn_choose_slot_hold", picks),
        ("turn_confirm_booking", confirms),
    ):
        print(
            f"{name}_p50_ms={statistics.median(values) * 1000:.1f} "
            f"{name}_p99_ms={percentile(values, 0.99) * 1000:.1f}"
        )
    print(f"rss_mib={rss_mib():.0f}")


# -- Main -------------------------------------------------------------------------------------


async def prepare(settings: Settings, args: argparse.Namespace) -> list[int]:
    runtime = Runtime.create(settings)
    try:
        await seed(runtime, args.turn_candidates)
        await seed_race(runtime, args.candidates)
        start = first_day()
        await open_scheduling(
            runtime,
            await job_id_of(runtime, "job-1"),
            slots=200,
            capacity=1,
            start=start,
        )
        race_job = await job_id_of(runtime, RACE_JOB)
        await open_scheduling(
            runtime, race_job, slots=args.slots, capacity=args.capacity, start=start
        )
        return await invite_all(runtime, race_job)
    finally:
        await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--candidates", type=int, default=500, help="racing candidates")
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--capacity", type=int, default=5, help="seats per slot")
    parser.add_argument("--concurrency", type=int, default=50, help="candidates in flight")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--pick", choices=["soonest", "random"], default="soonest")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--turn-candidates", type=int, default=20)
    parser.add_argument("--parts", default="contention,turn")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with database(args.database) as url:
        settings = bench_settings(url, "memory://" if args.database == "sqlite" else args.redis_url)
        configure_logging(settings)
        upgrade(settings)
        invitations = asyncio.run(prepare(settings, args))
        database_kind = "SQLite + fakeredis" if settings.uses_sqlite else "PostgreSQL + Redis"
        print(f"database={database_kind}")
        if "contention" in parts:
            contention(settings, invitations, args)
        if "turn" in parts:
            asyncio.run(booking_turn(settings, args.turns, args.turn_candidates))


if __name__ == "__main__":
    main()
