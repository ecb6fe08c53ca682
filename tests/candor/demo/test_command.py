from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from playwright.sync_api import expect, sync_playwright

from candor.demo.command import SeedProgress, run_demo
from candor.demo.content import HR_USERS
from candor.demo.seed import DEMO_ATS_TOKEN, DEMO_PASSWORD
from candor.enums import Role
from candor.settings import Settings
from tests.conftest import cannot_run_here
from tests.fakes import free_port

CANDOR = Path(sys.executable).with_name("candor")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "demo"


def candor_demo(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Only what the test sets: a developer's CANDOR_* variables or .env must not leak in.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    clean["CANDOR_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run(
        [str(CANDOR), "demo", *args],
        cwd=database.parent,
        env=clean,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def seeded_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeedRun]:
    """One `candor demo --seed-only` into a fresh database, shared by this module's tests:
    seeding is most of their time."""
    database = tmp_path_factory.mktemp("demo") / "candor.sqlite3"
    return database, candor_demo(database, "--seed-only")


SeedRun = subprocess.CompletedProcess[str]


def test_candor_demo_seed_only_prints_what_to_open_and_is_idempotent(
    seeded_demo: tuple[Path, SeedRun],
) -> None:
    database, first = seeded_demo

    second = candor_demo(database, "--seed-only")

    assert first.returncode == 0, first.stderr
    for url in ("/docs", "/readyz", "/healthz", "/api/v1/ats/events", "/console/login"):
        assert f"http://127.0.0.1:8000{url}" in first.stdout
    for user in HR_USERS:
        assert user.email in first.stdout
    assert DEMO_PASSWORD in first.stdout
    assert "Demo HR logins for the HR console" in first.stdout
    assert f"Authorization: Bearer {DEMO_ATS_TOKEN}" in first.stdout
    assert "Seeded demo company" in first.stdout
    assert "http://127.0.0.1:8000/console/kpis " in first.stdout
    assert re.search(
        r"http://127\.0\.0\.1:8000/console/kpis\?from=\d{4}-\d\d-\d\d&to=", first.stdout
    )
    assert re.search(r"hired +hired \d+", first.stdout)  # the funnel is printed
    # Pipes, not a terminal: plain progress lines, from 0 to every event.
    err = first.stderr.splitlines()
    assert err[0] == "Migrating the database…"
    progress = [line for line in err if line.startswith("Seeding the demo company: ")]
    assert progress[0].startswith("Seeding the demo company: 0/")
    assert re.fullmatch(r"Seeding the demo company: (\d+)/\1 ATS events", progress[-1])

    assert second.returncode == 0, second.stderr
    assert "already in the database" in second.stdout
    assert "Seeded demo company" not in second.stdout
    assert f"Authorization: Bearer {DEMO_ATS_TOKEN}" in second.stdout
    # Fresh single-use web-chat links for the pre-bound demo candidates on every run.
    first_links = set(re.findall(r"http://127\.0\.0\.1:8000/chat\?bind=[\w-]+", first.stdout))
    second_links = set(re.findall(r"http://127\.0\.0\.1:8000/chat\?bind=[\w-]+", second.stdout))
    assert len(first_links) >= 3
    assert len(second_links) == len(first_links)
    assert not first_links & second_links


def test_candor_demo_refuses_production(tmp_path: Path) -> None:
    database = tmp_path / "candor.sqlite3"
    settings = Settings(
        env="production",
        secret_key="a-production-secret-that-is-long-enough-0123456789",
        database_url=f"sqlite+aiosqlite:///{database}",
        encryption_keys="k1:" + base64.b64encode(b"k" * 32).decode(),
        blind_index_key=base64.b64encode(b"b" * 32).decode(),
    )

    with pytest.raises(typer.Exit) as exit_info:
        run_demo(settings, host="127.0.0.1", port=8000, serve=False)

    assert exit_info.value.exit_code == 2
    assert not database.exists()  # refused before migrating anything


def _read_lines(stream: io.TextIOBase, into: list[str]) -> None:
    for line in stream:
        into.append(line.rstrip("\n"))


PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",  # a Chinese phone's browser: Accept-Language zh-CN
}
# The timeliness chart's bars, as the zh-CN console titles them.
WEEK_BAR = re.compile(r"<title>(\d{4}-\d\d-\d\d) 当周：(\d+) 个中按时 (\d+) 个")


def _a_recruiter_on_a_phone_approves_in_two_taps_and_sees_the_story(
    base_url: str, database: Path, adopted_on: date
) -> None:
    """What issue 18 promises a new user of the demo: log in as a recruiter on a phone-sized
    browser, read the console in Chinese, approve a draft in two taps, and find the
    before-and-after of adopting Candor on the dashboard they land on."""
    chromium = shutil.which("chromium")
    if chromium is None:
        cannot_run_here("Debian's chromium is not installed; `python3 dev.py test` installs it")
    recruiter = next(u for u in HR_USERS if u.role is Role.RECRUITER)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_context(**PHONE).new_page()
            page.goto(f"{base_url}/console/login")
            page.get_by_label("邮箱").fill(recruiter.email)
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").tap()  # tap one
            expect(page).to_have_url(f"{base_url}/console/inbox")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(page.get_by_role("link", name="审批")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "phone-inbox-zh.png"), full_page=True)

            page.get_by_role("button", name="批准", exact=True).first.tap()  # tap two
            flash = page.get_by_role("status")
            expect(flash).to_contain_text("已批准并进入发送队列")
            approved = re.search(r"消息 (\d+) 已批准", flash.inner_text())
            assert approved is not None

            page.goto(f"{base_url}/console/kpis")
            page.screenshot(path=str(ARTIFACTS / "phone-kpis-zh.png"), full_page=True)
            bars = [
                (date.fromisoformat(week), int(in_time), int(decided))
                for week, decided, in_time in WEEK_BAR.findall(page.content())
                if int(decided)
            ]
        finally:
            browser.close()
    with sqlite3.connect(database) as db:
        (state,) = db.execute(
            "SELECT state FROM outreach_messages WHERE id = ?", (int(approved.group(1)),)
        ).fetchone()
    assert state in {"approved", "queued", "sent", "delivered"}
    # The default dashboard spans the adoption: the weeks before it mostly late, the weeks
    # after it on time. The week either side of the adoption day mixes the two: left out.
    before = [(t, d) for week, t, d in bars if week < adopted_on - timedelta(weeks=1)]
    after = [(t, d) for week, t, d in bars if week >= adopted_on + timedelta(weeks=1)]
    assert len(before) >= 3, bars
    assert len(after) >= 3, bars
    assert sum(t for t, _ in before) / sum(d for _, d in before) < 0.5, bars
    assert sum(t for t, _ in after) / sum(d for _, d in after) > 0.85, bars


def test_candor_demo_shows_what_to_open_logs_to_a_file_and_serves_a_recruiter_on_a_phone(
    tmp_path: Path, seeded_demo: tuple[Path, SeedRun]
) -> None:
    # A copy of the seeded database: this run migrates it, finds the demo and serves it.
    seeded, seed_run = seeded_demo
    adopted = re.search(r"adopted Candor on (\d{4}-\d\d-\d\d)", seed_run.stdout)
    assert adopted is not None, seed_run.stdout
    for file in seeded.parent.glob(f"{seeded.name}*"):
        shutil.copy(file, tmp_path / file.name)
    database = tmp_path / seeded.name
    log_file = tmp_path / "demo.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    clean["CANDOR_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    port = free_port()
    demo = subprocess.Popen(  # pipes, not a terminal: the plain progress lines
        [str(CANDOR), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_read_lines, args=(demo.stdout, out), daemon=True),
        threading.Thread(target=_read_lines, args=(demo.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 300
        while not any(line.startswith("Serving on") for line in out):
            assert demo.poll() is None, "\n".join(err)
            assert time.monotonic() < deadline, "\n".join(err)
            time.sleep(0.2)
        # The worker starts with the server: wait until its SLA warnings have been logged.
        while "sla.breached" not in (log_file.read_text("utf-8") if log_file.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(2)
        on_screen_when_ready = (list(out), list(err))
        _a_recruiter_on_a_phone_approves_in_two_taps_and_sees_the_story(
            f"http://127.0.0.1:{port}", database, date.fromisoformat(adopted.group(1))
        )
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        for reader in readers:
            reader.join(timeout=10)
        for pipe in (demo.stdout, demo.stderr):
            assert pipe is not None
            pipe.close()

    out_then, err_then = on_screen_when_ready
    # What a person reads last: the instructions, ending with the server's address.
    assert out_then[-1] == f"Serving on http://127.0.0.1:{port}; press Ctrl+C to stop."
    last = "\n".join(out_then[-40:])
    assert f"Demo HR logins for the HR console, password for all: {DEMO_PASSWORD}" in "\n".join(
        out_then
    )
    assert f"http://127.0.0.1:{port}/console/login" in "\n".join(out_then)
    assert re.search(rf"http://127\.0\.0\.1:{port}/chat\?bind=[\w-]+", last)
    assert f"Log (requests, the worker's SLA warnings): {log_file}" in last
    # Nothing scrolled them away: stderr ends where the server started, the log went to the file.
    assert err_then[0] == "Migrating the database…"
    assert "already in the database" in "\n".join(out_then)
    assert err_then[-1] == "Starting the server…", err_then[-5:]
    written = log_file.read_text("utf-8")
    assert "[warning  ] sla.breached" in written
    assert "uvicorn.error: Application startup complete." in written
    assert demo.returncode == 0, err[-5:]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_seeding_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = SeedProgress(stream)
        for done in range(1001):
            progress(done, 1000)

    assert terminal.getvalue().startswith("\rSeeding the demo company [")
    assert terminal.getvalue().endswith(f"[{'#' * 30}] 1000/1000 ATS events\n")
    assert terminal.getvalue().count("\n") == 1  # redrawn in place
    assert pipe.getvalue().splitlines() == [
        "Seeding the demo company: 0/1000 ATS events",
        "Seeding the demo company: 1000/1000 ATS events",
    ]
