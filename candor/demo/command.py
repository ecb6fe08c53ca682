"""`candor demo`: migrate, seed the demo company once, serve, then say what to open.

The terminal keeps what a person needs: a progress bar while seeding, then the URLs, logins
and binding links once the server answers, and nothing after them but errors. The log (the
worker's SLA warnings, requests, uvicorn's lines) goes to a file whose path is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import typer

from candor.chat.demo import DemoChatLink, demo_chat_links
from candor.db.migrate import upgrade
from candor.demo.content import HR_USERS, TEAM_BY_ID
from candor.demo.seed import (
    DEMO_ATS_TOKEN,
    DEMO_PASSWORD,
    HISTORY_DAYS,
    DemoRefusedError,
    DemoSummary,
    example_ats_event,
    refuse_in_production,
    seed_demo_if_absent,
)
from candor.logging import configure_logging
from candor.models.enums import ApplicationStatus, Role, Stage
from candor.runtime import open_runtime
from candor.settings import Settings

ROLE_LABELS = {Role.ADMIN: "admin", Role.TEAM_LEAD: "team lead", Role.RECRUITER: "recruiter"}


def run_demo(settings: Settings, *, host: str, port: int, serve: bool) -> None:
    try:
        refuse_in_production(settings)
    except DemoRefusedError as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc

    log_file = demo_log_file(settings)
    settings = settings.model_copy(update={"log_file": log_file})
    # Seeding ingests over a thousand ATS events: a log line each would only slow it down.
    # The app configures logging again, at the configured level, when it starts.
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    typer.echo("Migrating the database…", err=True)
    upgrade(settings)
    started = time.perf_counter()
    base_url = f"http://{_display_host(host)}:{port}"
    with asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
        summary = runner.run(_seed(settings, SeedProgress(sys.stderr)))
        elapsed = time.perf_counter() - started
        chat_links = runner.run(_chat_links(settings, base_url))
    instructions = render_instructions(
        settings,
        base_url,
        summary,
        elapsed,
        serving=serve,
        chat_links=chat_links,
        log_file=log_file,
    )
    if not serve:
        typer.echo(instructions)
        return
    typer.echo("Starting the server…", err=True)
    _serve(settings, host=host, port=port, ready=lambda: typer.echo(instructions))


def demo_log_file(settings: Settings) -> Path:
    """CANDOR_LOG_FILE, else demo.log next to the SQLite database (var/ by default)."""
    if settings.log_file is not None:
        return settings.log_file.resolve()
    database = settings.sqlite_path()
    return ((database.parent if database is not None else Path("var")) / "demo.log").resolve()


def _serve(settings: Settings, *, host: str, port: int, ready: Callable[[], None]) -> None:
    """Serve until Ctrl+C; `ready` runs once the server accepts connections, so what it
    prints comes after uvicorn's start-up and stays the last thing on the screen."""
    import uvicorn

    from api.app import create_app

    config = uvicorn.Config(
        create_app(settings, with_worker=settings.is_embedded),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        # uvicorn's own records go to the root logger, which configure_logging pointed at
        # the log file (and stderr for errors).
        log_config=None,
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        # uvicorn tells that it listens by a flag only.
        while not server.started and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if server.started:
            ready()
        await task

    # Ctrl+C ends the demo; uvicorn has shut down cleanly by the time it arrives here.
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=_fast_loop_factory()) as runner,
    ):
        runner.run(serve())


class SeedProgress:
    """Seeding's progress on `stream`: a redrawn bar on a terminal; otherwise (a pipe, a
    log) a plain line every few seconds and at the end."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._interval_s = 0.1 if self._tty else 3.0
        self._last = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self._interval_s:
            return
        self._last = now
        if self._tty:
            filled = self.WIDTH * done // max(total, 1)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            end = "\n" if done >= total else ""
            self._stream.write(f"\rSeeding the demo company [{bar}] {done}/{total} ATS events{end}")
        else:
            self._stream.write(f"Seeding the demo company: {done}/{total} ATS events\n")
        self._stream.flush()


def _fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where uvicorn[standard] installed it.

    Every SQLite statement is a round trip to aiosqlite's thread; uvloop's cheaper wake-ups
    cut the seed's time by about a quarter.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - e.g. Windows, where uvloop does not exist
        return None
    return uvloop.new_event_loop


async def _seed(settings: Settings, progress: SeedProgress) -> DemoSummary | None:
    async with open_runtime(settings) as runtime, runtime.transaction() as session:
        return await seed_demo_if_absent(session, settings, progress=progress)


async def _chat_links(settings: Settings, base_url: str) -> list[DemoChatLink]:
    """Fresh single-use web-chat links for the pre-bound demo candidates (every run)."""
    async with open_runtime(settings) as runtime, runtime.transaction() as session:
        return await demo_chat_links(session, public_url=base_url)


def _display_host(host: str) -> str:
    """Where a browser on this machine reaches a server bound to `host`."""
    if host in {"", "0.0.0.0"}:  # noqa: S104 - only turned into a URL, nothing is bound here
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def curl_example(base_url: str) -> str:
    body = json.dumps(example_ats_event(), ensure_ascii=False)
    return "\n".join(
        (
            f"curl -sS -i -X POST {base_url}/api/v1/ats/events \\",
            f"  -H 'Authorization: Bearer {DEMO_ATS_TOKEN}' \\",
            "  -H 'Content-Type: application/json' \\",
            f"  -d '{body}'",
        )
    )


def _stage_lines(summary: DemoSummary) -> list[str]:
    """One line per stage in funnel order, e.g. `ai_interview  active 94, rejected 52`."""
    lines = []
    for stage in Stage:
        counts = [
            f"{status.value} {summary.by_stage_and_status[stage, status]}"
            for status in ApplicationStatus
            if (stage, status) in summary.by_stage_and_status
        ]
        if counts:
            lines.append(f"    {stage.value:<18} {', '.join(counts)}")
    return lines


def render_instructions(
    settings: Settings,
    base_url: str,
    summary: DemoSummary | None,
    elapsed_s: float,
    *,
    serving: bool,
    chat_links: list[DemoChatLink] | None = None,
    log_file: Path | None = None,
) -> str:
    lines: list[str] = []
    if summary is None:
        lines.append(
            f"Demo company {settings.company_name!r} is already in the database; left as is."
        )
    else:
        lines += [
            f"Seeded demo company {settings.company_name!r} in {elapsed_s:.1f} s: "
            f"{summary.teams} teams, {summary.hr_users} HR users, {summary.jobs} jobs, "
            f"{summary.candidates} candidates, {summary.applications} applications "
            f"from {summary.events} ATS events.",
            "  applications by stage/status:",
            *_stage_lines(summary),
            "",
            f"Six months of history: results went out late or not at all until the company "
            f"adopted Candor on {summary.adopted_on:%Y-%m-%d}; since then nearly all arrive "
            "within the promise.",
        ]
    lines += [
        "",
        "Open:",
        f"  API docs (OpenAPI)  {base_url}/docs",
        f"  Readiness           {base_url}/readyz",
        f"  Liveness            {base_url}/healthz",
        "",
        f"  HR console          {base_url}/console/login",
        f"  KPI dashboard       {base_url}/console/kpis  (the last 90 days: before and after)",
    ]
    if summary is not None:
        lines.append(
            f"  … all six months    {base_url}/console/kpis?from={summary.history_from}"
            f"&to={summary.history_from + timedelta(days=HISTORY_DAYS)}"
        )
    lines += [
        "",
        f"Demo HR logins for the HR console, password for all: {DEMO_PASSWORD}",
    ]
    for user in HR_USERS:
        team = TEAM_BY_ID[user.team_external_id].name if user.team_external_id else "all teams"
        lines.append(
            f"  {ROLE_LABELS[user.role]:<10} {user.email:<40} {user.display_name}  ({team})"
        )
    lines += [
        "",
        f"Post an ATS event with the demo integration token (Bearer {DEMO_ATS_TOKEN}):",
        "",
        curl_example(base_url),
        "",
        "Send it twice: the second answer is a replay (Idempotent-Replayed: true). Change",
        "event_id and the external ids to create another application.",
    ]
    if summary is not None and summary.web_bindings:
        lines += [
            "",
            "Demo candidates bound to web-chat identities (their links are below):",
            *(
                f"  {b.external_user_id:<12} {b.candidate_name}: {b.situation}"
                for b in summary.web_bindings
            ),
        ]
    if chat_links:
        lines += [
            "",
            "Web chat as a demo candidate: open a link (single use; each binds one browser,",
            "and every `candor demo` run prints new ones). Anyone else opening /chat is",
            "asked to bind first and learns nothing:",
            *(
                f"  {link.candidate_name} ({link.application_code})  {link.url}"
                for link in chat_links
            ),
        ]
    if log_file is not None:
        lines += [
            "",
            f"Log (requests, the worker's SLA warnings): {log_file}; errors show here too.",
        ]
    if serving:
        lines += ["", f"Serving on {base_url}; press Ctrl+C to stop."]
    return "\n".join(lines)
