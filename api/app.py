"""The FastAPI application: API, operations endpoints and (later) channel webhooks."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import candor
from api.console import install_console
from api.errors import document_body_limit, install_error_handlers
from api.middleware import (
    BodySizeLimitMiddleware,
    MetricsMiddleware,
    RequestLogMiddleware,
    StrictTransportSecurityMiddleware,
)
from api.routers import (
    approval_rules,
    ats,
    audit,
    booking_links,
    calendar,
    conversations,
    health,
    kpis,
    metrics,
    outreach,
    privacy,
    scheduling,
    sms,
    telegram,
    templates,
    webchat,
    webhooks,
    wechat,
    wecom,
)
from bot.channels.http11 import Http11Transport
from bot.channels.registry import build_card_senders, build_senders
from bot.channels.wechat.service import build_wechat_endpoint
from bot.channels.wecom import WeComCallback
from bot.conversation import ConversationGateway
from bot.gateway import Gateway
from bot.lifespan import ChatChannels, default_gateway
from candor.bootstrap import ensure_reference_data
from candor.delivery.ports import close_senders
from candor.logging import configure_logging
from candor.metrics.process import configure as configure_metrics
from candor.metrics.process import mark_dead as mark_metrics_process_dead
from candor.runtime import Runtime
from candor.settings import Environment, Settings, get_settings
from candor.worker import run_worker_loops


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    with_worker: bool = False,
    gateway_factory: Callable[[Runtime], Gateway] | None = None,
) -> FastAPI:
    """Build the app. A caller-supplied `runtime` is used as is and left open on shutdown.

    `with_worker` runs the background worker (outbox dispatcher and periodic jobs) inside
    this process: the embedded default's single process does everything, while scaled mode
    runs `candor worker` processes instead.
    """
    settings = runtime.settings if runtime is not None else (settings or get_settings())
    # Before any metric is built: with a shared directory, every process writes its own file.
    configure_metrics(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        owned = runtime is None
        app.state.runtime = runtime or Runtime.create(settings)
        await ensure_reference_data(app.state.runtime)
        # Chat channels hand inbound messages to this gateway.
        app.state.gateway = (gateway_factory or default_gateway)(app.state.runtime)
        app.state.chat = await ChatChannels.start(app.state.runtime, app.state.gateway)
        app.state.wechat = build_wechat_endpoint(settings, app.state.runtime.redis)
        app.state.wecom = (
            WeComCallback(settings, app.state.runtime.redis) if settings.wecom_enabled else None
        )
        # What start-up loaded lives as long as the process: keep it out of the cyclic
        # garbage collector's full passes, which otherwise walk some 300,000 long-lived
        # objects (100-350 ms, with every request in flight stalled).
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        # The embedded default's worker: senders built once for the process, closed last.
        senders = (
            build_senders(settings, app.state.runtime.redis, app.state.runtime.sessionmaker)
            if with_worker
            else {}
        )
        card_senders = build_card_senders(settings, app.state.runtime.redis) if with_worker else {}
        worker = (
            asyncio.create_task(
                run_worker_loops(
                    app.state.runtime,
                    senders,
                    stop,
                    webhook_transport=Http11Transport(),
                    card_senders=card_senders,
                )
            )
            if with_worker
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await close_senders(senders)
            for card_sender in card_senders.values():
                await card_sender.aclose()
            if app.state.wechat is not None:
                await app.state.wechat.aclose()
            await app.state.chat.aclose()
            if isinstance(app.state.gateway, ConversationGateway):
                await app.state.gateway.aclose()
            if owned:
                await app.state.runtime.aclose()
            mark_metrics_process_dead()

    development = settings.env is Environment.DEVELOPMENT
    app = FastAPI(
        title="Candor",
        version=candor.__version__,
        summary="Every candidate hears back: result outreach, candidate chat and HR control.",
        lifespan=lifespan,
        # The interactive docs and the schema map every route for a stranger: development only.
        docs_url="/docs" if development else None,
        redoc_url="/redoc" if development else None,
        openapi_url="/openapi.json" if development else None,
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(MetricsMiddleware)
    if not development:
        app.add_middleware(StrictTransportSecurityMiddleware)
    # Added last, so it runs first: every later reader of the client address or scheme
    # (login throttling, secure cookies) sees the one a trusted proxy vouches for.
    app.add_middleware(
        ProxyHeadersMiddleware, trusted_hosts=[str(proxy) for proxy in settings.trusted_proxies]
    )
    install_error_handlers(app)
    # The chat webhooks first: routes are matched in order, and these take the most requests
    # (matching a WeChat callback past every console route cost ~5 % of its CPU).
    app.include_router(wechat.router)
    app.include_router(wecom.router)
    app.include_router(telegram.router)
    app.include_router(webchat.router)
    app.include_router(booking_links.router)
    app.include_router(sms.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(ats.router)
    app.include_router(calendar.router)
    app.include_router(outreach.router)
    app.include_router(templates.router)
    app.include_router(approval_rules.router)
    app.include_router(kpis.router)
    app.include_router(audit.router)
    app.include_router(conversations.router)
    app.include_router(privacy.router)
    app.include_router(webhooks.router)
    app.include_router(scheduling.router)
    app.include_router(scheduling.public_router)
    install_console(app)
    document_body_limit(app)
    return app
