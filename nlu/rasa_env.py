"""The real Rasa engine's environment: Rasa Open Source 3.6.21 in its own Python 3.10 venv.

Rasa 3.6 needs Python < 3.11 (TensorFlow 2.12), so it cannot live in Candor's environment;
`candor rasa setup` finds an interpreter, creates a venv under the Rasa home
(CANDOR_RASA_HOME, var/rasa by default) and installs Rasa there; `candor rasa train` trains
the same project files both engines read; `candor rasa test` runs the end-to-end test
stories; `candor rasa serve` runs the server whose
`/model/parse` and REST channel Candor calls (CANDOR_RASA_URL).

Every subprocess here runs a fixed argument list (no shell) naming our own venv's programs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from candor.settings import Settings
from nlu.project import RasaProject

RASA_VERSION = "3.6.21"
SUPPORTED_PYTHONS = ((3, 10), (3, 9), (3, 8))  # Rasa 3.6's range, preferred first
EXTRA_PACKAGES = ("jieba==0.42.1",)  # JiebaTokenizer's optional dependency
MODEL_NAME = "candor"
INSTALL_HINT = (
    "Rasa 3.6 needs Python 3.8-3.10 (3.10 preferred) next to Candor's 3.11. Install one, "
    "e.g. `pyenv install 3.10` or `apt-get install python3.10 python3.10-venv`, or point "
    "CANDOR_RASA_PYTHON at an interpreter."
)


class RasaSetupError(RuntimeError):
    """Rasa cannot be set up or run; the message says what to do."""


@dataclass(frozen=True, slots=True)
class RasaEnvironment:
    home: Path

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def rasa(self) -> Path:
        return self.venv / "bin" / "rasa"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def model(self) -> Path:
        return self.models / f"{MODEL_NAME}.tar.gz"

    def installed_version(self) -> str | None:
        if not self.python.is_file():
            return None
        probe = subprocess.run(  # noqa: S603 - argument list, no shell
            [str(self.python), "-c", "import importlib.metadata as m; print(m.version('rasa'))"],
            capture_output=True,
            text=True,
            check=False,
        )
        return probe.stdout.strip() if probe.returncode == 0 else None


def environment(settings: Settings) -> RasaEnvironment:
    return RasaEnvironment(settings.rasa_home.resolve())


def python_version(executable: str) -> tuple[int, int] | None:
    try:
        probe = subprocess.run(  # noqa: S603 - argument list, no shell
            [executable, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    parts = probe.stdout.split()
    if probe.returncode != 0 or len(parts) != 2:
        return None
    return int(parts[0]), int(parts[1])


def _candidates(settings: Settings) -> Iterator[str]:
    if settings.rasa_python:
        yield settings.rasa_python
        return
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run(  # noqa: S603 - argument list, no shell
            [pyenv, "root"], capture_output=True, text=True, check=False
        )
        versions = Path(root.stdout.strip()) / "versions"
        if root.returncode == 0 and versions.is_dir():
            for major, minor in SUPPORTED_PYTHONS:
                for version in sorted(versions.glob(f"{major}.{minor}.*"), reverse=True):
                    yield str(version / "bin" / f"python{major}.{minor}")
    for major, minor in SUPPORTED_PYTHONS:
        found = shutil.which(f"python{major}.{minor}")
        if found:
            yield found


def find_python(settings: Settings) -> str:
    """An interpreter Rasa 3.6 runs on: CANDOR_RASA_PYTHON, pyenv's, or one on PATH."""
    for candidate in _candidates(settings):
        if python_version(candidate) in SUPPORTED_PYTHONS:
            return candidate
    if settings.rasa_python:
        raise RasaSetupError(
            f"CANDOR_RASA_PYTHON={settings.rasa_python} is not a Python 3.8-3.10. {INSTALL_HINT}"
        )
    raise RasaSetupError(f"no Python 3.8-3.10 found. {INSTALL_HINT}")


def rasa_process_environment(env: RasaEnvironment) -> dict[str, str]:
    """No telemetry; Rasa's training cache under the Rasa home, not `.rasa/` in the cwd."""
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_CACHE_DIRECTORY": str(env.home / "cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def _run(command: Sequence[str], *, env: RasaEnvironment, cwd: Path | None = None) -> None:
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    completed = subprocess.run(  # noqa: S603
        list(command), cwd=cwd, env=rasa_process_environment(env), check=False
    )
    if completed.returncode != 0:
        raise RasaSetupError(f"`{' '.join(command)}` failed with exit code {completed.returncode}")


def setup(settings: Settings) -> str:
    """Create the venv and install Rasa; does nothing when the right version is there."""
    env = environment(settings)
    installed = env.installed_version()
    if installed == RASA_VERSION:
        return f"Rasa {RASA_VERSION} already set up in {env.venv}"
    python = find_python(settings)
    if not env.python.is_file():
        env.home.mkdir(parents=True, exist_ok=True)
        _run([python, "-m", "venv", str(env.venv)], env=env)
    _run([str(env.python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], env=env)
    _run(
        [
            str(env.python),
            "-m",
            "pip",
            "install",
            "--quiet",
            f"rasa=={RASA_VERSION}",
            *EXTRA_PACKAGES,
        ],
        env=env,
    )
    return f"Rasa {RASA_VERSION} installed in {env.venv} (Python from {python})"


def _require_rasa(env: RasaEnvironment) -> None:
    if env.installed_version() != RASA_VERSION:
        raise RasaSetupError(f"Rasa {RASA_VERSION} is not set up; run `candor rasa setup` first")


def train(settings: Settings, *, project: RasaProject | None = None) -> Path:
    """Train Rasa on the same project files into the Rasa home's models directory."""
    project = project or RasaProject.default()
    env = environment(settings)
    _require_rasa(env)
    env.models.mkdir(parents=True, exist_ok=True)
    _run(
        [
            str(env.rasa),
            "train",
            "--config",
            str(project.config_path),
            "--domain",
            str(project.domain_path),
            "--data",
            *(str(p) for p in [*project.nlu_paths, *project.dialogue_paths]),
            "--out",
            str(env.models),
            "--fixed-model-name",
            MODEL_NAME,
        ],
        env=env,
        cwd=project.root,  # config.yml's dictionary_path is relative to the project
    )
    return env.model


def run_test_stories(settings: Settings, *, project: RasaProject | None = None) -> Path:
    """Run Rasa on tests/test_stories.yml; fails on any wrong intent, entity or action."""
    project = project or RasaProject.default()
    env = environment(settings)
    _require_model(env)
    results = env.home / "results"
    _run(
        [
            str(env.rasa),
            "test",
            "core",
            "--stories",
            str(project.test_stories_path),
            "--model",
            str(env.model),
            "--out",
            str(results),
            "--fail-on-prediction-errors",
        ],
        env=env,
        cwd=project.root,
    )
    return results


def _require_model(env: RasaEnvironment) -> None:
    _require_rasa(env)
    if not env.model.is_file():
        raise RasaSetupError(f"no trained Rasa model at {env.model}; run `candor rasa train`")


def serve_command(settings: Settings, *, port: int) -> list[str]:
    """The command that runs the trained model as a server with its HTTP API enabled."""
    env = environment(settings)
    _require_model(env)
    return [
        str(env.rasa),
        "run",
        "--enable-api",
        "--model",
        str(env.model),
        "--port",
        str(port),
    ]
