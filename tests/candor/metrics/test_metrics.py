"""The recording side: bounded reason codes for the senders' own reasons, the chat queue's
outcomes through the one delivery loop, and the multiprocess directory's set-up."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from bot.channels.webhook import WebhookChannel
from candor.clock import utcnow
from candor.delivery.direct import deliver_due, queue_direct
from candor.delivery.ports import ChannelSender
from candor.metrics import (
    FAILURE_REASONS,
    RETRY_REASONS,
    handoff,
    host_name,
    metrics,
    nlu_prediction,
    process_identifier,
    reason_code,
)
from candor.metrics.process import clear_if_unused, configure, mark_dead
from candor.models import ChatDelivery
from candor.models.enums import Channel, Locale
from candor.runtime import Runtime
from candor.settings import Settings
from tests.candor.metrics.processes import dead_pid
from tests.fakes import RunningFakeChannel, running_fake_channel


def counted(sample: str, **labels: str) -> float:
    return metrics().registry.get_sample_value(sample, labels) or 0.0


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        # The reasons the senders in bot/channels/ give, verbatim or as they format them.
        ("timeout", "timeout"),
        ("send timed out", "timeout"),
        ("wechat timeout", "timeout"),
        ("transport: ConnectError", "network"),
        ("wechat transport: ReadError", "network"),
        ("redis: ConnectionError", "network"),
        ("SMTP unavailable: SMTPServerDisconnected: gone", "network"),
        ("telegram unavailable: Bad Gateway", "network"),
        ("http 503", "server_error"),
        ("http 429", "rate_limited"),
        ("telegram 429: retry after 3s", "rate_limited"),
        ("wechat api quota reached (45009)", "rate_limited"),
        ("rate limit (shared)", "throttled"),
        ("sms: the number's send limit", "throttled"),
        ("wechat system busy (-1)", "throttled"),
        ("sms: quiet hours", "quiet_hours"),
        ("wechat access_token refused (40001)", "auth"),
        ("SMTP login failed (535); check CANDOR_SMTP_*", "auth"),
        ("something nobody foresaw", "other"),
        ("", "other"),
    ],
)
def test_retry_reasons_map_to_a_few_codes(reason: str, code: str) -> None:
    assert reason_code(reason, allowed=RETRY_REASONS) == code


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("recipient no longer reachable", "unreachable"),
        ("wechat: the user does not follow the account (43004)", "unreachable"),
        ("the web-chat session is gone or no longer bound", "unreachable"),
        ("channel sms is not configured", "not_configured"),
        ("no sender for telegram", "not_configured"),
        ("sms: the message has no SMS template (template code) to send", "not_configured"),
        ("telegram bot token rejected: Unauthorized", "auth"),
        ('http 400: {"error":"scripted 400"}', "rejected"),
        ("telegram refused: Forbidden: bot was blocked by the user", "rejected"),
        ("telegram bad request: chat not found", "rejected"),
        ("wechat errcode 40003: invalid openid", "rejected"),
        ("aliyun isv.MOBILE_NUMBER_ILLEGAL: invalid number (x)", "rejected"),
        ("whatever else", "other"),
    ],
)
def test_failure_reasons_map_to_a_few_codes(reason: str, code: str) -> None:
    assert reason_code(reason, allowed=FAILURE_REASONS) == code


def test_free_text_never_becomes_a_label() -> None:
    before = counted("candor_nlu_predictions_total", engine="rasa", intent="other")
    nlu_prediction("rasa", "DROP TABLE; 13800138000", fallback=False)
    nlu_prediction("embedded", "greet", fallback=False, known=frozenset({"affirm"}))
    handoff("the candidate typed something long")

    assert counted("candor_nlu_predictions_total", engine="rasa", intent="other") - before == 1
    assert counted("candor_nlu_predictions_total", engine="embedded", intent="other") >= 1
    assert counted("candor_handoffs_total", reason="other") >= 1
    labels = {
        sample.labels.get("intent")
        for family in metrics().registry.collect()
        for sample in family.samples
    }
    assert "DROP TABLE; 13800138000" not in labels


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeChannel]:
    async with running_fake_channel() as running:
        yield running


async def test_the_chat_queue_counts_sent_retried_and_failed(
    runtime: Runtime, fake: RunningFakeChannel
) -> None:
    labels = {"queue": "chat", "channel": "email"}
    before = (
        counted("candor_deliveries_total", **labels),
        counted("candor_delivery_retries_total", **labels, reason="server_error"),
        counted("candor_delivery_failures_total", **labels, reason="rejected"),
    )
    async with runtime.transaction() as session:
        for recipient in ("ok@example.com", "later@example.com", "never@example.com"):
            queue_direct(
                session,
                channel=Channel.EMAIL,
                recipient=recipient,
                body="您好",
                locale=Locale.ZH_CN,
                now=utcnow(),
            )
    fake.state.scripts = {"later@example.com": [503], "never@example.com": [400]}
    async with httpx.AsyncClient() as http:
        senders: dict[Channel, ChannelSender] = {
            Channel.EMAIL: WebhookChannel(Channel.EMAIL, fake.url, client=http)
        }
        await deliver_due(runtime, senders)
        async with runtime.transaction() as session:
            await session.execute(
                update(ChatDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        await deliver_due(runtime, senders)

    after = (
        counted("candor_deliveries_total", **labels),
        counted("candor_delivery_retries_total", **labels, reason="server_error"),
        counted("candor_delivery_failures_total", **labels, reason="rejected"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1]


def test_a_directory_nobody_uses_any_more_is_emptied(tmp_path: Path) -> None:
    dead = f"{host_name()}-{dead_pid()}"
    files = [tmp_path / f"counter_{dead}.db", tmp_path / f"histogram_{dead}.db"]
    other = tmp_path / "notes.txt"
    for path in (*files, other):
        path.write_bytes(b"x")

    assert clear_if_unused(tmp_path) == 2
    assert not any(path.exists() for path in files)
    assert other.exists()


@pytest.mark.parametrize(
    "writer",
    [
        pytest.param(lambda: f"{host_name()}-{os.getpid()}", id="a-running-process-here"),
        pytest.param(lambda: f"other-host-{dead_pid()}", id="another-host"),
        pytest.param(lambda: str(dead_pid()), id="an-unknown-name"),
    ],
)
def test_no_counts_are_dropped_while_anyone_may_still_write(
    tmp_path: Path, writer: Callable[[], str]
) -> None:
    """A dead process's counters stay while another process (here, or in a container
    sharing the volume) may still be counting: dropping them would make the host's counters
    go backwards, which Prometheus reads as a reset."""
    dead = tmp_path / f"counter_{host_name()}-{dead_pid()}.db"
    live = tmp_path / f"counter_{writer()}.db"
    for path in (dead, live):
        path.write_bytes(b"x")

    assert clear_if_unused(tmp_path) == 0
    assert dead.exists()
    assert live.exists()


def test_a_clean_exit_drops_only_its_own_live_gauges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    mine = tmp_path / f"gauge_livesum_{process_identifier()}.db"
    counter = tmp_path / f"counter_{process_identifier()}.db"
    # Same PID in another container sharing the volume: not this process.
    theirs = tmp_path / f"gauge_livesum_other-host-{os.getpid()}.db"
    for path in (mine, counter, theirs):
        path.write_bytes(b"x")

    mark_dead()

    assert not mine.exists()
    assert counter.exists()
    assert theirs.exists()


def test_the_setting_turns_multiprocess_mode_on_and_the_variable_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "placeholder")  # restored after the test
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert configure(Settings(env="development")) is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ

    configured = tmp_path / "metrics"
    assert configure(Settings(env="development", metrics_dir=configured)) == str(configured)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(configured)
    assert configured.is_dir()

    explicit = tmp_path / "explicit"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(explicit))
    assert configure(Settings(env="development", metrics_dir=configured)) == str(explicit)
