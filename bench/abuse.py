"""Benchmark Candor under abuse: does everybody else still get answers while strangers attack?

    .venv/bin/python bench/abuse.py                   # embedded (SQLite, in-process Redis)
    .venv/bin/python bench/abuse.py --mode scaled     # PostgreSQL + Redis

1. A scratch database is migrated and seeded with the demo company (its admin, its
   integration token, its candidates with their applications and contacts); an admin's
   personal HR token is issued. `uvicorn api.main:app` starts as its own process on uvloop,
   the way production runs it (in `development`, so the console's cookies travel over the
   benchmark's plain HTTP).
2. All through the run a probe asks `/healthz` every 50 ms on a connection of its own. Each
   phase below runs its attackers concurrently with the probe for `--seconds`, and reports
   the probe's latency (p50 / p99 / max) next to the attack's answers by status:
   - `baseline`: nothing but the probe;
   - `long paths`: anonymous GETs of 60,000-character paths (once 16 s of frozen server each);
   - `big bodies`: anonymous 8 MiB bodies, declared and chunked, to the web chat and the ATS;
   - `deep json`: 200,000 nested arrays to the ATS endpoint;
   - `template preview`: an HR user's previews of nested `range()` loops and of
     `'x' * 40000000` (once 4 s of frozen server and a 40 MB answer each);
   - `binding flood`: one web-chat session types `绑定 <code> <e-mail>` for 40 real
     applications with a wrong e-mail, then 40 with the right one: the code e-mails queued
     are counted from the database, and the distinct answers the visitor saw;
   - `login flood`: wrong passwords for the admin as fast as they are answered, then the
     admin logs in on the browser they used before (the known-device cookie).
3. Any 5xx anywhere is a failure and is counted.

The server, the attackers and the probe share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from services import (
    free_port,
    http_ok,
    scratch_database,
    wait_until,
)
from sqlalchemy import func, select

from candor.auth.tokens import Scope, issue_token
from candor.db.migrate import upgrade
from candor.demo.seed import DEMO_ATS_TOKEN, DEMO_PASSWORD, seed_demo
from candor.models import Application, Candidate, ChatDelivery, HRUser
from candor.models.enums import Channel, Role
from candor.runtime import open_runtime
from candor.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SECRET = "abuse-benchmark-secret-key-0123456789-abcdefghijkl"  # noqa: S105 - a scratch server
PROBE_INTERVAL = 0.05
LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Phase:
    name: str
    probe_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        """Count the answer by status and, for an error, by its error code."""
        code = ""
        if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            code = f" {response.json().get('error', {}).get('code', '')}"
        self.statuses[f"{response.status_code}{code}"] += 1

    def row(self) -> str:
        ms = sorted(self.probe_ms)
        p50 = statistics.median(ms) if ms else float("nan")
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan")
        answers = ", ".join(f"{n} × {s}" for s, n in sorted(self.statuses.items())) or "—"
        extra = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (
            f"| {self.name} | {p50:.1f} / {p99:.1f} / {max(ms, default=float('nan')):.1f} ms "
            f"({len(ms)} probes) | {answers}{extra} |"
        )


@dataclass(frozen=True)
class World:
    admin_email: str
    hr_token: str
    applications: list[tuple[str, str]]  # (code, the candidate's e-mail)


async def seed(settings: Settings) -> World:
    async with open_runtime(settings) as runtime, runtime.transaction() as session:
        await seed_demo(session, settings)
        admin = await session.scalar(select(HRUser).where(HRUser.role == Role.ADMIN).limit(1))
        assert admin is not None
        issued = await issue_token(
            session, name="abuse-bench", scopes=[Scope.HR], hr_user_id=admin.id
        )
        rows = await session.execute(
            select(Application.code, Candidate.email)
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(Candidate.email.is_not(None))
            .order_by(Application.id)
            .limit(40)
        )
        applications = [(code, str(email)) for code, email in rows.all()]
        return World(admin.email, issued.plaintext, applications)


async def code_emails(settings: Settings) -> int:
    async with open_runtime(settings) as runtime, runtime.sessionmaker() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(ChatDelivery)
            .where(ChatDelivery.channel == Channel.EMAIL)
        )
        return int(found or 0)


async def probe(base: str, phase: Callable[[], Phase], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            response = await http.get("/healthz")
            elapsed = (time.perf_counter() - started) * 1000
            current = phase()
            current.probe_ms.append(elapsed)
            if response.status_code != 200:
                current.record(response)
            await asyncio.sleep(max(0.0, PROBE_INTERVAL - elapsed / 1000))


async def repeat(seconds: float, attack: Callable[[], Awaitable[None]], workers: int) -> None:
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            await attack()

    await asyncio.gather(*(worker() for _ in range(workers)))


async def chunked(size: int) -> AsyncIterator[bytes]:
    chunk = b"x" * 65_536
    for _ in range(size // len(chunk) + 1):
        yield chunk


async def chat_session(base: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base, timeout=60)
    await http.get("/chat")
    return http


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await http.get("/console/login")
    found = LOGIN_CSRF.search(page.text)
    assert found, "no CSRF token on the login page"
    return await http.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": found.group(1)},
    )


async def run_phases(base: str, world: World, settings: Settings, seconds: float) -> list[Phase]:
    phases: list[Phase] = []
    stop = asyncio.Event()
    current = Phase("warm-up")
    probing = asyncio.create_task(probe(base, lambda: current, stop))
    ats = {"authorization": f"Bearer {DEMO_ATS_TOKEN}", "content-type": "application/json"}
    hr = {"authorization": f"Bearer {world.hr_token}"}
    # The admin's own browser, used before the attack: it holds the known-device cookie.
    admins_browser = httpx.AsyncClient(base_url=base, timeout=60)
    first_login = await login(admins_browser, world.admin_email, DEMO_PASSWORD)
    assert first_login.status_code == 303, f"the admin's first login: {first_login.status_code}"
    await asyncio.sleep(1.0)

    async def step(
        name: str, attack: Callable[[Phase, httpx.AsyncClient], Awaitable[None]]
    ) -> Phase:
        nonlocal current
        current = Phase(name)
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            await attack(current, http)
        phases.append(current)
        return current

    async def baseline(phase: Phase, _http: httpx.AsyncClient) -> None:
        await asyncio.sleep(seconds)

    async def long_paths(phase: Phase, _http: httpx.AsyncClient) -> None:
        # Written to the socket as prepared bytes: httpx spends some 270 ms of this process's
        # CPU parsing such a URL, which would starve the server it shares the cores with.
        request = f"GET /{'a' * 60_000}@ HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        host, port = base.removeprefix("http://").split(":")

        async def one() -> None:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(request.encode())
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            await reader.read()
            writer.close()
            phase.statuses[f"{status}"] += 1

        await repeat(seconds, one, 4)

    async def big_bodies(phase: Phase, http: httpx.AsyncClient) -> None:
        chat = await chat_session(base)
        size = 8 * 1024 * 1024

        async def one() -> None:
            for target, headers, client in (
                ("/chat/api/messages", {"content-type": "application/json"}, chat),
                ("/api/v1/ats/events", ats, http),
            ):
                declared = await client.post(target, content=b"x" * size, headers=headers)
                streamed = await client.post(target, content=chunked(size), headers=headers)
                phase.record(declared)
                phase.record(streamed)

        try:
            await repeat(seconds, one, 2)
        finally:
            await chat.aclose()

    async def deep_json(phase: Phase, http: httpx.AsyncClient) -> None:
        body = b"[" * 200_000 + b"]" * 200_000

        async def one() -> None:
            response = await http.post("/api/v1/ats/events", content=body, headers=ats)
            phase.record(response)

        await repeat(seconds, one, 2)

    async def previews(phase: Phase, http: httpx.AsyncClient) -> None:
        code = world.applications[0][0]
        bodies = [
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            "{{ 'x' * 40000000 }}",
        ]
        largest = 0

        async def one() -> None:
            nonlocal largest
            for body in bodies:
                response = await http.post(
                    "/api/v1/templates/preview",
                    json={"application_code": code, "outcome": "reject", "body": body},
                    headers={**hr, "Idempotency-Key": uuid.uuid4().hex},
                )
                phase.record(response)
                largest = max(largest, len(response.content))

        await repeat(seconds, one, 2)
        phase.notes.append(f"largest answer {largest:,} bytes")

    async def binding_flood(phase: Phase, _http: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        for label, contact in (
            ("wrong e-mail", lambda own: "nobody@example.com"),
            ("own e-mail, a fresh session", lambda own: own),
        ):
            before = await code_emails(settings)
            chat = await chat_session(base)
            answers: Counter[str] = Counter()
            try:
                for code, own in world.applications:
                    response = await chat.post(
                        "/chat/api/messages", json={"text": f"绑定 {code} {contact(own)}"}
                    )
                    phase.record(response)
                    replies = response.json().get("replies", []) if response.is_success else []
                    answers[" / ".join(r.get("text", "") for r in replies)] += 1
            finally:
                await chat.aclose()
            sent = await code_emails(settings) - before
            # Answers are told apart by their text; how many of each kind were given.
            phase.notes.append(
                f"{len(world.applications)} real applications, {label}: {sent} code e-mails; "
                f"answers {' + '.join(map(str, sorted(answers.values(), reverse=True)))}"
            )
        await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - started)))

    async def login_flood(phase: Phase, http: httpx.AsyncClient) -> None:
        # Each attacker a browser of its own: one cookie jar shared by two would mix up their
        # login forms' CSRF cookies.
        attackers = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(2)]

        async def attack(browser: httpx.AsyncClient) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                phase.record(await login(browser, world.admin_email, "wrong-password-123"))

        try:
            await asyncio.gather(*(attack(browser) for browser in attackers))
        finally:
            for browser in attackers:
                await browser.aclose()
        attacker_now = (await login(http, world.admin_email, DEMO_PASSWORD)).status_code
        admin_now = (await login(admins_browser, world.admin_email, DEMO_PASSWORD)).status_code
        phase.notes.append(
            f"then the right password: {attacker_now} from the attacker's browser, "
            f"{admin_now} from the admin's known browser"
        )

    try:
        await step("baseline", baseline)
        await step("long paths (60,000 chars)", long_paths)
        await step("big bodies (8 MiB)", big_bodies)
        await step("deep json (200,000 levels)", deep_json)
        await step("template preview (10⁸ steps, 40 MB)", previews)
        await step("binding flood (one session)", binding_flood)
        await step("login flood (admin)", login_flood)
    finally:
        stop.set()
        await probing
        await admins_browser.aclose()
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    args = parser.parse_args()

    with (
        scratch_database(args.mode, "candor_abuse") as (database_url, redis_url),
        tempfile.TemporaryDirectory() as tmp,
    ):
        settings = Settings(
            env="test", secret_key=SECRET, database_url=database_url, redis_url=redis_url
        )
        upgrade(settings)
        world = asyncio.run(seed(settings))
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")},
            # Development: the console's cookies are Secure otherwise, and this is plain HTTP.
            "CANDOR_ENV": "development",
            "CANDOR_SECRET_KEY": SECRET,
            "CANDOR_DATABASE_URL": database_url,
            "CANDOR_REDIS_URL": redis_url,
            "CANDOR_LOG_LEVEL": "WARNING",
        }
        log = Path(tmp) / "api.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.main:app",
                    "--port",
                    str(port),
                    "--loop",
                    "uvloop",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: http_ok(f"{base}/healthz"), "API")
            print(f"mode: {args.mode} ({database_url.split(':')[0]}, redis {redis_url})")
            print(
                f"uvicorn on uvloop, one process; {args.seconds:.0f} s a phase; probe every 50 ms"
            )
            phases = asyncio.run(run_phases(base, world, settings, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
        print()
        print("| phase | /healthz p50 / p99 / max | attack answers |")
        print("|---|---|---|")
        for phase in phases:
            print(phase.row())
        errors = sum(
            n for p in phases for status, n in p.statuses.items() if int(status.split()[0]) >= 500
        )
        print()
        print(f"5xx answers: {errors}")
        if errors:
            print(log.read_text()[-4000:], file=sys.stderr)
            raise SystemExit(1)


if __name__ == "__main__":
    main()
