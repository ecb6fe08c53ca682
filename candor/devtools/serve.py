"""Running a fake provider from the command line: the options and the server every fake
shares, so `python -m candor.devtools.fake_*` behave alike."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from starlette.types import ASGIApp


def fake_server_arguments(description: str | None, *, port: int) -> argparse.ArgumentParser:
    """A parser with the listening address; each fake adds its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


def serve_fake(app: ASGIApp, *, host: str, port: int) -> None:
    """Serve until interrupted, without a log line per request: benchmarks send thousands."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    asyncio.run(uvicorn.Server(config).serve())
