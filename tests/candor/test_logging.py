from __future__ import annotations

import json
import logging
import time
from pathlib import Path

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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "logs" / "candor.log"
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
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
