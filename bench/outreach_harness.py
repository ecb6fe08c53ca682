"""What the outreach benchmarks share: a scratch PostgreSQL database, a seeded hiring world,
results decided through the real ATS path, and real `candor worker` and fake-channel processes.

Not a benchmark itself; `outreach_throughput.py` and `outreach_faults.py` import it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import IO, Any

from services import free_port, wait_until_started
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from candor.ats.intake import accept_event
from candor.ats.schemas import ATS_EVENT
from candor.logging import configure_logging
from candor.models import Application, Candidate, ChatIdentity, CodeSequence, Interview, Job, Team
from candor.models.enums import (
    ApplicationStatus,
    Channel,
    InterviewKind,
    Locale,
    Stage,
)
from candor.outreach.context import ResultDrafter, outreach_context
from candor.runtime import open_runtime
from candor.settings import Settings

BENCH_SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105 - a throwaway
REPO = Path(__file__).resolve().parent.parent
# Quiet hours (21:00-08:00 Shanghai) would defer every delivery during a night-time run;
# start == end means "no quiet hours".
NO_QUIET_HOURS = clock_time(0, 0)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯邓曹彭"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "子涵", "浩然", "欣怡"]
FIRST_NAMES = ["James", "Mary", "John", "Emma", "Olivia", "Noah", "Liam", "Sophia", "Lucas"]
LAST_NAMES = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Wilson", "Lee", "O'Brien"]
JOB_TITLES = ["后端工程师", "前端工程师", "数据分析师", "销售经理", "产品经理", "SRE Engineer"]


# --- the database -------------------------------------------------------------------------


def bench_settings(database_url: str, redis_url: str = "memory://") -> Settings:
    return Settings(
        env="test",
        secret_key=BENCH_SECRET,
        database_url=database_url,
        redis_url=redis_url,
        quiet_hours_start=NO_QUIET_HOURS,
        quiet_hours_end=NO_QUIET_HOURS,
    )


async def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


async def execute(url: str, *statements: str, autocommit: bool = False, **params: Any) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT" if autocommit else None)
    try:
        async with engine.begin() if not autocommit else engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement), params)
    finally:
        await engine.dispose()


# --- the hiring world ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    application: str
    interview: str


async def _insert(connection: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), 5_000):
        result = await connection.execute(
            insert(table).returning(table.id, sort_by_parameter_order=True),
            rows[start : start + 5_000],
        )
        ids.extend(int(row[0]) for row in result)
    return ids


def _person(rng: random.Random, number: int) -> dict[str, Any]:
    if rng.random() < 0.8:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        email, locale = f"c{number:07d}@{rng.choice(['qq.com', '163.com'])}", Locale.ZH_CN
    else:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        email, locale = f"c{number:07d}@{rng.choice(['gmail.com', 'outlook.com'])}", Locale.EN
    preferred = rng.sample(["wechat", "telegram", "email"], rng.randint(0, 2))
    return {
        "external_id": f"bench-cand-{number:07d}",
        "name": name,
        "mobile": f"13{rng.randint(0, 10**9 - 1):09d}",
        "email": email,
        "locale": locale,
        "consent_contact": True,
        "consent_talent_pool": rng.random() < 0.3,
        "consent_wechat_subscription": rng.random() < 0.5,
        "preferred_channels": preferred,
    }


async def seed_world(url: str, count: int, seed: int) -> list[Seeded]:
    """`count` applications at a completed AI interview, awaiting their result.

    Bulk inserts: this is the set-up, not what is measured. About 60 % of candidates have a
    bound WeChat identity and 10 % a Telegram one; everyone has an e-mail address.
    """
    rng = random.Random(seed)
    now = datetime.now(UTC)
    engine = create_async_engine(url)
    seeded: list[Seeded] = []
    try:
        async with engine.begin() as connection:
            team_ids = await _insert(
                connection,
                Team,
                [{"external_id": f"bench-team-{t}", "name": f"部门{t}"} for t in range(5)],
            )
            job_ids = await _insert(
                connection,
                Job,
                [
                    {
                        "external_id": f"bench-job-{j}",
                        "team_id": team_ids[j % len(team_ids)],
                        "title": JOB_TITLES[j % len(JOB_TITLES)],
                    }
                    for j in range(40)
                ],
            )
            people = [_person(rng, n) for n in range(count)]
            candidate_ids = await _insert(connection, Candidate, people)
            identities = []
            for n, candidate_id in enumerate(candidate_ids):
                for channel, share in ((Channel.WECHAT, 0.6), (Channel.TELEGRAM, 0.1)):
                    if rng.random() < share:
                        identities.append(
                            {
                                "channel": channel,
                                "external_user_id": f"{channel.value}-bench-{n}",
                                "candidate_id": candidate_id,
                                "bound_at": now,
                            }
                        )
            await _insert(connection, ChatIdentity, identities)
            year = now.year
            application_ids = await _insert(
                connection,
                Application,
                [
                    {
                        "code": f"AP-{year:04d}-{n + 1:06d}",
                        "external_id": f"bench-app-{n:07d}",
                        "candidate_id": candidate_id,
                        "job_id": rng.choice(job_ids),
                        "stage": Stage.AI_INTERVIEW,
                        "status": ApplicationStatus.ACTIVE,
                        "applied_at": now - timedelta(days=rng.randint(3, 20)),
                        "result_version": 0,
                    }
                    for n, candidate_id in enumerate(candidate_ids)
                ],
            )
            await connection.execute(
                insert(CodeSequence).values(prefix=f"AP-{year:04d}", last_value=count)
            )
            await _insert(
                connection,
                Interview,
                [
                    {
                        "external_id": f"bench-iv-{n:07d}",
                        "application_id": application_id,
                        "kind": InterviewKind.AI_VIDEO,
                        "round": 1,
                        "completed_at": now - timedelta(hours=rng.randint(1, 72)),
                        "score": rng.randint(40, 98),
                        "report_summary": "表达清晰，基础扎实。",
                        "strengths": rng.sample(["沟通", "逻辑", "学习能力", "协作"], 3),
                        "improvements": ["系统设计"],
                    }
                    for n, application_id in enumerate(application_ids)
                ],
            )
            seeded = [
                Seeded(application=f"bench-app-{n:07d}", interview=f"bench-iv-{n:07d}")
                for n in range(count)
            ]
    finally:
        await engine.dispose()
    await execute(url, "ANALYZE", autocommit=True)
    return seeded


def result_event(seeded: Seeded, decision: str = "advance") -> dict[str, Any]:
    return {
        "event_id": f"decided-{seeded.application}",
        "type": "result_decided",
        "data": {
            "application_external_id": seeded.application,
            "interview_external_id": seeded.interview,
            "decision": decision,
            "decided_at": datetime.now(UTC).isoformat(),
            "next_steps": "下周二 14:00 现场面试",
        },
    }


async def decide_results(
    settings: Settings,
    applications: Sequence[Seeded],
    *,
    concurrency: int = 8,
    retry: bool = False,
) -> float:
    """Ingest one `result_decided` per application through `accept_event`, each in its own
    transaction as the API would; advance results are drafted, auto-approved and queued.

    With `retry`, a failed event is sent again with the same body after a pause, as an ATS
    retries a failed webhook (the event id makes that safe). Returns the elapsed seconds."""
    # The API would log each event at INFO; here that would only flood the terminal.
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    queue: asyncio.Queue[Seeded] = asyncio.Queue()
    for seeded in applications:
        queue.put_nowait(seeded)
    async with open_runtime(settings) as runtime:
        context = None
        while context is None:
            try:
                async with runtime.sessionmaker() as session:
                    context = await outreach_context(session, settings)
            except Exception:
                if not retry:
                    raise
                await asyncio.sleep(1.0)

        drafter = ResultDrafter(settings, context)

        async def ingest(raw: dict[str, Any]) -> None:
            async with runtime.transaction() as session:
                await accept_event(
                    session, ATS_EVENT.validate_python(raw), on_result_decided=drafter
                )

        async def drain() -> None:
            while not queue.empty():
                raw = result_event(queue.get_nowait())
                pause = 0.25
                while True:
                    try:
                        await ingest(raw)
                        break
                    except Exception:
                        if not retry:
                            raise
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, 4.0)

        started = time.perf_counter()
        await asyncio.gather(*(drain() for _ in range(concurrency)))
        return time.perf_counter() - started


def _decide_slice(url: str, applications: list[Seeded], concurrency: int) -> tuple[float, float]:
    started = time.time()
    asyncio.run(decide_results(bench_settings(url), applications, concurrency=concurrency))
    return started, time.time()


def decide_results_in_processes(
    url: str, applications: Sequence[Seeded], *, processes: int, concurrency: int
) -> float:
    """`decide_results` split over several processes (one core each); returns the seconds
    from the first process's start to the last one's end."""
    if processes <= 1:
        return asyncio.run(
            decide_results(bench_settings(url), applications, concurrency=concurrency)
        )
    slices = [list(applications[n::processes]) for n in range(processes)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        spans = list(pool.map(_decide_slice, [url] * processes, slices, [concurrency] * processes))
    return max(end for _, end in spans) - min(start for start, _ in spans)


async def hold_outbox(url: str, *, hold: bool) -> None:
    """Park the pending rows a day ahead (so workers can start first) or release them now."""
    await execute(
        url,
        "UPDATE outbox SET next_attempt_at = :at WHERE state = 'pending'",
        at=datetime.now(UTC) + (timedelta(days=1) if hold else timedelta(0)),
    )


# --- processes ----------------------------------------------------------------------------


class FakeChannelProcess:
    """`python -m candor.devtools.fake_channel` on a free port."""

    def __init__(self, log_dir: Path, *, latency_ms: float = 0.0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = (log_dir / f"fake-channel-{self.port}.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "candor.devtools.fake_channel",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
            ],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until_started(self.summary, self.process, "the fake channel")

    @property
    def url(self) -> str:
        return f"{self.base}/deliver"

    def summary(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.base}/_control/summary", timeout=30) as response:  # noqa: S310
            data: dict[str, int] = json.load(response)
            return data

    def deliveries(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.base}/_control/deliveries", timeout=60) as response:  # noqa: S310
            data: list[dict[str, Any]] = json.load(response)
            return data

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


def worker_environment(
    database_url: str, redis_url: str, webhook_url: str, **extra: str
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CANDOR_ENV": "test",
            "CANDOR_SECRET_KEY": BENCH_SECRET,
            "CANDOR_DATABASE_URL": database_url,
            "CANDOR_REDIS_URL": redis_url,
            "CANDOR_DELIVERY_WEBHOOK_URL": webhook_url,
            "CANDOR_QUIET_HOURS_START": NO_QUIET_HOURS.strftime("%H:%M"),
            "CANDOR_QUIET_HOURS_END": NO_QUIET_HOURS.strftime("%H:%M"),
            "CANDOR_LOG_FORMAT": "json",
        }
    )
    env.update(extra)
    return env


class WorkerProcess:
    """One `candor worker`; its JSON log (stderr) goes to a file we can scan afterwards."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[str] = log_path.open("w")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("candor")), "worker"],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def ready(self) -> bool:
        """The jobs loop ran once, so the runtime is open and the dispatcher is polling."""
        return '"worker.job_ran"' in self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def stop(self) -> None:
        stop_process(self.process)
        if not self._log.closed:
            self._log.close()

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return events


def wait_ready(workers: Sequence[WorkerProcess], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(worker.ready() for worker in workers):
        dead = [w for w in workers if not w.alive()]
        if dead:
            raise RuntimeError(f"worker exited early; see {dead[0].log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not become ready")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
