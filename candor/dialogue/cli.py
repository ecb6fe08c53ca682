"""`candor dialogue ...`: the job knowledge base."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

# `candor --help` imports this module: the knowledge base (and the dialogue engine, the
# models and SQLAlchemy behind it) is imported by the command. The same path as
# candor.dialogue.knowledge.DEFAULT_ANSWERS_PATH, which a test checks.
DEFAULT_ANSWERS_PATH = Path(__file__).resolve().parents[2] / "data" / "job_answers.yml"

dialogue_app = typer.Typer(
    help="The dialogue: the job knowledge base behind job questions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@dialogue_app.command("load-answers")
def load_answers_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True)
    ] = DEFAULT_ANSWERS_PATH,
) -> None:
    """Load approved job answers (all or nothing; default: data/job_answers.yml)."""
    from candor.clock import utcnow
    from candor.dialogue.knowledge import KnowledgeFileError, load_answers, read_answers
    from candor.runtime import open_runtime
    from candor.settings import get_settings

    async def run() -> int:
        answers = read_answers(file)
        async with open_runtime(get_settings()) as runtime, runtime.transaction() as session:
            loaded = await load_answers(session, answers, actor="cli", now=utcnow())
        return loaded.answers

    try:
        count = asyncio.run(run())
    except KnowledgeFileError as exc:
        for problem in exc.problems:
            typer.secho(problem, err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"loaded {count} answers")
