from __future__ import annotations

import pytest

from candor.bootstrap import ensure_reference_data
from candor.runtime import Runtime
from tests.candor.kpis.history import History, write_history


@pytest.fixture
async def history(runtime: Runtime) -> History:
    await ensure_reference_data(runtime)
    async with runtime.transaction() as session:
        return await write_history(session)
