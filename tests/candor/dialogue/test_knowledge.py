from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from candor.clock import utcnow
from candor.dialogue.knowledge import (
    DEFAULT_ANSWERS_PATH,
    KnowledgeFileError,
    load_answers,
    read_answers,
)
from candor.models import JobAnswer
from tests.outreach_world import World


def test_the_shipped_answers_file_is_valid() -> None:
    answers = read_answers(DEFAULT_ANSWERS_PATH)
    assert {a.topic for a in answers.answers} >= {"salary", "location", "benefits", "overtime"}


async def test_answers_load_per_job_and_company_wide(world: World, tmp_path: Path) -> None:
    await world.applicant(1)  # job-team-a exists now
    path = tmp_path / "answers.yml"
    path.write_text(
        "answers:\n"
        "  - {job: job-team-a, topic: salary, zh-CN: 月薪 20k, en: 20k a month}\n"
        "  - {job: null, topic: benefits, zh-CN: 五险一金}\n",
        encoding="utf-8",
    )
    async with world.runtime.transaction() as session:
        loaded = await load_answers(session, read_answers(path), actor="test", now=utcnow())
    assert loaded.answers == 3
    async with world.runtime.transaction() as session:  # loading again replaces, not adds
        await load_answers(session, read_answers(path), actor="test", now=utcnow())
    async with world.runtime.sessionmaker() as session:
        rows = (await session.scalars(select(JobAnswer))).all()
    assert sorted((r.topic, r.locale.value, r.job_id is None) for r in rows) == [
        ("benefits", "zh-CN", True),
        ("salary", "en", False),
        ("salary", "zh-CN", False),
    ]


async def test_a_bad_file_names_every_problem_and_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "answers.yml"
    path.write_text(
        "answers:\n"
        "  - {job: no-such-job, topic: salary, zh-CN: x}\n"
        "  - {job: null, topic: benefits}\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeFileError) as raised:
        async with world.runtime.transaction() as session:
            await load_answers(session, read_answers(path), actor="test", now=utcnow())
    assert raised.value.problems == [
        "answers.0: unknown job 'no-such-job'",
        "answers.1: give zh-CN or en",
    ]
    (tmp_path / "bad.yml").write_text("answers:\n  - {topic: Salary!, zh-CN: x}\n", "utf-8")
    with pytest.raises(KnowledgeFileError, match=r"answers\.0\.topic"):
        read_answers(tmp_path / "bad.yml")
    async with world.runtime.sessionmaker() as session:
        assert (await session.scalars(select(JobAnswer))).all() == []
