from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from candor.logging import (
    MAX_LOGGED_CHARS,
    close_log_files,
    configure_logging,
    get_logger,
    mask_bounded_text,
    mask_text,
    mask_value,
)
from candor.settings import Settings


def test_personal_fields_are_masked_in_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    get_logger("t").info(
        "binding.created",
        name="张伟",
        mobile="13812345678",
        email="zhang.wei@example.com",
        openid="o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
        application_code="AP-2026-000001",
        note="候选人留言: 我的电话是 139 1234 5678, 邮箱 a.b@qq.com",
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    structlog.reset_defaults()

    assert line["event"] == "binding.created"
    assert line["name"] == "张*"
    assert line["mobile"] == "138****5678"
    assert line["email"] == "z***@example.com"
    assert line["openid"] == "o6***2M"
    assert line["application_code"] == "AP-2026-000001"
    assert "1234" not in line["note"]
    assert "a.b@qq.com" not in line["note"]
    assert "139****5678" in line["note"]


def test_nested_personal_fields_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    get_logger("t").info("x", candidate={"name": "Alice Smith", "email": "alice@example.com"})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    structlog.reset_defaults()

    assert line["candidate"] == {"name": "Al***th", "email": "a***@example.com"}


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(prefix=st.text(alphabet="你好，电话：abc ", max_size=10), mobile=mobiles)
def test_no_mainland_mobile_survives_masking(prefix: str, mobile: str) -> None:
    masked = mask_text(f"{prefix}{mobile}。")
    assert mobile not in masked
    assert mobile[-4:] in masked


@given(
    local=st.from_regex(r"[a-z][a-z0-9.]{0,15}", fullmatch=True),
    domain=st.sampled_from(["qq.com", "163.com", "example.org"]),
)
def test_no_email_survives_masking(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    masked = mask_text(f"mail me at {address} please")
    assert address not in masked or len(local) == 1
    assert masked.endswith(f"@{domain} please")


def test_mask_value_keeps_short_values_distinguishable() -> None:
    assert mask_value("") == ""
    assert mask_value("李") == "李"
    assert mask_value("李雷") == "李*"


ADVERSARIAL_64K = {
    "word-run-then-at": "a" * 65536 + "@",
    "digits": "1" * 65536,
    "dot-dash": ".-" * 32768,
    "at-then-labels": "a@" + "a." * 32767,
    "labels-then-at": "a." * 32767 + "@",
    "spaced-digits": "1 " * 32768,
    "plus-86": "+86 " * 16384,
}


@pytest.mark.parametrize("text", ADVERSARIAL_64K.values(), ids=ADVERSARIAL_64K.keys())
def test_masking_takes_linear_time_on_adversarial_text(text: str) -> None:
    started = time.perf_counter()
    mask_text(text)
    assert time.perf_counter() - started < 0.5


def test_a_long_logged_string_is_cut_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    get_logger("t").info("http.request", path="/" + "a" * 60_000)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    structlog.reset_defaults()

    assert line["path"] == "/" + "a" * (MAX_LOGGED_CHARS - 1) + "…[truncated, 60001 chars]"


@pytest.mark.parametrize("straddling", ["13812345678", "zhang.wei@example.com"])
def test_personal_data_cut_by_the_limit_is_masked_not_half_kept(straddling: str) -> None:
    text = "x" * (MAX_LOGGED_CHARS - 6) + " " + straddling + " tail" * 1000

    masked = mask_bounded_text(text)

    assert masked.startswith("x" * (MAX_LOGGED_CHARS - 6) + " ")
    assert straddling[:5] not in masked
    assert masked.endswith(f"…[truncated, {len(text)} chars]")


def test_many_addresses_before_the_cut_are_all_masked() -> None:
    addresses = [f"{'u' * 63}{n}@example.com" for n in range(200)]
    masked = mask_bounded_text(" ".join(addresses))

    assert "u" * 5 not in masked
    assert masked.count("***@example.com") > 100


def test_a_log_file_takes_every_line_and_errors_still_reach_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log_file = tmp_path / "logs" / "candor.log"
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # As `candor demo` runs uvicorn (log_config=None): its loggers untouched. An earlier test
    # in this process may have started uvicorn with its default config, which gives the
    # `uvicorn` logger its own handler and stops it propagating to the root.
    for name in ("uvicorn", "uvicorn.error"):
        monkeypatch.setattr(logging.getLogger(name), "handlers", [])
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    configure_logging(Settings(log_file=log_file))
    try:
        get_logger("t").warning("sla.breached", email="zhang.wei@example.com")
        get_logger("t").error("outreach.failed", application_code="AP-2026-000001")
        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("asyncio").error("Task exception was never retrieved")
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)
        close_log_files()
    err = capsys.readouterr().err
    written = log_file.read_text(encoding="utf-8")

    for line in ("sla.breached", "outreach.failed", "Started server process", "Task exception"):
        assert line in written
    assert "z***@example.com" in written  # masked in the file as on stderr
    assert "zhang.wei" not in written
    assert "outreach.failed" in err
    assert "Task exception was never retrieved" in err
    assert "sla.breached" not in err
    assert "Started server process" not in err


BOT_TOKEN = "123456:SECRET-TOKEN_abc"
ACCESS_TOKEN = "WXSECRET42"


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quieted = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    try:
        yield
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, quieted_level in quieted.items():
            logging.getLogger(name).setLevel(quieted_level)
        close_log_files()


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
@pytest.mark.usefixtures("restored_root_logger")
def test_http_requests_leave_no_token_in_the_log_file(
    tmp_path: Path, local_server: str, level: str
) -> None:
    log_file = tmp_path / "candor.log"
    configure_logging(Settings(log_file=log_file, log_level=level))
    with httpx.Client() as client:
        client.post(f"{local_server}/bot{BOT_TOKEN}/sendMessage", data={"chat_id": "42"})
        client.post(f"{local_server}/custom/send?access_token={ACCESS_TOKEN}&x=1", json={})
    get_logger("t").info("outbox.sent", url=f"{local_server}/bot{BOT_TOKEN}/sendMessage")
    written = log_file.read_text(encoding="utf-8")

    assert "outbox.sent" in written  # the file does take this level's lines
    assert "SECRET-TOKEN" not in written
    assert ACCESS_TOKEN not in written
    assert "/bot123456:***/sendMessage" in written


def _third_party_warning() -> None:
    logging.getLogger("somelib.client").warning(
        "retrying %s for candidate 13812345678",
        f"https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token={ACCESS_TOKEN}",
    )


@pytest.mark.usefixtures("restored_root_logger")
def test_a_third_party_warning_is_masked_in_the_log_file(tmp_path: Path) -> None:
    log_file = tmp_path / "candor.log"
    configure_logging(Settings(log_file=log_file))
    _third_party_warning()
    written = log_file.read_text(encoding="utf-8")

    assert "somelib.client: retrying" in written
    assert "138****5678" in written
    assert "custom/send?access_token=*** for candidate" in written
    assert "13812345678" not in written
    assert ACCESS_TOKEN not in written


@pytest.mark.usefixtures("restored_root_logger")
def test_a_third_party_warning_is_masked_on_stderr_without_a_log_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings())
    _third_party_warning()
    logging.getLogger("somelib.client").info("below WARNING: not shown")
    err = capsys.readouterr().err

    assert "somelib.client: retrying" in err
    assert "138****5678" in err
    assert "access_token=***" in err
    assert "13812345678" not in err
    assert ACCESS_TOKEN not in err
    assert "not shown" not in err


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (
            "https://api.telegram.org/bot123:AA-b_c/getMe",
            "https://api.telegram.org/bot123:***/getMe",
        ),
        (
            "/cgi-bin/gettoken?corpid=ww1&corpsecret=S3cr3t",
            "/cgi-bin/gettoken?corpid=ww1&corpsecret=***",
        ),
        ("/cb?msg_signature=abc&timestamp=1&nonce=n", "/cb?msg_signature=***&timestamp=1&nonce=n"),
        ("/api?sign=ff00;key=k1&Token=t#frag", "/api?sign=***;key=***&Token=***#frag"),
        ("/search?q=token&page=2", "/search?q=token&page=2"),
        (
            "GET https://hr.example.com/privacy/exports/kQ3_x-Yz0123456789abcdefABCDEF12 200",
            "GET https://hr.example.com/privacy/exports/*** 200",
        ),
        ("/privacy/exports/[single-use link]", "/privacy/exports/[single-use link]"),
    ],
)
def test_secrets_in_urls_are_redacted(url: str, redacted: str) -> None:
    assert mask_text(url) == redacted


def test_a_long_secret_is_redacted_whole_when_the_string_is_cut() -> None:
    secret = "Q" * (3 * MAX_LOGGED_CHARS)
    text = f"GET /x?access_token={secret}&phone=13812345678 " + "y" * 50_000
    masked = mask_bounded_text(text)

    assert "QQ" not in masked
    assert "/x?access_token=***&phone=138****5678 " in masked
    assert masked.endswith(f"…[truncated, {len(text)} chars]")
