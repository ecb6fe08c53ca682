"""The whole OpenAPI, fuzzed with schemathesis: no route answers a 5xx it does not document,
and every answer matches the documented status codes and schemas.

The schema comes from the app object (outside development `/openapi.json` is off), and
requests go in-process to the app over a seeded world, so ids in paths find real rows now
and then. Generation is derandomized and small (a few cases per operation and mode) so the
run is the same every time and fits CI. A failure lists every failing request with the
schemathesis report for it.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from candor.auth.tokens import Scope
from candor.models.enums import Role
from candor.settings import Settings
from tests.api.test_object_authorization import team_a_objects
from tests.conftest import TEST_SECRET
from tests.factories import make_ats_token
from tests.outreach_world import World

EXAMPLES_PER_OPERATION = 4
BASE_URL = "http://candor.test"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Integration-token routes: everything else under /api/v1 takes an HR user's token.
INTEGRATION_PREFIXES = ("/api/v1/ats/", "/api/v1/calendar/")
CHAT_SESSION = "fuzz-chat-session-cookie-0123456789"


Operation = APIOperation[Any, Any, Any, Any]


def _cases(operation: Operation, mode: GenerationMode) -> list[Case[Operation]]:
    """The operation's first few cases in `mode`: the same ones on every run."""
    found: list[Case[Operation]] = []
    # The web chat's session cookie is fixed, so its requests reach the conversation; a
    # Telegram secret header is any string, and hypothesis would search long for a bad one.
    cookies = {"candor_chat": CHAT_SESSION} if operation.path.startswith("/chat") else None
    headers = (
        {"X-Telegram-Bot-Api-Secret-Token": "fuzz"}
        if operation.path.startswith("/telegram")
        else None
    )

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, cookies=cookies, headers=headers))
    def collect(case: Case[Operation]) -> None:
        found.append(case)

    try:
        collect()
    except Unsatisfiable:
        # Nothing to negate: an operation without parameters or body has no invalid input.
        assert mode is GenerationMode.NEGATIVE
    return found


@functools.cache
def _all_cases() -> list[tuple[GenerationMode, Case[Operation]]]:
    """Every operation's cases, generated once per run (the schema is the same for both
    storage variants, and generating is half the time)."""
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url="sqlite+aiosqlite://")
    schema = schemathesis.openapi.from_dict(create_app(settings).openapi())
    cases: list[tuple[GenerationMode, Case[Operation]]] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases.extend((mode, case) for case in _cases(result.ok(), mode))
    return cases


def _request(case: Case[Operation], auth: str) -> dict[str, Any]:
    sent = case.as_transport_kwargs(base_url=BASE_URL)
    headers = {
        str(k): str(v)
        for k, v in (sent.get("headers") or {}).items()
        if str(k).lower() not in {"authorization", "cookie"}
    }
    headers["Authorization"] = f"Bearer {auth}"
    if cookies := dict(sent.get("cookies") or {}):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": headers,
        "params": sent.get("params"),
    }
    if "json" in sent:
        request["json"] = sent["json"]
    elif sent.get("data") is not None:
        data = sent["data"]
        request["content"] = data.encode() if isinstance(data, str) else data
    return request


async def test_every_operation_answers_within_its_documented_contract(
    world: World, api: httpx.AsyncClient
) -> None:
    await team_a_objects(world)
    _, admin_token = await world.member(Role.ADMIN)
    async with world.runtime.transaction() as session:
        integration_token = await make_ats_token(
            session, scopes=[Scope.ATS_WRITE, Scope.CALENDAR_READ, Scope.CALENDAR_WRITE]
        )

    started = time.monotonic()
    cases = _all_cases()
    generated = time.monotonic()
    failures: list[str] = []
    for mode, case in cases:
        token = integration_token if case.path.startswith(INTEGRATION_PREFIXES) else admin_token
        request = _request(case, token)
        try:
            response = await api.request(**request)
        except Exception as exc:  # a 500: ASGITransport re-raises the app's exception
            failures.append(f"{case.method} {case.path} [{mode.value}] raised {exc!r}\n{request}")
            continue
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            failures.append(
                f"{case.method} {case.path} [{mode.value}] -> {response.status_code} "
                f"{response.text[:300]}\n{request}\n"
                + "\n".join(f"  - {failure.title}" for failure in group.exceptions)
            )
    print(  # the run's cost, for whoever tunes EXAMPLES_PER_OPERATION
        f"schemathesis: {len(cases)} cases generated in {generated - started:.1f} s, "
        f"sent in {time.monotonic() - generated:.1f} s"
    )
    assert not failures, "\n\n".join(failures)
