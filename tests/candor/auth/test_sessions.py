"""Console sessions in Redis (fakeredis embedded, real Redis scaled)."""

from __future__ import annotations

import hashlib

from candor.auth.sessions import (
    IDLE_TIMEOUT,
    create_session,
    csrf_matches,
    end_session,
    end_user_sessions,
    load_session,
)
from candor.runtime import Runtime


async def test_a_session_carries_its_user_and_csrf_token(runtime: Runtime) -> None:
    session_id = await create_session(runtime.redis, 42)

    loaded = await load_session(runtime.redis, session_id)

    assert loaded is not None
    assert loaded.user_id == 42
    assert len(loaded.csrf_token) >= 32
    # Redis holds the session under a hash of its id, never the cookie's value itself.
    assert await runtime.redis.exists(f"candor:console:session:{session_id}") == 0
    key = f"candor:console:session:{hashlib.sha256(session_id.encode()).hexdigest()}"
    assert 0 < await runtime.redis.ttl(key) <= IDLE_TIMEOUT.total_seconds()


async def test_ended_unknown_and_malformed_sessions_are_none(runtime: Runtime) -> None:
    session_id = await create_session(runtime.redis, 1)
    await end_session(runtime.redis, session_id)

    assert await load_session(runtime.redis, session_id) is None
    assert await load_session(runtime.redis, "no-such-session") is None
    assert await load_session(runtime.redis, "") is None
    assert await load_session(runtime.redis, "x" * 500) is None


def test_csrf_tokens_match_exactly() -> None:
    assert csrf_matches("abc", "abc")
    assert not csrf_matches("abc", "abd")
    assert not csrf_matches("abc", None)
    assert not csrf_matches("abc", "")


async def test_ending_a_users_sessions_ends_all_of_theirs_and_only_theirs(
    runtime: Runtime,
) -> None:
    first = await create_session(runtime.redis, 7)
    second = await create_session(runtime.redis, 7)
    someone_else = await create_session(runtime.redis, 8)
    await end_session(runtime.redis, first)  # already over: not counted again

    assert await end_user_sessions(runtime.redis, 7) == 1

    assert await load_session(runtime.redis, second) is None
    assert await load_session(runtime.redis, someone_else) is not None
    assert await end_user_sessions(runtime.redis, 7) == 0


async def test_ending_a_users_sessions_can_keep_the_current_one(runtime: Runtime) -> None:
    here = await create_session(runtime.redis, 7)
    elsewhere = await create_session(runtime.redis, 7)

    assert await end_user_sessions(runtime.redis, 7, keep=here) == 1

    assert await load_session(runtime.redis, here) is not None
    assert await load_session(runtime.redis, elsewhere) is None
    assert await end_user_sessions(runtime.redis, 7) == 1  # still listed: it can be ended
    assert await load_session(runtime.redis, here) is None
