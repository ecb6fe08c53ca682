"""Benchmark the WeChat callback: encrypted text messages into a real uvicorn process.

    .venv/bin/python bench/wechat_callback.py                     # embedded (SQLite, fakeredis)
    .venv/bin/python bench/wechat_callback.py --mode scaled       # PostgreSQL + Redis

1. A scratch database is migrated and 500 candidates are bound to the benchmark's WeChat
   users (so the dialogue engine answers); `uvicorn api.main:app` starts as its own process with
   WeChat in safe mode (AES), its API base pointing at a local fake WeChat API
   (`python -m candor.devtools.fake_wechat`), INFO logging as JSON to a file, and the app's
   default gateway answering (whichever `create_app` wires: printed at the start).
2. A load generator in this process sends messages open-loop at a fixed rate over keep-alive
   HTTP/1.1 connections on loopback. Every message is a WeChat safe-mode callback
   (AES-encrypted, `msg_signature`, fresh timestamp and nonce), from one of 500 users. Each
   20th message is also retried the way WeChat does: once at the same moment (in flight)
   and once a second later, each retry signed anew. Requests are prepared before a step
   starts, so the generator spends its time on sockets only.
3. Latency is from the moment a request was due to its full response (so queueing in the
   generator counts). After a short warm-up, steps of rising rates (requests/s, retries
   included; 200 req/s is always run and reported) until one fails; the highest rate whose
   p99 stays under 1 s, with every request answered 200 and the offered rate achieved, is
   the sustained rate.
4. Counting: a message is lost if it was acknowledged (200) but its gateway never saw it
   (no inbound transcript row; with `--gateway instant`, no logged gateway call), and
   double-processed if the gateway saw it twice (two rows or calls, or the gateway's own
   `chat.duplicate_inbound` log line). Retries the callback absorbed are counted from its
   `wechat.duplicate_callback` log lines.

   .venv/bin/python bench/wechat_callback.py --gateway instant   # the callback alone

The server, the load generator and the fake share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI
from services import (
    free_port,
    http_ok,
    scratch_database,
    wait_until,
)
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine
from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]

from api.app import create_app
from candor.chat.messages import InboundMessage, Reply
from candor.db.migrate import upgrade
from candor.logging import get_logger
from candor.models import Candidate, ChatIdentity
from candor.models.enums import Channel
from candor.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105 - a throwaway
TOKEN = "bench-wechat-token"  # noqa: S105 - a throwaway
APP_ID = "wx-bench-app"
APP_SECRET = "bench-app-secret"  # noqa: S105 - a throwaway
AES_KEY = "benchBENCHbenchBENCHbenchBENCHbenchBENCH012"
ACCOUNT = "gh_bench"
USERS = 500
RETRY_EVERY = 20
P99_LIMIT_S = 1.0


@dataclass(frozen=True, slots=True)
class Prepared:
    due: float  # seconds after the step starts
    msg_id: int
    request: bytes


@dataclass
class StepResult:
    rate: int
    offered: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wall: float = 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def achieved(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def sustained(self) -> bool:
        return (
            self.ok == self.offered
            and self.percentile(0.99) < P99_LIMIT_S
            and self.achieved >= 0.95 * self.rate
        )


class InstantGateway:
    """A gateway that answers at once without the database: isolates the callback's cost."""

    async def handle(self, message: InboundMessage) -> list[Reply]:
        # Logged so the run can count what the gateway saw (there is no transcript).
        instant_log.info("bench.instant_handled", message_id=message.provider_message_id)
        return [Reply(f"收到: {message.text}")]


instant_log = get_logger("bench.instant")


def create_instant_app() -> FastAPI:
    """`uvicorn --factory` entry point for `--gateway instant`."""
    return create_app(gateway_factory=lambda _runtime: InstantGateway())


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's


class Signer:
    def __init__(self, port: int) -> None:
        self._crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        self._host = f"127.0.0.1:{port}"

    def request(self, openid: str, msg_id: int, content: str) -> bytes:
        now = str(int(time.time()))
        nonce = str(secrets.randbelow(10**12))
        xml = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{now}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId></xml>"
        )
        sealed = self._crypto.encrypt_message(xml, nonce, now)
        encrypted = sealed.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        query = urlencode(
            {
                "signature": _sha1(TOKEN, now, nonce),
                "timestamp": now,
                "nonce": nonce,
                "openid": openid,
                "encrypt_type": "aes",
                "msg_signature": _sha1(TOKEN, now, nonce, encrypted),
            }
        )
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        ).encode()
        head = (
            f"POST /wechat/callback?{query} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head + body


class Connections:
    """Keep-alive HTTP/1.1 connections, opened as needed (a request never waits for one)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def exchange(self, request: bytes) -> int:
        if self._idle:
            reader, writer = self._idle.pop()
            try:
                return await self._exchange_on(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError):
                # The server closed this idle keep-alive connection; like any HTTP client,
                # send again on a new one (nothing was answered on the old one).
                writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        return await self._exchange_on(reader, writer, request)

    async def _exchange_on(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> int:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        self._idle.append((reader, writer))
        return status

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def prepare(signer: Signer, rate: int, seconds: float, first_id: int) -> list[Prepared]:
    """`rate` requests per second, retries included."""
    rng = random.Random(first_id)
    prepared = []
    message_rate = rate / (1 + 2 / RETRY_EVERY)
    count = int(message_rate * seconds)
    for index in range(count):
        msg_id = first_id + index
        openid = f"o-bench-{rng.randrange(USERS):04d}"
        due = index / message_rate
        prepared.append(Prepared(due, msg_id, signer.request(openid, msg_id, f"你好 {msg_id}")))
        if index % RETRY_EVERY == 0:
            # WeChat's retries of the same message, each signed anew: one while the first
            # is in flight, one a second later.
            for delay in (0.0, 1.0):
                if due + delay < seconds:
                    request = signer.request(openid, msg_id, f"你好 {msg_id}")
                    prepared.append(Prepared(due + delay, msg_id, request))
    prepared.sort(key=lambda p: p.due)
    return prepared


async def run_step(
    port: int, prepared: list[Prepared], rate: int, answered: set[int]
) -> StepResult:
    """Send one step; ids of messages that got a 200 are added to `answered`."""
    result = StepResult(rate=rate, offered=len(prepared))
    connections = Connections(port)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(item: Prepared) -> None:
        due = start + item.due
        try:
            status = await connections.exchange(item.request)
        except (OSError, asyncio.IncompleteReadError):
            status = 0
        result.latencies.append(loop.time() - due)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status == 200:
            answered.add(item.msg_id)

    tasks = []
    for item in prepared:
        delay = start + item.due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(item)))
    await asyncio.gather(*tasks)
    result.wall = loop.time() - start
    await connections.close()
    return result


def gateway_description(settings: Settings) -> str:
    """Which gateway the app wires by default, named for the report."""
    from bot.lifespan import default_gateway
    from candor.runtime import Runtime

    runtime = Runtime.create(settings)
    try:
        gateway = default_gateway(runtime)
        engine = getattr(getattr(gateway, "engine", None), "name", None)
        return f"{type(gateway).__name__}" + (f" (engine: {engine})" if engine else "")
    finally:
        asyncio.run(runtime.aclose())


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


async def count_inbound(database_url: str, first: int, last: int) -> list[int]:
    """Message ids of inbound WeChat transcript rows in [first, last], one per row."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT provider_message_id FROM chat_messages "
                        "WHERE channel = 'wechat' AND direction = 'inbound' "
                        "AND provider_message_id IS NOT NULL"
                    )
                )
            ).scalars()
            ids = [int(r) for r in rows if first <= int(r) <= last]
    finally:
        await engine.dispose()
    return ids


def handled_by_instant_gateway(path: Path) -> list[int]:
    """Message ids the instant gateway logged, one per call."""
    ids = []
    for line in path.read_text(errors="replace").splitlines():
        if '"bench.instant_handled"' in line:
            with contextlib.suppress(ValueError, KeyError):
                ids.append(int(json.loads(line)["message_id"]))
    return ids


def server_durations(path: Path) -> list[float]:
    """Milliseconds the API spent on each callback, in completion order (its request log)."""
    durations = []
    for line in path.read_text(errors="replace").splitlines():
        if '"http.request"' in line and '"/wechat/callback"' in line:
            with contextlib.suppress(ValueError, KeyError):
                durations.append(float(json.loads(line)["duration_ms"]))
    return durations


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def api_cpu_seconds(pid: int) -> float:
    """User + system CPU of the uvicorn process and its worker children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            rest = stat.read_text().rpartition(")")[2]
            fields = rest.split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def bind_users(database_url: str) -> None:
    """500 candidates, each bound to one bench openid, so the dialogue engine answers (an
    unbound user would only get binding instructions)."""
    engine = create_async_engine(database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            ids = (
                await connection.execute(
                    insert(Candidate).returning(Candidate.id),
                    [
                        {"external_id": f"bench-{n:04d}", "name": f"候选人{n}", "locale": "zh-CN"}
                        for n in range(USERS)
                    ],
                )
            ).scalars()
            await connection.execute(
                insert(ChatIdentity),
                [
                    {
                        "channel": Channel.WECHAT,
                        "external_user_id": f"o-bench-{n:04d}",
                        "candidate_id": candidate_id,
                        "bound_at": now,
                    }
                    for n, candidate_id in enumerate(ids)
                ],
            )
    finally:
        await engine.dispose()


def log_events(path: Path, event: str) -> int:
    count = 0
    for line in path.read_text(errors="replace").splitlines():
        if f'"{event}"' in line:
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    parser.add_argument("--rates", default="50,100,150,200,300,400,600,800,1000")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="uvicorn worker processes (scaled mode only: embedded Redis is per process)",
    )
    parser.add_argument(
        "--gateway",
        choices=["default", "instant"],
        default="default",
        help="default: the app's own gateway; instant: answers at once, no database",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the API's log here at the end")
    args = parser.parse_args()
    if args.mode == "embedded" and args.api_processes != 1:
        parser.error("embedded mode runs one API process (its Redis lives in that process)")
    rates = [int(r) for r in args.rates.split(",")]

    with (
        scratch_database(args.mode, "candor_wechat") as (database_url, redis_url),
        tempfile.TemporaryDirectory() as tmp,
    ):
        logs = Path(tmp)
        settings = Settings(
            env="test", secret_key=SECRET, database_url=database_url, redis_url=redis_url
        )
        upgrade(settings)
        asyncio.run(bind_users(database_url))
        gateway = (
            gateway_description(settings)
            if args.gateway == "default"
            else "InstantGateway (answers at once, no database: the callback alone)"
        )
        wechat_port, api_port = free_port(), free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")},
            "CANDOR_ENV": "test",
            "CANDOR_SECRET_KEY": SECRET,
            "CANDOR_DATABASE_URL": database_url,
            "CANDOR_REDIS_URL": redis_url,
            "CANDOR_LOG_FORMAT": "json",
            "CANDOR_LOG_LEVEL": "INFO",
            "CANDOR_WECHAT_TOKEN": TOKEN,
            "CANDOR_WECHAT_APP_ID": APP_ID,
            "CANDOR_WECHAT_APP_SECRET": APP_SECRET,
            "CANDOR_WECHAT_AES_KEY": AES_KEY,
            "CANDOR_WECHAT_API_BASE": f"http://127.0.0.1:{wechat_port}",
        }
        python = sys.executable
        fake = start_process(
            [
                python,
                "-m",
                "candor.devtools.fake_wechat",
                "--port",
                str(wechat_port),
                "--app-id",
                APP_ID,
                "--secret",
                APP_SECRET,
            ],
            env,
            logs / "fake.log",
        )
        server = start_process(
            [
                python,
                "-m",
                "uvicorn",
                *(
                    ["api.main:app"]
                    if args.gateway == "default"
                    else ["--app-dir", "bench", "--factory", "wechat_callback:create_instant_app"]
                ),
                "--port",
                str(api_port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--workers",
                str(args.api_processes),
            ],
            env,
            logs / "api.log",
        )
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{api_port}/healthz"), "API")
            print(f"mode: {args.mode} ({database_url.split(':')[0]}, redis {redis_url})")
            print(
                f"gateway: {gateway}; WeChat safe mode (AES); "
                f"{args.api_processes} uvicorn process(es)"
            )
            signer = Signer(api_port)
            results: list[StepResult] = []
            first_id = 10**15
            sent_ids = 0
            answered: set[int] = set()
            # Warm-up, not reported: first connections, first Lua script loads, caches.
            warm = prepare(signer, 50, 3.0, first_id)
            first_id += len(warm) + 10
            sent_ids += len({p.msg_id for p in warm})
            asyncio.run(run_step(api_port, warm, 50, answered))
            warm_requests = len(warm)
            for rate in rates:
                prepared = prepare(signer, rate, args.seconds, first_id)
                first_id += len(prepared) + 10
                sent_ids += len({p.msg_id for p in prepared})
                cpu_before = api_cpu_seconds(server.pid)
                result = asyncio.run(run_step(api_port, prepared, rate, answered))
                cpu_ms = (api_cpu_seconds(server.pid) - cpu_before) * 1000 / result.offered
                results.append(result)
                print(
                    f"{rate:>5} req/s offered ({result.offered} requests incl. retries): "
                    f"achieved {result.achieved:7.1f} req/s, p50 "
                    f"{result.percentile(0.5) * 1000:7.1f} ms, p99 "
                    f"{result.percentile(0.99) * 1000:7.1f} ms, "
                    f"max {max(result.latencies) * 1000:7.1f} ms, statuses {result.statuses}, "
                    f"API CPU {cpu_ms:.2f} ms/request",
                    flush=True,
                )
                if not result.sustained() and rate >= 200:  # 200 req/s is always reported
                    break
                time.sleep(2.0)  # let late work settle between steps
            time.sleep(2.0)
        finally:
            server.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)
            fake.terminate()
            fake.wait(timeout=10)

        if args.keep_logs:
            shutil.copyfile(logs / "api.log", args.keep_logs)
        if args.gateway == "default":
            seen_ids = asyncio.run(count_inbound(database_url, 10**15, first_id))
            seen = "inbound transcript rows"
        else:
            seen_ids = handled_by_instant_gateway(logs / "api.log")
            seen = "gateway calls"
        duplicates_seen_by_gateway = log_events(logs / "api.log", "chat.duplicate_inbound")
        retries_absorbed = log_events(logs / "api.log", "wechat.duplicate_callback")
        sustained = [r.rate for r in results if r.sustained()]
        at_200 = next((r for r in results if r.rate == 200), None)
        print()
        distinct = set(seen_ids)
        print(
            f"distinct messages sent: {sent_ids}; acknowledged with 200: {len(answered)}; "
            f"{seen}: {len(seen_ids)} ({len(distinct)} distinct)"
        )
        print(
            f"lost (acknowledged, never processed): {len(answered - distinct)}; "
            f"double-processed (gateway saw a message twice): "
            f"{duplicates_seen_by_gateway + len(seen_ids) - len(distinct)}; "
            f"WeChat-style retries absorbed by the callback: {retries_absorbed}"
        )
        # The API's own time per request, from its request log, step by step (in order).
        durations = server_durations(logs / "api.log")[warm_requests:]
        for result in results:
            step, durations = durations[: result.offered], durations[result.offered :]
            print(
                f"in the API process at {result.rate:>4} req/s: p50 "
                f"{_percentile(step, 0.5):.1f} ms, p99 {_percentile(step, 0.99):.1f} ms"
            )
        if at_200 is not None:
            print(
                f"at 200 req/s: p50 {at_200.percentile(0.5) * 1000:.1f} ms, "
                f"p99 {at_200.percentile(0.99) * 1000:.1f} ms"
            )
        print(
            f"highest sustained rate (p99 < 1 s, all 200): "
            f"{max(sustained) if sustained else 'none'} req/s"
        )


if __name__ == "__main__":
    main()
