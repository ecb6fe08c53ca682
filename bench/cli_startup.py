"""How long a `candor` command takes to start, and to finish on SQLite.

    .venv/bin/python bench/cli_startup.py                      # this checkout's candor
    .venv/bin/python bench/cli_startup.py --bytecode cached    # every module from a .pyc
    .venv/bin/python bench/cli_startup.py --candor /other/checkout/.venv/bin/candor

A scratch SQLite database is migrated and seeded with a tiny company through `candor import`
(one team, one job, one candidate, one application). Then each command runs `--runs` times,
one process after another, with no CANDOR_* variable but the database URL. Per command: the
median and the minimum of the wall time, and of the CPU time (user + sys of the child, from
`resource.getrusage(RUSAGE_CHILDREN)`).

- start-up: `candor --help`, `candor bind-link --help`, `candor sla due --help`: what every
  run of the command costs before the command's own work (the interpreter, the command tree,
  parsing the arguments);
- whole: `candor bind-link CODE` (a web binding link written to the database),
  `candor sla due` (the calendar read from the database) and `candor sla due --offline`.

Bytecode. Python compiles each module it imports from source unless it finds a cached .pyc;
with PYTHONDONTWRITEBYTECODE=1 in the environment it never writes one, so every start
compiles again whatever has no .pyc (`dev.py setup` compiles the virtualenv's packages; the
project's own modules stay source). `--bytecode`:
- `env` (the default): the environment as it is;
- `none`: no module from bytecode (an empty PYTHONPYCACHEPREFIX, nothing written): every
  start compiles everything, the worst case;
- `cached`: Python caches bytecode under the scratch directory (PYTHONPYCACHEPREFIX), and each
  command runs once before it is timed: every module from bytecode, as on a machine where
  Python may write its caches.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CANDOR = Path(sys.executable).with_name("candor")
COMPLETED_AT = "2026-09-30T10:00:00+08:00"

SEED = {
    "teams.csv": "external_id,name\neng,技术研发部\n",
    "jobs.csv": "external_id,title,team_external_id\njob-1,后端工程师,eng\n",
    "candidates.csv": "external_id,name,email\ncand-1,陈晓雨,chen.xiaoyu@example.com\n",
    "applications.csv": (
        "external_id,candidate_external_id,job_external_id,applied_at\n"
        "app-1,cand-1,job-1,2026-09-01T10:00:00+08:00\n"
    ),
}


@dataclass(frozen=True)
class Timing:
    wall_s: list[float]
    cpu_s: list[float]


def run_once(command: list[str], *, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(
    command: list[str], *, runs: int, warm_up: bool, env: dict[str, str], cwd: Path
) -> Timing:
    if warm_up:
        run_once(command, env=env, cwd=cwd)
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = run_once(command, env=env, cwd=cwd)
        walls.append(wall)
        cpus.append(cpu)
    return Timing(walls, cpus)


def seed(candor: str, *, env: dict[str, str], cwd: Path, database: Path) -> str:
    run_once([candor, "db", "upgrade"], env=env, cwd=cwd)
    for name, text in SEED.items():
        (cwd / name).write_text(text, encoding="utf-8")
        run_once([candor, "import", str(cwd / name)], env=env, cwd=cwd)
    with sqlite3.connect(database) as connection:
        (code,) = connection.execute("SELECT code FROM applications").fetchone()
    return str(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candor", default=str(DEFAULT_CANDOR), help="the candor executable")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bytecode", choices=("env", "none", "cached"), default="env")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="candor-cli-bench-") as scratch:
        cwd = Path(scratch)
        database = cwd / "candor.sqlite3"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
        env["CANDOR_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
        if args.bytecode != "env":
            # Python then reads and writes .pyc files under this directory only.
            env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
        if args.bytecode == "none":
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        elif args.bytecode == "cached":
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        code = seed(args.candor, env=env, cwd=cwd, database=database)

        commands = {
            "candor --help": ["--help"],
            "candor bind-link --help": ["bind-link", "--help"],
            "candor sla due --help": ["sla", "due", "--help"],
            f"candor bind-link {code}": ["bind-link", code],
            f"candor sla due {COMPLETED_AT}": ["sla", "due", COMPLETED_AT],
            "candor sla due ... --offline": ["sla", "due", COMPLETED_AT, "--offline"],
        }
        load = os.getloadavg()[0]
        print(f"{args.candor}; bytecode: {args.bytecode}; {args.runs} runs each")
        print(f"load average before: {load:.2f}")
        print(
            f"{'command':<44} {'wall median':>11} {'wall min':>9} {'CPU median':>11} {'CPU min':>8}"
        )
        for label, arguments in commands.items():
            timing = measure(
                [args.candor, *arguments],
                runs=args.runs,
                warm_up=args.bytecode == "cached",
                env=env,
                cwd=cwd,
            )
            print(
                f"{label:<44} {statistics.median(timing.wall_s):>10.2f}s "
                f"{min(timing.wall_s):>8.2f}s {statistics.median(timing.cpu_s):>10.2f}s "
                f"{min(timing.cpu_s):>7.2f}s",
                flush=True,
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
