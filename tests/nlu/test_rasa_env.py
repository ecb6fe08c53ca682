"""Finding an interpreter and guarding the Rasa commands, with stand-in programs on PATH.

Installing Rasa itself (minutes, 2.7 GB) is exercised by `candor rasa setup` and the
benchmark, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from candor.settings import Settings
from nlu.rasa_env import (
    RASA_VERSION,
    RasaSetupError,
    environment,
    find_python,
    run_test_stories,
    serve_command,
    setup,
    train,
)


def _program(path: Path, output: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{output}'\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with nothing but what the test puts there (no pyenv, no pythons)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


def test_a_python_310_on_path_is_found(bare_path: Path, tmp_path: Path) -> None:
    _program(bare_path / "python3.11", "3 11")
    python310 = _program(bare_path / "python3.10", "3 10")
    assert find_python(Settings(rasa_home=tmp_path)) == str(python310)


def test_an_interpreter_claiming_the_wrong_version_is_skipped(
    bare_path: Path, tmp_path: Path
) -> None:
    _program(bare_path / "python3.10", "3 11")  # e.g. a pyenv shim resolving elsewhere
    python39 = _program(bare_path / "python3.9", "3 9")
    assert find_python(Settings(rasa_home=tmp_path)) == str(python39)


def test_without_a_suitable_python_it_says_what_to_install(bare_path: Path, tmp_path: Path) -> None:
    with pytest.raises(RasaSetupError, match=r"pyenv install 3\.10"):
        find_python(Settings(rasa_home=tmp_path))


def test_a_configured_interpreter_must_be_suitable(tmp_path: Path) -> None:
    with pytest.raises(RasaSetupError, match=r"CANDOR_RASA_PYTHON=.* is not a Python 3\.8-3\.10"):
        find_python(Settings(rasa_home=tmp_path, rasa_python=sys.executable))


def test_setup_is_a_no_op_when_rasa_is_installed(bare_path: Path, tmp_path: Path) -> None:
    settings = Settings(rasa_home=tmp_path / "rasa")
    _program(environment(settings).python, RASA_VERSION)

    assert setup(settings) == (
        f"Rasa {RASA_VERSION} already set up in {environment(settings).venv}"
    )


def test_train_and_serve_need_setup_first(tmp_path: Path) -> None:
    settings = Settings(rasa_home=tmp_path / "rasa")
    with pytest.raises(RasaSetupError, match="run `candor rasa setup` first"):
        train(settings)
    with pytest.raises(RasaSetupError, match="run `candor rasa setup` first"):
        serve_command(settings, port=5005)


def test_serve_needs_a_trained_model(tmp_path: Path) -> None:
    settings = Settings(rasa_home=tmp_path / "rasa")
    _program(environment(settings).python, RASA_VERSION)
    with pytest.raises(RasaSetupError, match="run `candor rasa train`"):
        serve_command(settings, port=5005)
    with pytest.raises(RasaSetupError, match="run `candor rasa train`"):
        run_test_stories(settings)
    environment(settings).models.mkdir(parents=True)
    environment(settings).model.write_bytes(b"model")
    command = serve_command(settings, port=5099)
    assert command[1:3] == ["run", "--enable-api"]
    assert command[-2:] == ["--port", "5099"]


def test_cli_reports_missing_setup_with_exit_code_2(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "from candor.cli import main; main()", "rasa", "train"],
        env={**os.environ, "CANDOR_RASA_HOME": str(tmp_path / "rasa")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "candor rasa setup" in completed.stderr
