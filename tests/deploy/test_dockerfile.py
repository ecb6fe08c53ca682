"""deploy/Dockerfile, checked statically (no Docker engine where the tests run): the stages,
the locked install, the non-root user, the health check and what it copies."""

from __future__ import annotations

import fnmatch
import re
import shlex

from nlu.project import RasaProject
from nlu.rasa_env import EXTRA_PACKAGES, RASA_VERSION
from tests.deploy.conftest import DEPLOY, REPO
from tests.deploy.files import http_routes, unknown_settings

DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            name = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
            current = found.setdefault(name.group(1) if name else rest, [])
        current.append((keyword, rest))
    return found


def args_of(stage: str, keyword: str) -> list[str]:
    return [rest for kw, rest in stages()[stage] if kw == keyword]


def test_builder_runtime_and_rasa_stages() -> None:
    assert {"builder", "runtime", "rasa"} <= stages().keys()


def test_the_builder_installs_exactly_the_lock_without_dev_tools() -> None:
    copies = " ".join(args_of("builder", "COPY"))
    assert "uv.lock" in copies
    assert "pyproject.toml" in copies
    syncs = [run for run in args_of("builder", "RUN") if "uv sync" in run]
    assert syncs
    for run in syncs:
        assert "--locked" in run
        assert "--no-dev" in run


def test_uv_is_the_version_dev_py_pins() -> None:
    dev_py = (REPO / "dev.py").read_text(encoding="utf-8")
    [pinned] = re.findall(r'^UV_VERSION = "([^"]+)"', dev_py, re.MULTILINE)
    assert f"ARG UV_VERSION={pinned}" in DOCKERFILE


def test_the_runtime_copies_the_built_venv_and_runs_candor_as_a_user() -> None:
    runtime = stages()["runtime"]
    assert any(kw == "COPY" and "--from=builder" in rest for kw, rest in runtime)
    [user] = args_of("runtime", "USER")
    assert user not in {"root", "0"}
    assert any("useradd" in run and user in run for run in args_of("runtime", "RUN"))
    [entrypoint] = args_of("runtime", "ENTRYPOINT")
    assert entrypoint == '["candor"]'


def test_the_health_check_asks_the_liveness_route() -> None:
    [check] = args_of("runtime", "HEALTHCHECK")
    [path] = re.findall(r"http://127\.0\.0\.1:8000(/\w+)", check)
    assert path == "/healthz"
    assert path in http_routes()
    [cmd] = args_of("runtime", "CMD")
    assert '"--port", "8000"' in cmd


def test_no_secret_is_baked_into_an_image() -> None:
    for keyword, rest in instructions():
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"SECRET|TOKEN|PASSWORD|_KEY", rest, re.IGNORECASE), rest


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    included = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for stage in stages():
        for rest in args_of(stage, "COPY"):
            parts = [part for part in shlex.split(rest) if not part.startswith("--")]
            if any(part.startswith("--from") for part in shlex.split(rest)):
                continue
            for source in parts[:-1]:
                path = source.rstrip("/")
                assert (REPO / path).exists(), source
                assert any(
                    path == keep or path.startswith(keep + "/") or fnmatch.fnmatch(path, keep)
                    for keep in included
                ), f"{source} is excluded from the build context"


def test_the_rasa_stage_trains_like_candor_rasa_train() -> None:
    runs = " ".join(args_of("rasa", "RUN"))
    assert f"RASA_VERSION={RASA_VERSION}" in " ".join(args_of("rasa", "ARG"))
    for package in EXTRA_PACKAGES:
        assert package in runs
    project = RasaProject.default()
    expected = [
        str(path.relative_to(project.root))
        for path in [*project.nlu_paths, *project.dialogue_paths]
    ]
    assert f"--data {' '.join(expected)}" in runs
    assert "--fixed-model-name candor" in runs
    [base] = [rest for kw, rest in stages()["rasa"] if kw == "FROM"]
    assert base.startswith("python:3.10")  # Rasa 3.6 supports 3.8 to 3.10 only
    [user] = args_of("rasa", "USER")
    assert user not in {"root", "0"}
    endpoints = DEPLOY / "rasa" / "endpoints.yml"
    assert "http://actions:5055/webhook" in endpoints.read_text(encoding="utf-8")


def test_every_candor_variable_the_image_sets_is_a_real_setting() -> None:
    names = set(re.findall(r"\b(CANDOR_[A-Z0-9_]+)=", " ".join(a for _, a in instructions())))
    assert names
    assert unknown_settings(names) == set()
