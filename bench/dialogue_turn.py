"""A full "ask_progress" turn through the chat gateway on the embedded dialogue engine: NLU,
the rules, rasa-sdk's ActionExecutor running action_check_progress over the ATS data, the
state row and the transcript, each in its committed transactions.

Prints cold start (runtime + engine + NLU model from its cache + the first turn), p50/p99 of
warm turns, and the process's resident memory. The Rasa column stays empty unless
`--with-rasa` starts our action server and the trained Rasa model (`candor rasa setup` and
`candor rasa train` first) on the same database and measures the same turns through them.

    .venv/bin/python bench/dialogue_turn.py                      # SQLite + in-process Redis
    .venv/bin/python bench/dialogue_turn.py --database postgres  # PostgreSQL + Redis db 8
    .venv/bin/python bench/dialogue_turn.py --with-rasa --database postgres   # Rasa instead
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services import postgres_database  # noqa: E402  (bench/ is the script's directory)

from bot.conversation import ConversationGateway  # noqa: E402
from candor.bootstrap import ensure_reference_data  # noqa: E402
from candor.chat.engine import DialogueEngine  # noqa: E402
from candor.chat.messages import InboundMessage  # noqa: E402
from candor.clock import utcnow  # noqa: E402
from candor.db.migrate import upgrade  # noqa: E402
from candor.logging import configure_logging  # noqa: E402
from candor.models.enums import Channel  # noqa: E402
from candor.runtime import Runtime  # noqa: E402
from candor.settings import Settings  # noqa: E402

QUESTION = "我的面试结果出来了吗？"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - a throwaway db


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgres":
        with postgres_database("candor_bench_dialogue") as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite+aiosqlite:///{directory}/bench.sqlite3"


async def seed(runtime: Runtime, candidates: int) -> None:
    """Candidates who finished the AI interview, each with a bound web-chat account."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from candor.ats.intake import accept_event
    from candor.ats.schemas import ATS_EVENT
    from candor.models import Candidate, ChatIdentity, Team

    await ensure_reference_data(runtime)
    async with runtime.transaction() as session:
        session.add(Team(external_id="bench-team", name="招聘一组"))
    for n in range(candidates):
        events = [
            {
                "event_id": f"c-{n}",
                "type": "application_created",
                "data": {
                    "application_external_id": f"app-{n}",
                    "applied_at": "2026-03-02T10:00:00+08:00",
                    "candidate": {"external_id": f"cand-{n}", "name": "李雷"},
                    "job": {
                        "external_id": "job-1",
                        "title": "后端工程师",
                        "team_external_id": "bench-team",
                    },
                },
            },
            {
                "event_id": f"done-{n}",
                "type": "interview_completed",
                "data": {
                    "application_external_id": f"app-{n}",
                    "interview_external_id": f"iv-{n}",
                    "kind": "ai_video",
                    "completed_at": "2026-03-03T10:40:00+08:00",
                },
            },
        ]
        async with runtime.transaction() as session:
            for raw in events:
                await accept_event(session, ATS_EVENT.validate_python(raw))
            candidate = await session.scalar(
                select(Candidate).where(Candidate.external_id == f"cand-{n}")
            )
            assert candidate is not None
            session.add(
                ChatIdentity(
                    channel=Channel.WEB,
                    external_user_id=f"web-{n}",
                    candidate_id=candidate.id,
                    bound_at=datetime.now(UTC),
                )
            )


@contextmanager
def rasa_servers(settings: Settings) -> Iterator[tuple[str, float, list[int]]]:
    """Our action server and a Rasa server on free ports; yields the Rasa URL, the seconds
    from spawning Rasa to its first answer, and the two process ids (for their memory)."""
    import os
    import subprocess

    import httpx
    from services import free_port, wait_until

    from nlu.rasa_env import environment, rasa_process_environment, serve_command

    actions_port, rasa_port = free_port(), free_port()
    directory = Path(tempfile.mkdtemp(prefix="candor-bench-rasa-"))
    endpoints = directory / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n', "utf-8"
    )
    action_env = {
        **os.environ,
        "CANDOR_DATABASE_URL": settings.database_url,
        "CANDOR_REDIS_URL": settings.redis_url,
        "CANDOR_ENV": "test",
        "CANDOR_SECRET_KEY": SECRET,
        "CANDOR_LOG_LEVEL": "WARNING",
    }
    actions = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
        cwd=ROOT,
        env=action_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    rasa = subprocess.Popen(
        [*serve_command(settings, port=rasa_port), "--endpoints", str(endpoints)],
        cwd=ROOT,
        env=rasa_process_environment(environment(settings)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{rasa_port}"

    def answering() -> bool:
        try:
            return httpx.get(f"{url}/status", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answering, "the Rasa server", seconds=600)
        # The first prediction builds TensorFlow's graphs: part of the cold start.
        httpx.post(
            f"{url}/webhooks/rest/webhook",
            json={"sender": "warm-up", "message": "你好"},
            timeout=600,
        ).raise_for_status()
        cold = time.perf_counter() - started
        yield url, cold, [rasa.pid, actions.pid]
    finally:
        for process in (rasa, actions):
            process.terminate()
            process.wait(timeout=60)


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build_engine(runtime: Runtime, rasa_url: str | None) -> DialogueEngine:
    if rasa_url:
        from bot.dialogue.rasa_engine import RasaEngine

        return RasaEngine(rasa_url)
    from bot.dialogue.engine import EmbeddedEngine

    return EmbeddedEngine(runtime)


async def seed_database(settings: Settings, candidates: int) -> None:
    seed_runtime = Runtime.create(settings)
    try:
        await seed(seed_runtime, candidates)
    finally:
        await seed_runtime.aclose()


async def measure(
    settings: Settings,
    turns: int,
    candidates: int,
    rasa_url: str | None,
    *,
    rasa_cold: float = 0.0,
    rasa_pids: tuple[int, ...] = (),
) -> None:
    started = time.perf_counter()
    runtime = Runtime.create(settings)
    gateway = ConversationGateway(runtime, engine=build_engine(runtime, rasa_url))
    first = await gateway.handle(
        InboundMessage(Channel.WEB, "web-0", utcnow(), text=QUESTION, provider_message_id="m-0")
    )
    cold = time.perf_counter() - started + rasa_cold
    assert first, "no answer to the first question"
    assert "AP-" in first[0].text, first[0].text

    latencies: list[float] = []
    for i in range(turns):
        message = InboundMessage(
            Channel.WEB,
            f"web-{i % candidates}",
            utcnow(),
            text=QUESTION,
            provider_message_id=f"m-{i + 1}",
        )
        begin = time.perf_counter()
        replies = await gateway.handle(message)
        latencies.append(time.perf_counter() - begin)
        assert replies
    await runtime.aclose()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    engine = "rasa" if rasa_url else "embedded"
    database_kind = "PostgreSQL + Redis" if not settings.uses_sqlite else "SQLite + fakeredis"
    print(f"engine={engine} database={database_kind} turns={turns} candidates={candidates}")
    print(f"cold_start_s={cold:.2f}")
    print(f"turn_p50_ms={p50:.1f} turn_p99_ms={p99:.1f}")
    print(f"rss_mib={rss_mib() + sum(rss_of(pid) for pid in rasa_pids):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--with-rasa", action="store_true", help="measure the Rasa engine")
    args = parser.parse_args()
    with database(args.database) as url:
        settings = Settings(
            env="test",
            secret_key=SECRET,
            database_url=url,
            redis_url="memory://" if args.database == "sqlite" else args.redis_url,
            log_level="WARNING",
        )
        configure_logging(settings)
        upgrade(settings)
        asyncio.run(seed_database(settings, args.candidates))
        if not args.with_rasa:
            asyncio.run(measure(settings, args.turns, args.candidates, None))
            return
        with rasa_servers(settings) as (url, cold, pids):
            asyncio.run(
                measure(
                    settings,
                    args.turns,
                    args.candidates,
                    url,
                    rasa_cold=cold,
                    rasa_pids=tuple(pids),
                )
            )


if __name__ == "__main__":
    main()
