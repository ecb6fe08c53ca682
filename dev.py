#!/usr/bin/env python3
"""Set up Candor from its own files and run it: `python3 dev.py demo` or `python3 dev.py test`.

Only a Python >= 3.11 is needed. The script installs a pinned uv into .tools/, lets uv build
.venv from uv.lock exactly (`--locked` fails if pyproject.toml and the lock disagree), then:

- demo: runs `candor demo` on embedded defaults (SQLite, in-process Redis), on 127.0.0.1:8000;
- i18n: re-extracts the HR console's strings and updates its zh_CN catalogue;
- test: installs Debian's chromium for the console's browser tests and its prometheus
  (for promtool) and caddy packages when they are missing (as root), runs ruff and mypy, sets up and
  trains the real Rasa engine (in its own Python 3.10 venv, cached under
  ~/.cache/candor/rasa), then runs the whole pytest suite (SQLite +
  fakeredis, then PostgreSQL + Redis on 127.0.0.1). Extra arguments after `test` go to
  pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UV_VERSION = "0.13.9"
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"


def _bin(env: Path, name: str) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin") / name


def _run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, env=env, check=False)
    if completed.returncode != 0:
        raise SystemExit(completed.returncode)


def ensure_uv() -> Path:
    uv_env = TOOLS / f"uv-{UV_VERSION}"
    uv = _bin(uv_env, "uv")
    if not uv.exists():
        venv.create(uv_env, with_pip=True, clear=True)
        _run(_bin(uv_env, "python"), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    return uv


def sync_environment() -> None:
    uv = ensure_uv()
    env = {**os.environ, "UV_PYTHON": sys.executable, "UV_PROJECT_ENVIRONMENT": str(VENV)}
    # Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on this project's
    # machines) Python would otherwise compile every imported package at every start, seconds
    # of each `candor` command (bench/cli_startup.py).
    _run(uv, "sync", "--locked", "--compile-bytecode", env=env)


CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def ensure_browser() -> None:
    """The console's browser tests drive Debian's chromium; install it when it is missing,
    with a Chinese font (1.6 MB) so the zh-CN console is laid out and screenshotted with real
    glyphs rather than boxes."""
    if shutil.which("chromium") is not None and CJK_FONT.exists():
        return
    if os.name == "nt" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            "! chromium or its Chinese font is missing: the console's browser tests need "
            "them (as root: apt-get install chromium fonts-wqy-microhei)",
            flush=True,
        )
        return
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run("apt-get", "update", "-qq", env=apt_env)
    _run(
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "chromium",
        "fonts-wqy-microhei",
        env=apt_env,
    )


def ensure_deploy_tools() -> None:
    """tests/deploy check the Prometheus rules and config with promtool (Debian's prometheus
    package) and the Caddyfile with caddy (Debian's caddy package). Only the binaries are
    used: a server either package would start is stopped and disabled again (in containers
    policy-rc.d keeps them from starting)."""
    missing = [
        (tool, package)
        for tool, package in (("promtool", "prometheus"), ("caddy", "caddy"))
        if shutil.which(tool) is None
    ]
    if not missing:
        return
    packages = [package for _, package in missing]
    if os.name == "nt" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            f"! {', '.join(tool for tool, _ in missing)} missing, so the deployment files' "
            f"tests will be skipped: install Debian's {' '.join(packages)} package(s) "
            f"(as root: apt-get install {' '.join(packages)})",
            flush=True,
        )
        return
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run("apt-get", "update", "-qq", env=apt_env)
    _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages, env=apt_env)
    if Path("/run/systemd/system").is_dir():
        # Under systemd the packages start and enable their servers: stop them again.
        _run("systemctl", "disable", "--now", *(f"{package}.service" for package in packages))


class RasaPreparation:
    """The real Rasa engine is part of the suite. Its venv (2.7 GB, minutes to install) and
    training cache live outside the clone, so a fresh clone on the same machine (CI) reuses
    them; `candor rasa train` retrains only what the project files changed.

    On a fresh machine the set-up and training take about a quarter of an hour, mostly on one
    core, while pytest also runs on one: so they run side by side, niced, with their output in
    a log. dev.py writes the outcome to a file named by CANDOR_RASA_PREPARED, and the one test
    that needs the trained model waits for it (tests/nlu/test_rasa_engine.py)."""

    def __init__(self) -> None:
        home = os.environ.get("CANDOR_RASA_HOME") or str(Path.home() / ".cache" / "candor" / "rasa")
        Path(home).mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="candor-rasa-prepare-"))
        self.log = Path(home) / "prepare.log"
        self.outcome = self.work / "outcome"
        self.env = {
            **os.environ,
            "CANDOR_RASA_HOME": home,
            "CANDOR_RASA_PREPARED": str(self.outcome),
        }
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._prepare, name="rasa-preparation", daemon=True)

    def start(self) -> None:
        print(
            f"+ candor rasa setup && candor rasa train, in the background (log: {self.log})",
            flush=True,
        )
        self._thread.start()

    def _prepare(self) -> None:
        try:
            self._run_steps()
        except Exception as error:  # reported as the preparation's failure, never lost
            self.failure = f"Rasa's preparation could not run: {error!r}"
        # Written whole, then renamed: a reader sees no outcome or the complete one.
        partial = self.work / "outcome.partial"
        partial.write_text(
            "ok\n" if self.failure is None else f"failed\n{self.failure}\n", encoding="utf-8"
        )
        partial.replace(self.outcome)

    def _run_steps(self) -> None:
        candor = str(_bin(VENV, "candor"))
        self.log.write_text("", encoding="utf-8")
        # Appending: the steps' output and these lines share the file without overwriting.
        with self.log.open("a", encoding="utf-8") as log:
            for step in ("setup", "train"):
                started = time.monotonic()
                completed = subprocess.run(
                    ["nice", "-n", "10", candor, "rasa", step]
                    if shutil.which("nice")
                    else [candor, "rasa", step],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
                took = time.monotonic() - started
                print(
                    f"rasa {step}: exit {completed.returncode} after {took:.0f} s",
                    file=log,
                    flush=True,
                )
                if completed.returncode != 0:
                    self.failure = (
                        f"`candor rasa {step}` failed with exit code {completed.returncode}; "
                        f"see {self.log}"
                    )
                    return

    def finish(self) -> None:
        """Wait for the preparation (never leave a half-installed venv behind) and fail the
        run if it failed, whatever pytest said."""
        if self._thread.is_alive():
            print(f"waiting for Rasa's set-up and training to finish (log: {self.log})", flush=True)
        self._thread.join()
        shutil.rmtree(self.work, ignore_errors=True)
        if self.failure is not None:
            print(f"! {self.failure}", flush=True)
            print(self.log.read_text(encoding="utf-8")[-4000:], flush=True)
            raise SystemExit(1)


def run_tests(pytest_args: list[str]) -> None:
    rasa = RasaPreparation()
    rasa.start()
    try:
        ensure_browser()
        ensure_deploy_tools()
        _run(_bin(VENV, "ruff"), "check", ".")
        _run(_bin(VENV, "ruff"), "format", "--check", ".")
        _run(_bin(VENV, "mypy"))
        _run(_bin(VENV, "pytest"), *pytest_args, env=rasa.env)
    finally:
        rasa.finish()


def main(argv: list[str]) -> None:
    if sys.version_info < (3, 11):
        raise SystemExit("Candor needs Python 3.11 or newer; this is " + sys.version.split()[0])
    if not argv or argv[0] not in {"demo", "test", "setup", "i18n"}:
        raise SystemExit("usage: python3 dev.py demo | test [pytest args] | setup | i18n")
    sync_environment()
    if argv[0] == "demo":
        os.execv(_bin(VENV, "candor"), [str(_bin(VENV, "candor")), "demo", *argv[1:]])
    elif argv[0] == "test":
        run_tests(argv[1:])
    elif argv[0] == "i18n":
        # Re-extract the console's strings into its zh_CN catalogue (docs/console.md).
        _run(_bin(VENV, "candor"), "i18n", "update")


if __name__ == "__main__":
    main(sys.argv[1:])
