"""Compare the NLU engines on the blind sets: accuracy, speed and memory, side by side.

    .venv/bin/python bench/nlu_engines.py                  # the embedded engine
    .venv/bin/python bench/nlu_engines.py --rasa           # and a real Rasa server
    .venv/bin/python bench/nlu_engines.py --rasa --rasa-train

Every engine is measured in fresh processes, so imports, caches and memory are honest:
- train time: training from the project files (embedded: into an empty cache directory;
  rasa: `candor rasa train`, only with --rasa-train, otherwise the last trained model is used);
- cold start: from process start to the first parse, with the trained model on disk;
- per evaluation set (the blind sets tests/nlu/eval/*.jsonl, each by its own writer, and
  the project's held-out file bench/data/nlu_heldout.jsonl; none is trained on): intent
  accuracy and macro-F1 on each engine's best guess, how often the engine was below
  config.yml's fallback threshold (the dialogue would have asked a clarifying question),
  and how often it answered, above the threshold, with the wrong intent;
- parse latency p50/p99 over every text of every set, several rounds (embedded: in-process
  `NluModel.parse`; rasa: `POST /model/parse` over local HTTP, as the gateway would call it);
- resident memory (VmRSS) of the process that serves parses, after the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from services import free_port

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "bench" / "data" / "nlu_heldout.jsonl"
EVAL_SETS = [*sorted((ROOT / "tests" / "nlu" / "eval").glob("*.jsonl")), HELDOUT]
CANDOR = [sys.executable, "-c", "from candor.cli import main; main()"]


@dataclass
class SetFigures:
    accuracy: float
    macro_f1: float
    fallback_rate: float  # clarifying questions
    wrong_rate: float  # answered with the wrong intent
    calibration_error: float


@dataclass
class EngineFigures:
    engine: str
    sets: dict[str, SetFigures]
    train_s: float | None
    cold_start_s: float
    p50_ms: float
    p99_ms: float
    rss_mb: float
    cpu_p99_ms: float | None = None


def _rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _accuracy(parse: Callable[[str], Any]) -> dict[str, SetFigures]:
    from nlu.evaluation import predict, read_labelled_jsonl, score

    class Engine:
        def parse(self, text: str) -> Any:
            return parse(text)

    figures = {}
    for path in EVAL_SETS:
        report = score(predict(Engine(), read_labelled_jsonl(path)))
        figures[path.stem] = SetFigures(
            report.accuracy,
            report.macro_f1,
            report.fallbacks / report.total,
            report.confident_wrong / report.total,
            report.calibration_error,
        )
    return figures


def _latencies(parse: Callable[[str], Any], rounds: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this thread's CPU time per parse. On a shared machine the wall-clock
    tail is mostly waiting for a core; the CPU time is what a parse costs."""
    from nlu.evaluation import read_labelled_jsonl

    texts = [e.text for path in EVAL_SETS for e in read_labelled_jsonl(path)]
    wall, cpu = [], []
    for _ in range(rounds):
        for text in texts:
            started, started_cpu = time.perf_counter(), time.thread_time()
            parse(text)
            cpu.append(time.thread_time() - started_cpu)
            wall.append(time.perf_counter() - started)
    return wall, cpu


# -- embedded: each phase in its own process -------------------------------------------------


def embedded_train_worker(cache_dir: Path) -> dict[str, Any]:
    from candor.settings import Settings
    from nlu.model import load_or_train, open_tokenizer, train_project
    from nlu.project import RasaProject

    project = RasaProject.default()
    settings = Settings(nlu_cache_dir=cache_dir)
    tokenizer = open_tokenizer(project, cache_dir)
    started = time.perf_counter()
    train_project(project, tokenizer=tokenizer)
    train_s = time.perf_counter() - started
    load_or_train(settings)  # write the cache the serve phase loads
    return {"train_s": train_s}


def embedded_serve_worker(cache_dir: Path, started: float, rounds: int) -> dict[str, Any]:
    from candor.settings import Settings
    from nlu.model import load_or_train

    model = load_or_train(Settings(nlu_cache_dir=cache_dir))
    model.parse("你好")
    cold_start_s = time.time() - started
    sets = {name: vars(figures) for name, figures in _accuracy(model.parse).items()}
    wall, cpu = _latencies(model.parse, rounds)
    p50, p99 = _percentiles(wall)
    return {
        "cold_start_s": cold_start_s,
        "sets": sets,
        "p50_ms": p50,
        "p99_ms": p99,
        "cpu_p99_ms": _percentiles(cpu)[1],
        "rss_mb": _rss_mb(),
    }


def _worker(*args: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CANDOR_LOG_LEVEL": "WARNING"},
    )
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


def measure_embedded(rounds: int) -> EngineFigures:
    with tempfile.TemporaryDirectory() as cache:
        trained = _worker("embedded-train", cache)
        served = _worker("embedded-serve", cache, repr(time.time()), str(rounds))
    sets = {name: SetFigures(**figures) for name, figures in served.pop("sets").items()}
    return EngineFigures("embedded", sets, train_s=trained["train_s"], **served)


# -- rasa: a real server ------------------------------------------------------------------------


def _process_tree_rss_mb(pid: int) -> float:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _rss_mb(pid) + sum(_process_tree_rss_mb(int(child)) for child in children)


def measure_rasa(rounds: int, *, train: bool) -> EngineFigures:
    from nlu.rasa_client import RasaNluClient

    train_s = None
    if train:
        started = time.perf_counter()
        subprocess.run([*CANDOR, "rasa", "train"], check=True, capture_output=True)
        train_s = time.perf_counter() - started
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [*CANDOR, "rasa", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with RasaNluClient(url, timeout=30) as client:
            while True:
                if server.poll() is not None:
                    raise RuntimeError("the Rasa server exited; is it set up and trained?")
                try:
                    if httpx.get(f"{url}/status", timeout=2).status_code == 200:
                        client.parse("你好")
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            cold_start_s = time.perf_counter() - started
            sets = _accuracy(client.parse)
            p50, p99 = _percentiles(_latencies(client.parse, rounds)[0])
            rss = _process_tree_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return EngineFigures("rasa", sets, train_s, cold_start_s, p50, p99, rss)


def print_table(figures: list[EngineFigures]) -> None:
    engines = " | ".join(f.engine for f in figures)
    print(f"| set: accuracy / macro-F1 / clarifying / wrong / calibration error | {engines} |")
    print("|---|" + "---|" * len(figures))
    for name in figures[0].sets:
        cells = [
            f"{s.accuracy:.3f} / {s.macro_f1:.3f} / {s.fallback_rate:.1%} / "
            f"{s.wrong_rate:.1%} / {s.calibration_error:.3f}"
            for s in (f.sets[name] for f in figures)
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    rows = [
        ("train time", [f"{f.train_s:.1f} s" if f.train_s else "not run" for f in figures]),
        ("cold start", [f"{f.cold_start_s:.2f} s" for f in figures]),
        ("parse p50", [f"{f.p50_ms:.2f} ms" for f in figures]),
        ("parse p99", [f"{f.p99_ms:.2f} ms" for f in figures]),
        (
            "parse p99, CPU time",
            [f"{f.cpu_p99_ms:.2f} ms" if f.cpu_p99_ms else "(server)" for f in figures],
        ),
        ("resident memory", [f"{f.rss_mb:.0f} MB" for f in figures]),
    ]
    print()
    print(f"| | {engines} |")
    print("|---|" + "---|" * len(figures))
    for label, values in rows:
        print(f"| {label} | " + " | ".join(values) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="Latency rounds over the file.")
    parser.add_argument("--rasa", action="store_true", help="Also measure a real Rasa server.")
    parser.add_argument("--rasa-train", action="store_true", help="Time `candor rasa train`.")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "embedded-train":
            result = embedded_train_worker(Path(rest[0]))
        else:
            result = embedded_serve_worker(Path(rest[0]), float(rest[1]), int(rest[2]))
        print(json.dumps(result))
        return
    figures = [measure_embedded(args.rounds)]
    if args.rasa:
        figures.append(measure_rasa(args.rounds, train=args.rasa_train))
    print_table(figures)


if __name__ == "__main__":
    main()
