"""`candor nlu train|parse|evaluate` and `candor rasa setup|train|test|serve`.

Exit codes: 0 done; 1 some `parse` input lines were unusable (each still got an output
line, an `error` object, so outputs stay aligned with inputs); 2 unusable files, training
data or settings, an unreachable Rasa server, or a Rasa step that failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from candor.settings import Settings
    from nlu.evaluation import NluEngine, Prediction
    from nlu.model import NluModel

EXIT_BAD_INPUT_LINES = 1
EXIT_UNUSABLE = 2
SWEEP = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)

nlu_app = typer.Typer(
    help="The embedded NLU: train, parse, evaluate.", no_args_is_help=True, rich_markup_mode=None
)


class EngineName(StrEnum):
    EMBEDDED = "embedded"
    RASA = "rasa"


def _settings() -> Settings:
    from candor.logging import configure_logging
    from candor.settings import get_settings

    try:
        settings = get_settings()
    except ValueError as exc:
        typer.secho(f"invalid settings: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    configure_logging(settings)
    return settings


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(EXIT_UNUSABLE)


def _model(settings: Settings, *, retrain: bool = False) -> NluModel:
    from nlu.model import load_or_train
    from nlu.training_data import TrainingDataError

    try:
        return load_or_train(settings, retrain=retrain)
    except TrainingDataError as exc:
        raise _fail(f"training data unusable: {exc}") from exc


@nlu_app.command("train")
def train_command(
    force: Annotated[bool, typer.Option(help="Retrain even when a cached model matches.")] = False,
) -> None:
    """Train the embedded model from data/nlu.yml (skipped when the cache is current)."""
    started = time.perf_counter()
    model = _model(_settings(), retrain=force)
    typer.echo(
        f"model {model.fingerprint[:12]}: {len(model.intents)} intents, "
        f"{len(model.vocabulary)} features, ready in {time.perf_counter() - started:.2f}s"
    )


@nlu_app.command("parse")
def parse_command() -> None:
    """Read JSON lines {"text": ...} on stdin; write one JSON parse result per line."""
    model = _model(_settings())
    bad_lines = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text = record["text"] if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise ValueError('expected {"text": "..."}')
        except (ValueError, KeyError) as exc:
            bad_lines += 1
            error = f"line {number}: {exc}"
            typer.echo(json.dumps({"error": error}, ensure_ascii=False))
            typer.secho(error, err=True, fg=typer.colors.RED)
            continue
        typer.echo(json.dumps(model.parse(text).to_dict(), ensure_ascii=False))
    if bad_lines:
        raise typer.Exit(EXIT_BAD_INPUT_LINES)


@nlu_app.command("evaluate")
def evaluate_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help='JSON lines {"text", "intent"}.'
        ),
    ] = None,
    engine: Annotated[EngineName, typer.Option(help="Which engine answers.")] = (
        EngineName.EMBEDDED
    ),
    cross_validation: Annotated[
        bool, typer.Option(help="Evaluate on the training data by k-fold cross-validation.")
    ] = False,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Folds for cross-validation.")] = 5,
    sweep: Annotated[
        bool,
        typer.Option(
            help="Also show, per fallback threshold, the share of clarifying questions and "
            "of wrong answers (with config.yml's ambiguity threshold)."
        ),
    ] = False,
) -> None:
    """Per-intent precision/recall/F1, the most confused pairs, accuracy and macro-F1."""
    from nlu.evaluation import (
        EvaluationFileError,
        format_report,
        format_sweep,
        predict,
        read_labelled_jsonl,
        score,
        threshold_sweep,
    )
    from nlu.project import RasaProject
    from nlu.rasa_client import RasaServerError

    if cross_validation == (file is not None):
        raise _fail("give either FILE or --cross-validation")
    if cross_validation and engine is not EngineName.EMBEDDED:
        raise _fail("--cross-validation trains models, so it needs --engine embedded")
    settings = _settings()
    try:
        if cross_validation:
            predictions = _cross_validate(settings, folds)
        else:
            assert file is not None
            examples = read_labelled_jsonl(file)
            with _engine(settings, engine) as nlu_engine:
                predictions = predict(nlu_engine, examples)
    except EvaluationFileError as exc:
        raise _fail(str(exc)) from exc
    except RasaServerError as exc:
        raise _fail(f"{exc} (start it, or set CANDOR_RASA_URL)") from exc
    typer.echo(format_report(score(predictions)))
    if sweep:
        ambiguity = RasaProject.default().fallback_thresholds().ambiguity
        typer.echo("")
        typer.echo(format_sweep(threshold_sweep(predictions, SWEEP, ambiguity=ambiguity)))


@nlu_app.command("export-reviewed")
def export_reviewed_command(
    output: Annotated[
        Path | None,
        typer.Option(help="The Rasa NLU file to write [default: data/nlu_reviewed.yml]."),
    ] = None,
) -> None:
    """Write the examples approved in the console's NLU review as Rasa NLU data."""
    from candor.nlu_review.cli import export_reviewed
    from candor.nlu_review.export import DEFAULT_OUTPUT

    export_reviewed(_settings(), output or DEFAULT_OUTPUT)


@contextmanager
def _engine(settings: Settings, name: EngineName) -> Iterator[NluEngine]:
    if name is EngineName.RASA:
        from nlu.rasa_client import RasaNluClient

        with RasaNluClient(settings.rasa_url) as client:
            yield client
        return
    yield _model(settings)


def _cross_validate(settings: Settings, folds: int) -> list[Prediction]:
    from nlu.evaluation import LabelledText, cross_validate
    from nlu.model import open_tokenizer, train
    from nlu.project import RasaProject

    project = RasaProject.default()
    data = project.training_data()
    tokenizer = open_tokenizer(project, settings.nlu_cache_dir)
    thresholds = project.fallback_thresholds()
    examples = [LabelledText(e.text, e.intent) for e in data.examples]

    def train_on(indices: list[int]) -> NluEngine:
        return train(data.subset(indices), tokenizer=tokenizer, thresholds=thresholds)

    return cross_validate(examples, train_on, folds=folds)


rasa_app = typer.Typer(
    help="The real Rasa 3.6 engine in its own Python 3.10 venv.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@rasa_app.command("setup")
def rasa_setup_command() -> None:
    """Create Rasa's venv and install Rasa 3.6.21 (idempotent; ~3 min, ~2.7 GB)."""
    from nlu.rasa_env import RasaSetupError, setup

    try:
        typer.echo(setup(_settings()))
    except RasaSetupError as exc:
        raise _fail(str(exc)) from exc


@rasa_app.command("train")
def rasa_train_command() -> None:
    """Train Rasa on config.yml, domain.yml and data/ (the embedded engine's files)."""
    from nlu.rasa_env import RasaSetupError, train

    started = time.perf_counter()
    try:
        model = train(_settings())
    except RasaSetupError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Rasa model {model} trained in {time.perf_counter() - started:.1f}s")


@rasa_app.command("test")
def rasa_test_command() -> None:
    """Run tests/test_stories.yml on the trained Rasa model; exit 2 on any wrong prediction."""
    from nlu.rasa_env import RasaSetupError, run_test_stories

    try:
        results = run_test_stories(_settings())
    except RasaSetupError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"every test story passed; reports in {results}")


@rasa_app.command("serve")
def rasa_serve_command(
    port: Annotated[int, typer.Option(help="TCP port (match CANDOR_RASA_URL).")] = 5005,
) -> None:
    """Run the trained Rasa model as a server with its HTTP API (/model/parse, REST)."""

    from nlu.rasa_env import RasaSetupError, environment, rasa_process_environment, serve_command

    settings = _settings()
    try:
        command = serve_command(settings, port=port)
    except RasaSetupError as exc:
        raise _fail(str(exc)) from exc
    # Replace this process, so signals reach the server directly.
    os.execvpe(command[0], command, rasa_process_environment(environment(settings)))  # noqa: S606
