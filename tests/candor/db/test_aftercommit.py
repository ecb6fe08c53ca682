from __future__ import annotations

import pytest

from candor.db import aftercommit
from candor.runtime import Runtime


async def test_effects_run_after_commit_and_never_after_a_rollback(runtime: Runtime) -> None:
    ran: list[str] = []

    async def note(what: str) -> None:
        ran.append(what)

    async with runtime.transaction() as session:
        aftercommit.on_commit(session, lambda: note("committed"))
        aftercommit.on_end(session, lambda: note("ended"))
        async with session.begin_nested():  # a SAVEPOINT ending is not the transaction's end
            pass
        await aftercommit.drain()
        assert ran == []
    await aftercommit.drain()
    assert sorted(ran) == ["committed", "ended"]

    ran.clear()

    async def failing_unit_of_work() -> None:
        async with runtime.transaction() as session:
            aftercommit.on_commit(session, lambda: note("committed"))
            aftercommit.on_end(session, lambda: note("ended"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await failing_unit_of_work()
    await aftercommit.drain()
    assert ran == ["ended"]
