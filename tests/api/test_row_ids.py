"""Ids too large for a database column are refused as invalid input (422), never a 500."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from api.app import create_app
from candor.models.enums import Role
from candor.runtime import Runtime
from tests.factories import make_hr_token, make_hr_user

TOO_LARGE = 2**63
# A row id in a path; a booking's `public_id` is a random string, not a row id.
PATH_ID = re.compile(r"\{((?!public_id\})\w+_id)\}")


def _id_routes() -> list[tuple[str, str]]:
    """Every HR API route with an id in its path, as (method, path with the id too large)."""
    paths = create_app().openapi()["paths"]
    return [
        (method.upper(), PATH_ID.sub(str(TOO_LARGE), path))
        for path, operations in paths.items()
        if path.startswith("/api/v1/") and PATH_ID.search(path)
        for method in sorted(operations)
    ]


ID_ROUTES = _id_routes()

# Ids in query strings and bodies, beside those in paths.
ID_ELSEWHERE: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/outreach/messages", {"params": {"team_id": TOO_LARGE}}),
    ("GET", "/api/v1/outreach/messages", {"params": {"job_id": TOO_LARGE}}),
    ("GET", "/api/v1/outreach/messages", {"params": {"after_id": TOO_LARGE}}),
    ("GET", "/api/v1/audit", {"params": {"team_id": TOO_LARGE}}),
    ("GET", "/api/v1/audit", {"params": {"before_id": TOO_LARGE}}),
    ("GET", "/api/v1/kpis", {"params": {"job_id": TOO_LARGE}}),
    ("GET", "/api/v1/kpis", {"params": {"team_id": TOO_LARGE}}),
    ("GET", "/api/v1/kpis", {"params": {"recruiter_id": TOO_LARGE}}),
    ("POST", "/api/v1/outreach/messages/bulk-approve", {"json": {"message_ids": [TOO_LARGE]}}),
    (
        "PUT",
        "/api/v1/approval-rules",
        {"json": {"outcome": "reject", "team_id": TOO_LARGE, "mode": "auto"}},
    ),
    (
        "POST",
        "/api/v1/templates/preview",
        {"json": {"application_code": "AP-1", "template_id": TOO_LARGE}},
    ),
]


def test_the_route_table_has_ids_to_check() -> None:
    assert len(ID_ROUTES) >= 10


@pytest.fixture
async def admin_headers(runtime: Runtime) -> dict[str, str]:
    async with runtime.transaction() as session:
        token = await make_hr_token(session, await make_hr_user(session, role=Role.ADMIN))
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": "row-id-test"}


async def test_an_id_past_the_64_bit_range_in_any_path_is_a_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answers = {}
    for method, path in ID_ROUTES:
        body: dict[str, Any] | None = {} if method in {"POST", "PUT"} else None
        response = await client.request(method, path, headers=admin_headers, json=body)
        answers[f"{method} {path}"] = (response.status_code, response.json()["error"]["code"])
    assert answers == dict.fromkeys(answers, (422, "invalid_request"))


@pytest.mark.parametrize(("method", "path", "request_args"), ID_ELSEWHERE)
async def test_an_id_past_the_64_bit_range_in_a_query_or_body_is_a_422(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    request_args: dict[str, Any],
) -> None:
    response = await client.request(method, path, headers=admin_headers, **request_args)

    assert response.status_code == 422
    assert response.json()["error"]["code"] in {"invalid_request", "invalid_filter"}


async def test_the_largest_64_bit_id_is_valid_and_simply_not_found(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(f"/api/v1/outreach/messages/{2**63 - 1}", headers=admin_headers)

    assert response.status_code == 404
