"""Loading approved job answers (data/job_answers.yml) into the knowledge base.

All or nothing: every problem in the file is reported, each naming its entry, and nothing
is written unless the whole file is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.dialogue.service import save_answer
from candor.models import Job
from candor.models.enums import Locale

DEFAULT_ANSWERS_PATH = Path(__file__).resolve().parents[2] / "data" / "job_answers.yml"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Topic = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]


class AnswerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    job: str | None = None
    topic: Topic
    zh: Text | None = Field(default=None, alias="zh-CN")
    en: Text | None = None


class AnswersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[AnswerEntry]


class KnowledgeFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Loaded:
    answers: int


def read_answers(path: Path) -> AnswersFile:
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeFileError([f"{path}: {exc}"]) from exc
    try:
        return AnswersFile.model_validate(document)
    except ValidationError as exc:
        raise KnowledgeFileError(
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from exc


async def load_answers(
    session: AsyncSession, answers: AnswersFile, *, actor: str, now: datetime
) -> Loaded:
    """Upsert every answer; unknown job ids are reported together and nothing is written."""
    external_ids = {a.job for a in answers.answers if a.job is not None}
    jobs = {
        row.external_id: row.id
        for row in (
            await session.scalars(select(Job).where(Job.external_id.in_(external_ids)))
        ).all()
    }
    problems = [
        f"answers.{i}: unknown job {a.job!r}"
        for i, a in enumerate(answers.answers)
        if a.job is not None and a.job not in jobs
    ]
    problems += [
        f"answers.{i}: give zh-CN or en"
        for i, a in enumerate(answers.answers)
        if not (a.zh or a.en)
    ]
    if problems:
        raise KnowledgeFileError(problems)
    count = 0
    for entry in answers.answers:
        job_id = jobs[entry.job] if entry.job is not None else None
        for locale, text in ((Locale.ZH_CN, entry.zh), (Locale.EN, entry.en)):
            if text:
                await save_answer(session, job_id, entry.topic, locale, text, actor=actor, now=now)
                count += 1
    return Loaded(count)
