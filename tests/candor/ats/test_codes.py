from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.ats.codes import (
    APPLICATION_CODE_RE,
    CodeSpaceExhaustedError,
    allocate_application_codes,
    current_counter,
    format_application_code,
)
from candor.runtime import Runtime


@given(year=st.integers(2000, 2099), number=st.integers(1, 999_999))
def test_codes_have_the_documented_shape(year: int, number: int) -> None:
    code = format_application_code(year, number)
    match = APPLICATION_CODE_RE.match(code)
    assert match is not None
    assert (int(match.group(1)), int(match.group(2))) == (year, number)


async def test_blocks_are_consecutive_and_per_year(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        first = await allocate_application_codes(session, 2026, 3)
        other_year = await allocate_application_codes(session, 2027, 1)
        second = await allocate_application_codes(session, 2026, 2)

    assert first == ["AP-2026-000001", "AP-2026-000002", "AP-2026-000003"]
    assert other_year == ["AP-2027-000001"]
    assert second == ["AP-2026-000004", "AP-2026-000005"]


async def test_concurrent_allocators_never_share_a_code(runtime: Runtime) -> None:
    async def allocate() -> list[str]:
        async with runtime.transaction() as session:
            codes = await allocate_application_codes(session, 2026, 50)
            await asyncio.sleep(0.01)  # hold the transaction open while others try
            return codes

    blocks = await asyncio.gather(*(allocate() for _ in range(8)))

    codes = [code for block in blocks for code in block]
    assert len(codes) == len(set(codes)) == 400
    async with runtime.sessionmaker() as session:
        assert await current_counter(session, 2026) == 400


async def test_a_rolled_back_allocation_gives_its_codes_back(runtime: Runtime) -> None:
    async def allocate_then_fail() -> None:
        async with runtime.transaction() as session:
            await allocate_application_codes(session, 2026, 10)
            raise RuntimeError("import failed")

    with pytest.raises(RuntimeError):
        await allocate_then_fail()

    async with runtime.transaction() as session:
        assert await allocate_application_codes(session, 2026, 1) == ["AP-2026-000001"]


async def test_the_yearly_code_space_has_an_end(runtime: Runtime) -> None:
    with pytest.raises(CodeSpaceExhaustedError):
        async with runtime.transaction() as session:
            await allocate_application_codes(session, 2026, 1_000_000)
