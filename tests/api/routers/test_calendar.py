from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from candor.auth.tokens import Scope
from candor.models import CalendarChange, CalendarDay, CalendarYear
from candor.runtime import Runtime
from tests.factories import make_ats_token

DAYS = "/api/v1/calendar/days"
YEARS = "/api/v1/calendar/years"


async def token(runtime: Runtime, *scopes: str) -> dict[str, str]:
    async with runtime.transaction() as session:
        plaintext = await make_ats_token(session, scopes=list(scopes))
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    return await token(runtime, Scope.CALENDAR_WRITE)


async def written(runtime: Runtime) -> tuple[int, int, int]:
    async with runtime.sessionmaker() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(CalendarDay)) or 0),
            int(await session.scalar(select(func.count()).select_from(CalendarYear)) or 0),
            int(await session.scalar(select(func.count()).select_from(CalendarChange)) or 0),
        )


def schedule_2027(**changes: Any) -> dict[str, Any]:
    """Test data for 2027, not the official schedule."""
    return {
        "year": 2027,
        "reference": "test notice",
        "holidays": [
            {"name": "元旦", "dates": ["2027-01-01"]},
            {"name": "test holiday", "from": "2027-01-04", "to": "2027-01-05"},
        ],
        "workdays": [{"name": "test make-up", "dates": ["2027-01-09"]}],
        **changes,
    }


async def test_reading_needs_a_calendar_scope(client: httpx.AsyncClient, runtime: Runtime) -> None:
    anonymous = await client.get(DAYS)
    wrong = await client.get(DAYS, headers=await token(runtime, Scope.ATS_WRITE))
    reader = await client.get(DAYS, headers=await token(runtime, Scope.CALENDAR_READ))

    assert anonymous.status_code == 401
    assert wrong.status_code == 403
    assert "calendar:read or calendar:write" in wrong.json()["error"]["message"]
    assert reader.status_code == 200


async def test_writing_needs_calendar_write(client: httpx.AsyncClient, runtime: Runtime) -> None:
    reader = await token(runtime, Scope.CALENDAR_READ)
    body = {"kind": "holiday", "name": "x"}

    assert (await client.put(f"{DAYS}/2027-01-04", json=body)).status_code == 401
    assert (await client.put(f"{DAYS}/2027-01-04", json=body, headers=reader)).status_code == 403
    posted = await client.post(f"{YEARS}/2027", json=schedule_2027(), headers=reader)
    assert posted.status_code == 403
    assert await written(runtime) == (0, 0, 0)


async def test_days_in_a_range_with_kinds_and_estimates(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get(
        DAYS, params={"from": "2025-09-27", "to": "2025-10-12"}, headers=admin
    )
    late = await client.get(DAYS, params={"from": "2026-12-31", "to": "2027-01-02"}, headers=admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["coverage_end"]) == (
        "2025-09-27",
        "2025-10-12",
        "2026-12-31",
    )
    assert body["estimated"] is False
    days = {day["date"]: day for day in body["days"]}
    assert len(days) == 16
    assert days["2025-09-28"]["kind"] == "makeup_workday"
    assert days["2025-09-28"]["working"] is True
    assert days["2025-09-28"]["weekday"] == "Sun"
    assert days["2025-10-06"] == {
        "date": "2025-10-06",
        "weekday": "Mon",
        "working": False,
        "kind": "holiday",
        "name": "Mid-autumn Festival",
        "source": days["2025-10-06"]["source"],
        "estimated": False,
    }
    assert days["2025-10-06"]["source"].startswith("chinese-calendar ")
    assert late.json()["estimated"] is True
    assert [d["estimated"] for d in late.json()["days"]] == [False, True, True]


async def test_bad_ranges_are_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    backwards = await client.get(
        DAYS, params={"from": "2025-10-12", "to": "2025-10-01"}, headers=admin
    )
    too_long = await client.get(
        DAYS, params={"from": "2025-01-01", "to": "2026-06-01"}, headers=admin
    )
    not_a_date = await client.get(DAYS, params={"from": "2025-13-01"}, headers=admin)

    assert backwards.status_code == 422
    assert backwards.json()["error"]["message"] == "'to' 2025-10-01 is before 'from' 2025-10-12"
    assert too_long.status_code == 422
    assert not_a_date.status_code == 422
    assert not_a_date.json()["error"]["details"][0]["loc"] == ["query", "from"]


async def test_put_and_delete_a_day(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    put = await client.put(
        f"{DAYS}/2025-10-09", json={"kind": "holiday", "name": "公司假"}, headers=admin
    )
    listed = await client.get(
        DAYS, params={"from": "2025-10-09", "to": "2025-10-09"}, headers=admin
    )
    deleted = await client.delete(f"{DAYS}/2025-10-09", headers=admin)
    again = await client.delete(f"{DAYS}/2025-10-09", headers=admin)

    assert put.status_code == 200, put.text
    assert put.json()["kind"] == "holiday"
    assert put.json()["source"] == "api:test-ats"
    assert listed.json()["days"][0]["name"] == "公司假"
    assert deleted.status_code == 200
    assert deleted.json()["kind"] == "workday"
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"
    assert await written(runtime) == (0, 0, 2)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("2027-01-04", {"kind": "vacation", "name": "x"}),
        ("2027-01-04", {"kind": "holiday", "name": "  "}),
        ("2027-01-04", {"kind": "holiday"}),
        ("2027-01-04", {"kind": "holiday", "name": "x", "extra": 1}),
        ("2027-02-30", {"kind": "holiday", "name": "x"}),
        ("1800-01-01", {"kind": "holiday", "name": "x"}),
    ],
)
async def test_bad_day_overrides_are_422_and_write_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: dict[str, str],
    path: str,
    body: dict[str, Any],
) -> None:
    response = await client.put(f"{DAYS}/{path}", json=body, headers=admin)

    assert response.status_code == 422, response.text
    assert await written(runtime) == (0, 0, 0)


async def test_loading_a_year_makes_it_known(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    posted = await client.post(f"{YEARS}/2027", json=schedule_2027(), headers=admin)
    days = await client.get(DAYS, params={"from": "2027-01-01", "to": "2027-01-10"}, headers=admin)
    years = await client.get(YEARS, headers=admin)

    assert posted.status_code == 200, posted.text
    assert posted.json() == {
        "year": 2027,
        "holidays": 3,
        "workdays": 1,
        "replaced": 0,
        "coverage_end": "2027-12-31",
    }
    assert days.json()["estimated"] is False
    by_date = {d["date"]: d for d in days.json()["days"]}
    assert by_date["2027-01-05"]["kind"] == "holiday"
    assert by_date["2027-01-09"]["kind"] == "makeup_workday"
    assert by_date["2027-01-06"]["source"] == "api:test-ats"
    overview = years.json()
    assert overview["coverage_end"] == "2027-12-31"
    assert overview["package"]["first_year"] == 2004
    assert [(y["year"], y["reference"]) for y in overview["admin_years"]] == [(2027, "test notice")]

    deleted = await client.delete(f"{YEARS}/2027", headers=admin)
    again = await client.delete(f"{YEARS}/2027", headers=admin)
    assert deleted.status_code == 204
    assert again.status_code == 404
    assert (await client.get(YEARS, headers=admin)).json()["coverage_end"] == "2026-12-31"


async def test_an_invalid_year_is_422_naming_entries_and_writes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    semantic = await client.post(
        f"{YEARS}/2027",
        json=schedule_2027(workdays=[{"name": "春节", "dates": ["2027-02-15", "2028-01-01"]}]),
        headers=admin,
    )
    mismatch = await client.post(f"{YEARS}/2028", json=schedule_2027(), headers=admin)
    structural = await client.post(
        f"{YEARS}/2027", json={"year": 2027, "holidays": [{"dates": ["x"]}]}, headers=admin
    )
    out_of_range = await client.post(f"{YEARS}/1800", json=schedule_2027(), headers=admin)

    assert semantic.status_code == 422
    error = semantic.json()["error"]
    assert error["code"] == "invalid_schedule"
    assert error["details"] == [
        "workdays[0] (春节): 2027-02-15 is a Monday, already a working day; "
        "a 调休 make-up working day falls on a Saturday or Sunday",
        "workdays[0] (春节): 2028-01-01 is not in 2027",
    ]
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["details"] == ["year: the document is for 2027, not 2028"]
    assert structural.status_code == 422
    assert structural.json()["error"]["code"] == "invalid_request"
    assert out_of_range.status_code == 422
    assert await written(runtime) == (0, 0, 0)


async def test_the_calendar_is_documented(runtime: Runtime) -> None:
    paths = create_app(runtime=runtime).openapi()["paths"]
    assert {"/api/v1/calendar/days", "/api/v1/calendar/years/{year}"} <= set(paths)
