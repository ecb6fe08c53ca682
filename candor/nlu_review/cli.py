"""`candor nlu export-reviewed`: the approved examples as a Rasa NLU file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer
from sqlalchemy.exc import SQLAlchemyError

from candor.nlu_review.evaluation import BlindSetError, eval_dir, load_blind_sets
from candor.nlu_review.export import ReviewedExamples, approved_examples
from candor.runtime import open_runtime
from candor.settings import Settings
from nlu.project import RasaProject

EXIT_UNUSABLE = 2


def export_reviewed(settings: Settings, output: Path) -> None:
    """Write the approved examples (blind-set texts left out) to `output`, atomically."""

    async def read() -> ReviewedExamples:
        blind = load_blind_sets(eval_dir(settings))
        async with open_runtime(settings) as runtime, runtime.sessionmaker() as session:
            return await approved_examples(
                session, blind=blind, intents=RasaProject.default().intents()
            )

    try:
        reviewed = asyncio.run(read())
    except BlindSetError as exc:
        raise _fail(str(exc)) from exc
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise _fail(f"the database cannot be read ({first}); is it migrated?") from exc
    staging = output.with_name(f".{output.name}.tmp")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(reviewed.yaml(), encoding="utf-8")
        os.replace(staging, output)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise _fail(f"cannot write {output}: {exc}") from exc
    if reviewed.in_blind_sets or reviewed.unknown_intent:
        typer.secho(
            f"left out: {reviewed.in_blind_sets} whose text a blind set holds, "
            f"{reviewed.unknown_intent} for an intent domain.yml no longer has",
            err=True,
            fg=typer.colors.YELLOW,
        )
    typer.echo(f"wrote {len(reviewed.examples)} reviewed examples to {output}")


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(EXIT_UNUSABLE)
