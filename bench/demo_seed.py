"""Benchmark seeding the demo company, and print the story it tells.

    .venv/bin/python bench/demo_seed.py            # a fresh SQLite database, as `candor demo`
    .venv/bin/python bench/demo_seed.py --postgres # a scratch PostgreSQL database

Prints the seconds `seed_demo` takes (migrations excluded; wall and CPU), then, through the
KPI service, feedback timeliness, time to feedback and CSAT before and after the adoption day, open
breaches and today's approval inbox.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import structlog

from candor.clock import utcnow
from candor.db.migrate import upgrade
from candor.demo.seed import seed_demo
from candor.demo.story import read_story
from candor.runtime import open_runtime
from candor.settings import Settings
from candor.sla.service import current_calendar


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


async def run(settings: Settings) -> None:
    now = utcnow()
    async with open_runtime(settings) as runtime:
        started, cpu_started = time.perf_counter(), time.process_time()
        with structlog.testing.capture_logs():
            async with runtime.transaction() as session:
                summary = await seed_demo(session, settings, now=now)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        async with runtime.sessionmaker() as session:
            story = await read_story(
                session,
                await current_calendar(session),
                now=now,
                promise_working_days=settings.promise_working_days,
            )
    print(
        f"seeded {summary.applications} applications from {summary.events} ATS events "
        f"in {elapsed:.1f} s ({cpu:.1f} s of this process's CPU)"
    )
    for name, f in (("before adoption", story.before), ("after adoption", story.after)):
        print(
            f"{name:>16}: {f.interviews_completed} interviews, timeliness "
            f"{_percent(f.timeliness_rate)}, time to feedback median "
            f"{f.time_to_feedback_median} p90 {f.time_to_feedback_p90} working days, "
            f"{f.results_sent} results sent, CSAT mean {f.csat.mean} ({f.csat.rated} answers), "
            f"reply rate {_percent(f.reply_rate)}, hand-offs {f.handoffs} "
            f"(HR first response median {f.hr_first_response_median_hours} h)"
        )
    print(f"open breaches now: {story.after.breaches_open}")
    print(f"approval inbox: {story.inbox_drafts} drafts, {story.inbox_due_soon} not yet due")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        from services import postgres_database

        with postgres_database("candor_bench_demo") as url:
            settings = Settings(database_url=url)
            upgrade(settings)
            asyncio.run(run(settings))
        return
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{Path(directory) / 'demo.sqlite3'}")
        upgrade(settings)
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
