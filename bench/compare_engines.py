"""Both dialogue engines side by side, in one run: the issue's engine comparison.

    .venv/bin/python bench/compare_engines.py                # Rasa already trained
    .venv/bin/python bench/compare_engines.py --rasa-train   # time `candor rasa train` too

One command, one machine state, the same inputs for both engines:
1. NLU (`bench/nlu_engines.py --rasa`): intent accuracy and macro-F1 on the held-out file
   (bench/data/nlu_heldout.jsonl, never trained on), train time, cold start, parse p50/p99,
   resident memory; the embedded engine in process, Rasa as a server over HTTP.
2. Full turns (`bench/dialogue_turn.py --with-rasa --database postgres`): the same scripted
   "ask_progress" conversations through the gateway (NLU + action + database) on each engine,
   p50/p99 per turn, cold start and memory; Rasa with our action server.

Each part runs in its own processes, so one engine's imports and memory never count for the
other's. The Rasa engine needs `candor rasa setup && candor rasa train` (CANDOR_RASA_HOME).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def run(script: str, *arguments: str) -> None:
    command = [sys.executable, str(BENCH / script), *arguments]
    print(f"\n## {' '.join(['bench/' + script, *arguments])}\n", flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"\n({time.perf_counter() - started:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-train", action="store_true", help="time `candor rasa train`")
    parser.add_argument("--turns", type=int, default=300, help="full turns per engine")
    args = parser.parse_args()
    nlu = ["--rasa", *(["--rasa-train"] if args.rasa_train else [])]
    run("nlu_engines.py", *nlu)
    turns = ["--database", "postgres", "--turns", str(args.turns)]
    run("dialogue_turn.py", *turns)  # the embedded engine
    run("dialogue_turn.py", "--with-rasa", *turns)


if __name__ == "__main__":
    main()
