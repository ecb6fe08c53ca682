"""`GET /metrics` served by uvicorn on uvloop, as in production: every agreed metric after real
traffic (HTTP requests, outbox deliveries through the fake provider, chat turns), who may read
it, and a scrape while the database is unreachable or hanging."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_network

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api.app import create_app
from bot.channels.webhook import WebhookChannel
from bot.gateway import Gateway
from candor.chat.cli import issue_link
from candor.delivery.ports import Sent
from candor.metrics import metrics
from candor.models.enums import Channel
from candor.outreach.dispatcher import Dispatcher
from candor.runtime import Runtime
from candor.settings import Settings
from candor.worker import DEFAULT_JOBS, Job, run_jobs
from tests.candor.outreach.test_dispatcher import make_due_now
from tests.fakes import RunningFakeChannel, free_port, running_fake_channel
from tests.outreach_world import World
from tests.wechat_support import (
    EchoGateway,
    WeChatSigner,
    running_fake_wechat,
    text_xml,
    wechat_settings,
)

# The agreed names and label sets (the spec of issue 17), by family name as the parser
# reports it (a counter without its `_total`).
SPEC: dict[str, tuple[str, frozenset[str]]] = {
    "candor_http_request_duration_seconds": ("histogram", frozenset({"method", "route", "status"})),
    "candor_wechat_callback_ack_seconds": ("histogram", frozenset()),
    "candor_deliveries": ("counter", frozenset({"queue", "channel"})),
    "candor_delivery_retries": ("counter", frozenset({"queue", "channel", "reason"})),
    "candor_delivery_fallbacks": ("counter", frozenset({"from_channel", "to_channel"})),
    "candor_delivery_failures": ("counter", frozenset({"queue", "channel", "reason"})),
    "candor_ambiguous_redeliveries": ("counter", frozenset({"channel"})),
    "candor_nlu_predictions": ("counter", frozenset({"engine", "intent"})),
    "candor_nlu_fallbacks": ("counter", frozenset({"engine"})),
    "candor_handoffs": ("counter", frozenset({"reason"})),
    "candor_job_duration_seconds": ("histogram", frozenset({"job_name"})),
    "candor_job_failures": ("counter", frozenset({"job_name"})),
    "candor_outbox_backlog": ("gauge", frozenset({"channel"})),
    "candor_outbox_oldest_age_seconds": ("gauge", frozenset({"channel"})),
    "candor_drafts_awaiting_approval": ("gauge", frozenset()),
    "candor_sla_items": ("gauge", frozenset({"state"})),
    "candor_workers_alive": ("gauge", frozenset()),
    "candor_redis_roundtrip_seconds": ("gauge", frozenset()),
    "candor_metrics_scrape_errors": ("counter", frozenset({"source"})),
}
# This process's database pool.
POOL_SPEC: dict[str, tuple[str, frozenset[str]]] = {
    "candor_db_pool_connections": ("gauge", frozenset({"state"})),
    "candor_db_pool_size": ("gauge", frozenset()),
}
# Sample suffixes a family's samples carry, and the labels they add.
SUFFIX_LABELS = {"_bucket": {"le"}, "_count": set(), "_sum": set(), "_total": set()}


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    runtime: Runtime


@contextlib.asynccontextmanager
async def served(
    runtime: Runtime, gateway_factory: Callable[[Runtime], Gateway] | None = None
) -> AsyncIterator[Served]:
    """The real app under uvicorn on this (uvloop) loop, on a loopback port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime, gateway_factory=gateway_factory),
            host="127.0.0.1",
            port=port,
            log_level="error",
            proxy_headers=False,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            await task
    assert isinstance(asyncio.get_running_loop(), uvloop_loop())
    try:
        yield Served(f"http://127.0.0.1:{port}", runtime)
    finally:
        server.should_exit = True
        await task


def uvloop_loop() -> type:
    import uvloop

    return uvloop.Loop


def with_settings(runtime: Runtime, **changes: object) -> Runtime:
    """The same database and Redis, other settings."""
    settings = runtime.settings.model_copy(update=changes)
    return Runtime(
        settings=settings,
        engine=runtime.engine,
        sessionmaker=runtime.sessionmaker,
        redis=runtime.redis,
    )


def parse(text: str) -> dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]:
    return {
        family.name: (family.type, [(s.name, s.labels, s.value) for s in family.samples])
        for family in text_string_to_metric_families(text)
    }


def value(text: str, sample: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and s.labels == labels:
                return float(s.value)
    return None


def counted(sample: str, **labels: str) -> float:
    return metrics().registry.get_sample_value(sample, labels) or 0.0


def http_count(route: str, status: str, method: str = "GET") -> float:
    return counted(
        "candor_http_request_duration_seconds_count", method=method, route=route, status=status
    )


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeChannel]:
    async with running_fake_channel() as running:
        yield running


async def _deliver_results(world: World, fake: RunningFakeChannel) -> None:
    """Three results through the outbox: one retried then sent, one refused and sent by its
    fallback channel, one sent by a worker that died before recording it and sent again."""
    for n in (1, 2):
        await world.applicant(n, bind=[Channel.WECHAT])
        await world.decide(n, "advance")
    await make_due_now(world)
    fake.state.scripts = {"wechat-user-1": [503], "wechat-user-2": [400]}
    async with httpx.AsyncClient() as http:
        senders = {channel: WebhookChannel(channel, fake.url, client=http) for channel in Channel}
        context = await world.context()
        survivor = Dispatcher(world.runtime, senders, context, worker_id="survivor")
        for _ in range(2):
            await survivor.run_once()
            await make_due_now(world)
        await world.applicant(3, bind=[Channel.WECHAT])
        await world.decide(3, "advance")
        await make_due_now(world)
        crashed = Dispatcher(
            world.runtime, senders, context, worker_id="crashed", lease=timedelta(0)
        )
        [claimed] = await crashed.claim()
        crashed_delivery = await crashed.prepare(claimed)
        assert crashed_delivery is not None
        await senders[crashed_delivery.channel].send(crashed_delivery)  # then it "dies"
        await survivor.run_once()
        await crashed.record(claimed.item_id, Sent("late"))  # its claim was lost: no count
        assert survivor.stats.sent == 3
        assert survivor.stats.ambiguous == 1


class _Failing(Job):
    name = "always_fails"
    interval = timedelta(hours=1)

    async def run(self, runtime: Runtime) -> int:
        raise RuntimeError("this job always fails")


async def _run_jobs(runtime: Runtime) -> None:
    stop = asyncio.Event()
    await run_jobs(runtime, DEFAULT_JOBS, once=True, stop=stop)
    with pytest.raises(RuntimeError):
        await run_jobs(runtime, (_Failing(),), once=True, stop=stop)


async def test_every_agreed_metric_after_real_traffic(
    world: World, fake: RunningFakeChannel
) -> None:
    before = {
        "sent": counted("candor_deliveries_total", queue="outbox", channel="wechat"),
        "retried": counted(
            "candor_delivery_retries_total", queue="outbox", channel="wechat", reason="server_error"
        ),
        "refused": counted(
            "candor_delivery_failures_total", queue="outbox", channel="wechat", reason="rejected"
        ),
        "fell_back": counted(
            "candor_delivery_fallbacks_total", from_channel="wechat", to_channel="email"
        ),
        "ambiguous": counted("candor_ambiguous_redeliveries_total", channel="wechat"),
        "handoffs": counted("candor_handoffs_total", reason="asked"),
        "failed_job": counted("candor_job_failures_total", job_name="always_fails"),
        **{
            route: http_count(route, status)
            for route, status in (
                ("/healthz", "200"),
                ("unmatched", "404"),
                ("/api/v1/outreach/messages/{message_id}", "404"),
            )
        },
    }
    async with (
        served(world.runtime) as app,
        # Generous: the first chat turn may load the NLU model.
        httpx.AsyncClient(base_url=app.url, timeout=120) as http,
    ):
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/no/such/page")).status_code == 404
        headers = {"Authorization": f"Bearer {world.recruiter_token}"}
        assert (
            await http.get("/api/v1/outreach/messages/999999", headers=headers)
        ).status_code == 404
        # Chat turns through the web chat: one the NLU reads, one it cannot, one hand-off.
        await world.applicant(9)
        link = await issue_link(
            world.runtime.settings, (await world.application(9)).code, Channel.WEB, actor="t"
        )
        assert link is not None
        await http.get(f"/chat?bind={link.plaintext}")
        bound = await http.post(
            "/chat/api/messages", json={"event": "start", "event_key": link.plaintext}
        )
        assert bound.status_code == 200, bound.text
        for text in ("你好", "qzxv wplk", "/human_handoff"):
            turn = await http.post("/chat/api/messages", json={"text": text})
            assert turn.status_code == 200, turn.text
        await _deliver_results(world, fake)
        await _run_jobs(world.runtime)

        scraped = await http.get("/metrics")

    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    families = parse(scraped.text)
    spec = {**SPEC, **POOL_SPEC}
    for name, (kind, labels) in spec.items():
        assert name in families, f"{name} missing from /metrics"
        assert families[name][0] == kind, name
        for sample, sample_labels, _ in families[name][1]:
            extra = next(
                (add for suffix, add in SUFFIX_LABELS.items() if sample == name + suffix), set()
            )
            assert set(sample_labels) == labels | extra, (sample, sample_labels)
    candor_families = {name for name in families if name.startswith("candor_")}
    assert candor_families <= set(SPEC) | set(POOL_SPEC), candor_families - set(SPEC)

    text = scraped.text
    # HTTP by route template, never the raw path.
    for route, status in (
        ("/healthz", "200"),
        ("unmatched", "404"),
        ("/api/v1/outreach/messages/{message_id}", "404"),
    ):
        assert http_count(route, status) - before[route] == 1, route
        assert value(
            text,
            "candor_http_request_duration_seconds_count",
            method="GET",
            route=route,
            status=status,
        ) == http_count(route, status)
    routes = {s[1]["route"] for s in families["candor_http_request_duration_seconds"][1]}
    assert "/no/such/page" not in routes
    assert not any("999999" in r for r in routes)
    # Deliveries: one retry (503), one refusal falling back to e-mail, one ambiguous resend.
    assert (
        counted("candor_deliveries_total", queue="outbox", channel="wechat") - before["sent"] == 2
    )
    assert counted("candor_deliveries_total", queue="outbox", channel="email") >= 1
    assert (
        counted(
            "candor_delivery_retries_total", queue="outbox", channel="wechat", reason="server_error"
        )
        - before["retried"]
        == 1
    )
    assert (
        counted(
            "candor_delivery_failures_total", queue="outbox", channel="wechat", reason="rejected"
        )
        - before["refused"]
        == 1
    )
    assert (
        counted("candor_delivery_fallbacks_total", from_channel="wechat", to_channel="email")
        - before["fell_back"]
        == 1
    )
    assert (
        counted("candor_ambiguous_redeliveries_total", channel="wechat") - before["ambiguous"] == 1
    )
    # The chat: the embedded engine's predictions, its fallback, the hand-off.
    predictions = {
        s[1]["intent"]: s[2]
        for s in families["candor_nlu_predictions"][1]
        if s[1]["engine"] == "embedded"
    }
    assert predictions.get("human_handoff", 0) >= 1
    assert predictions.get("nlu_fallback", 0) >= 1
    assert (value(text, "candor_nlu_fallbacks_total", engine="embedded") or 0) >= 1
    assert counted("candor_handoffs_total", reason="asked") - before["handoffs"] == 1
    # The worker's jobs, one failing.
    for job in DEFAULT_JOBS:
        assert (value(text, "candor_job_duration_seconds_count", job_name=job.name) or 0) >= 1
    assert counted("candor_job_failures_total", job_name="always_fails") - before["failed_job"] == 1
    # Scrape-time readings from the database and Redis.
    assert value(text, "candor_outbox_backlog", channel="wechat") == 0
    assert value(text, "candor_outbox_oldest_age_seconds", channel="wechat") == 0
    assert value(text, "candor_sla_items", state="breached") == 0
    assert value(text, "candor_drafts_awaiting_approval") is not None
    assert value(text, "candor_workers_alive") == 0  # no worker runs beside this app
    roundtrip = value(text, "candor_redis_roundtrip_seconds")
    assert roundtrip is not None
    assert 0 < roundtrip < 1


async def test_the_backlog_and_its_age_count_what_is_due_and_unsent(world: World) -> None:
    for n in (1, 2):
        await world.applicant(n, bind=[Channel.WECHAT])
        await world.decide(n, "advance")
    from sqlalchemy import update

    from candor.clock import utcnow
    from candor.models.outreach import OutboxItem

    async with world.runtime.transaction() as session:
        await session.execute(
            update(OutboxItem).values(next_attempt_at=utcnow() - timedelta(minutes=10))
        )
    async with served(world.runtime) as app, httpx.AsyncClient(base_url=app.url) as http:
        text = (await http.get("/metrics")).text

    assert value(text, "candor_outbox_backlog", channel="wechat") == 2
    assert value(text, "candor_outbox_backlog", channel="email") == 0
    age = value(text, "candor_outbox_oldest_age_seconds", channel="wechat")
    assert age is not None
    assert 600 <= age < 700


async def test_a_worker_heartbeat_counts_as_alive(world: World) -> None:
    from candor.metrics.heartbeat import beat, forget

    await beat(world.runtime.redis, name="host-a:1")
    await beat(world.runtime.redis, name="host-b:2")
    await beat(world.runtime.redis, name="host-c:3", now=time.time() - 61)  # gone quiet
    async with served(world.runtime) as app, httpx.AsyncClient(base_url=app.url) as http:
        alive = value((await http.get("/metrics")).text, "candor_workers_alive")
        await forget(world.runtime.redis, name="host-a:1")
        after = value((await http.get("/metrics")).text, "candor_workers_alive")

    assert (alive, after) == (2, 1)
    assert await world.runtime.redis.ttl("candor:worker-heartbeats") > 0


async def test_the_wechat_callback_ack_is_timed(runtime: Runtime) -> None:
    acks = counted("candor_wechat_callback_ack_seconds_count")
    callbacks = http_count("/wechat/callback", "200", method="POST")
    verifications = http_count("/wechat/callback", "200")
    async with running_fake_wechat() as fake_wechat:
        wechat = Runtime(
            settings=wechat_settings(runtime.settings, fake_wechat.url),
            engine=runtime.engine,
            sessionmaker=runtime.sessionmaker,
            redis=runtime.redis,
        )
        async with (
            served(wechat, lambda _runtime: EchoGateway()) as app,
            httpx.AsyncClient(base_url=app.url) as http,
        ):
            for msg_id in (1001, 1002):
                callback = WeChatSigner().callback(text_xml("o-candidate-1", "你好", msg_id))
                answered = await http.post(callback.url, content=callback.body)
                assert answered.status_code == 200
                assert "echo: 你好" in answered.text
            url_check = WeChatSigner().callback("")
            await http.get(url_check.url.replace("?", "?echostr=hello&", 1))
            text = (await http.get("/metrics")).text

    assert counted("candor_wechat_callback_ack_seconds_count") - acks == 2
    assert http_count("/wechat/callback", "200", method="POST") - callbacks == 2
    assert http_count("/wechat/callback", "200") - verifications == 1  # not an ack
    assert value(text, "candor_wechat_callback_ack_seconds_count") == counted(
        "candor_wechat_callback_ack_seconds_count"
    )


# --- who may read it --------------------------------------------------------------------------

TOKEN = "metrics-token-0123456789"


async def test_loopback_reads_by_default_and_others_need_the_token(runtime: Runtime) -> None:
    outside = with_settings(runtime, metrics_allowed_networks=[ip_network("10.0.0.0/8")])
    async with served(outside) as app, httpx.AsyncClient(base_url=app.url) as http:
        refused = await http.get("/metrics")
        no_token_configured = await http.get("/metrics", headers={"Authorization": "Bearer x"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "metrics_forbidden"
    assert "CANDOR_METRICS_ALLOWED_NETWORKS" in refused.json()["error"]["message"]
    assert "candor_" not in refused.text
    assert no_token_configured.status_code == 403

    tokened = with_settings(
        runtime, metrics_allowed_networks=[ip_network("10.0.0.0/8")], metrics_token=SecretStr(TOKEN)
    )
    async with served(tokened) as app, httpx.AsyncClient(base_url=app.url) as http:
        with_token = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        wrong = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        basic = await http.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert with_token.status_code == 200
    assert "candor_http_request_duration_seconds" in with_token.text
    assert (wrong.status_code, wrong.json()["error"]["message"]) == (403, "wrong metrics token")
    assert basic.status_code == 403

    async with served(runtime) as app, httpx.AsyncClient(base_url=app.url) as http:
        default = await http.get("/metrics")
    assert default.status_code == 200  # loopback, the default network


async def test_a_forwarded_address_counts_only_from_a_trusted_proxy(runtime: Runtime) -> None:
    forwarded = {"X-Forwarded-For": "10.1.2.3"}
    untrusted = with_settings(runtime, metrics_allowed_networks=[ip_network("10.0.0.0/8")])
    async with served(untrusted) as app, httpx.AsyncClient(base_url=app.url) as http:
        # Loopback is not in the allowed networks, and its X-Forwarded-For is not believed.
        spoofed = await http.get("/metrics", headers=forwarded)
    assert spoofed.status_code == 403

    behind_proxy = with_settings(
        runtime,
        metrics_allowed_networks=[ip_network("10.0.0.0/8")],
        trusted_proxies=[ip_network("127.0.0.1")],
    )
    async with served(behind_proxy) as app, httpx.AsyncClient(base_url=app.url) as http:
        vouched = await http.get("/metrics", headers=forwarded)
        outsider = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert vouched.status_code == 200
    assert outsider.status_code == 403

    loopback_only = with_settings(runtime, trusted_proxies=[ip_network("127.0.0.1")])
    async with served(loopback_only) as app, httpx.AsyncClient(base_url=app.url) as http:
        # A proxy on this host forwarding an outsider: the outsider is who is checked.
        relayed = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403


# --- the database down -----------------------------------------------------------------------


class Gate:
    """A TCP relay to the database that can start swallowing connections: they are accepted
    and never answered, as a database behind a dead network path."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.closed = False
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.append(writer)
        if self.closed:
            await asyncio.Event().wait()  # swallowed: never answered
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers.append(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def swallow(self) -> None:
        self.closed = True
        for writer in self.writers:
            writer.close()

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_a_scrape_with_the_database_down_answers_with_what_it_has(
    settings: Settings, tmp_path: object
) -> None:
    from urllib.parse import urlsplit

    from candor.db.engine import create_engine
    from candor.db.engine import create_sessionmaker as sessionmaker_of
    from candor.redis import create_redis

    gate: Gate | None = None
    if settings.uses_sqlite:
        database_url = settings.database_url
    else:
        parts = urlsplit(settings.database_url)
        gate = Gate(parts.hostname or "127.0.0.1", parts.port or 5432)
        port = await gate.start()
        database_url = parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}").geturl()
    tuned = settings.model_copy(
        update={"database_url": database_url, "metrics_scrape_timeout_seconds": 3.0}
    )
    engine = create_engine(tuned)
    runtime = Runtime(
        settings=tuned,
        engine=engine,
        sessionmaker=sessionmaker_of(engine),
        redis=create_redis(tuned),
    )
    errors = counted("candor_metrics_scrape_errors_total", source="database")
    scrapes = http_count("/metrics", "200")
    try:
        async with served(runtime) as app, httpx.AsyncClient(base_url=app.url, timeout=30) as http:
            healthy = await http.get("/metrics")
            if gate is not None:
                gate.swallow()  # connections hang: the timeout must end the reading
            else:
                path = tuned.sqlite_path()
                assert path is not None
                path.rename(path.with_suffix(".gone"))
                path.mkdir()  # the file is now a directory: no connection opens
            await runtime.engine.dispose()
            started = time.monotonic()
            down = await http.get("/metrics")
            took = time.monotonic() - started
    finally:
        await runtime.redis.aclose()
        await engine.dispose()
        if gate is not None:
            await gate.aclose()

    assert healthy.status_code == 200
    assert value(healthy.text, "candor_outbox_backlog", channel="wechat") == 0
    assert down.status_code == 200, down.text
    assert took < 10
    assert counted("candor_metrics_scrape_errors_total", source="database") - errors == 1
    assert value(down.text, "candor_metrics_scrape_errors_total", source="database") is not None
    # What did not need the database is still there; what did is left out, not made up.
    assert value(down.text, "candor_outbox_backlog", channel="wechat") is None
    assert value(down.text, "candor_redis_roundtrip_seconds") is not None
    # The first scrape was counted once it had answered: the second one reports it.
    assert http_count("/metrics", "200") - scrapes == 2
    assert (
        value(
            down.text,
            "candor_http_request_duration_seconds_count",
            method="GET",
            route="/metrics",
            status="200",
        )
        == scrapes + 1
    )


async def test_an_unreadable_metric_file_is_left_out_and_counted(
    runtime: Runtime, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file gone since the listing or truncated (a process killed while creating it) must
    not fail the scrape: the rest is served and the bad file counted."""
    from pathlib import Path

    from candor.metrics import process_identifier

    directory = Path(str(tmp_path)) / "metrics"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    metrics.cache_clear()
    metrics()  # rebuilt now, in multiprocess mode on the files (and the cached children gone)
    try:
        async with served(runtime) as app, httpx.AsyncClient(base_url=app.url) as http:
            assert (await http.get("/healthz")).status_code == 200
            (directory / "counter_elsewhere-7.db").write_bytes(b"")
            (directory / "histogram_elsewhere-8.db").write_bytes(b"\x40\x00")
            response = await http.get("/metrics")
        assert response.status_code == 200, response.text
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        }
        healthz = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
        assert samples[("candor_http_request_duration_seconds_count", healthz)] == 1
        assert samples[("candor_metrics_scrape_errors_total", (("source", "files"),))] == 2
        # This process's own files are named by host and process.
        assert (directory / f"counter_{process_identifier()}.db").exists()
    finally:
        metrics.cache_clear()
        monkeypatch.undo()
        metrics()  # back in memory for the tests that follow
