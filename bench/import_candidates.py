"""Benchmark `candor import` on a generated candidates CSV, on SQLite and on PostgreSQL.

    .venv/bin/python bench/import_candidates.py            # 100,000 candidates
    .venv/bin/python bench/import_candidates.py --rows 20000 --only sqlite

Each database gets two imports of the same file: the first inserts every row, the second
updates every row (the re-import of a migration that is run again). The SQLite database is a
fresh file; the PostgreSQL database is created for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

from services import postgres_database
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from candor.db.migrate import upgrade
from candor.importer.cli import run_import
from candor.models import Candidate
from candor.settings import Settings

COLUMNS = [
    "external_id",
    "name",
    "mobile",
    "email",
    "locale",
    "consent_contact",
    "consent_talent_pool",
    "consent_wechat_subscription",
    "preferred_channels",
]

SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng"),
    ("欧阳", "ouyang"), ("司马", "sima"),
]  # fmt: skip
GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"),
    ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂英", "guiying"),
    ("子涵", "zihan"), ("浩然", "haoran"), ("梓萱", "zixuan"), ("宇轩", "yuxuan"),
    ("欣怡", "xinyi"), ("思远", "siyuan"),
]  # fmt: skip
FIRST_NAMES = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Susan", "Emma", "Olivia", "Noah", "Liam", "Sophia", "Lucas", "Mia",
    "Ethan", "Chloe", "Daniel", "Grace", "Henry",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
    "Taylor", "Anderson", "Thomas", "Moore", "Martin", "Lee", "O'Brien", "Clarke", "Walker",
    "Hall", "Young",
]  # fmt: skip
CHINESE_DOMAINS = ["qq.com", "163.com", "126.com", "foxmail.com", "sina.com", "aliyun.com"]
ENGLISH_DOMAINS = ["gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "proton.me"]
MOBILE_PREFIXES = [
    "130",
    "131",
    "135",
    "136",
    "138",
    "139",
    "150",
    "151",
    "158",
    "177",
    "186",
    "188",
]
CHANNELS = ["wechat", "telegram", "email", "web"]


def chinese_candidate(rng: random.Random) -> tuple[str, str | None, str]:
    surname, surname_pinyin = rng.choice(SURNAMES)
    given, given_pinyin = rng.choice(GIVEN)
    if rng.random() < 0.4:
        second, second_pinyin = rng.choice(GIVEN)
        given, given_pinyin = given + second, given_pinyin + second_pinyin
    email = None
    if rng.random() < 0.85:
        local = rng.choice(
            [
                f"{surname_pinyin}{given_pinyin}",
                f"{given_pinyin}.{surname_pinyin}",
                str(rng.randint(10**6, 10**10)),
            ]
        )
        email = f"{local}{rng.randint(1, 999)}@{rng.choice(CHINESE_DOMAINS)}"
    mobile = f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 10**8 - 1):08d}"
    if rng.random() < 0.1:
        mobile = f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    return surname + given, email, mobile


def english_candidate(rng: random.Random) -> tuple[str, str | None, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    name = f"{last}, {first}" if rng.random() < 0.05 else f"{first} {last}"
    local = f"{first}.{last}".lower().replace("'", "")
    email = f"{local}{rng.randint(1, 9999)}@{rng.choice(ENGLISH_DOMAINS)}"
    mobile = rng.choice(
        [f"+44 7{rng.randint(0, 10**9 - 1):09d}", f"+1 415-{rng.randint(0, 9999999):07d}"]
    )
    return name, email, mobile


def write_candidates(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(COLUMNS)
        for number in range(rows):
            chinese = rng.random() < 0.8
            name, email, mobile = chinese_candidate(rng) if chinese else english_candidate(rng)
            channels = rng.sample(CHANNELS, rng.randint(0, 3))
            writer.writerow(
                [
                    f"moka-{number:07d}",
                    name,
                    mobile if rng.random() < 0.95 else "",
                    email or "",
                    "zh-CN" if chinese else "en",
                    rng.choice(["true", "是", "1", "yes"]),
                    rng.choice(["false", "否", "0", "no", "true"]),
                    rng.choice(["false", "true"]),
                    "|".join(channels),
                ]
            )


async def _count(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return int(
                (await connection.execute(select(func.count()).select_from(Candidate))).scalar_one()
            )
    finally:
        await engine.dispose()


def measure(label: str, url: str, csv_path: Path, rows: int) -> list[str]:
    settings = Settings(database_url=url, redis_url="memory://")
    upgrade(settings)
    results = []
    for run in ("insert", "update"):
        started, cpu_started = time.perf_counter(), time.process_time()
        exit_code = run_import(settings, csv_path)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if exit_code != 0:
            raise SystemExit(f"{label}: import exited {exit_code}")
        stored = asyncio.run(_count(url))
        if stored != rows:
            raise SystemExit(f"{label}: {stored} candidates stored, expected {rows}")
        results.append(
            f"{label:<10} {run:<6} {rows:>9,} rows {elapsed:7.2f} s {rows / elapsed:>9,.0f} rows/s"
            f"  (importer CPU {cpu:.2f} s)"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="candor-bench-") as directory:
        csv_path = Path(directory) / "candidates.csv"
        started = time.perf_counter()
        write_candidates(csv_path, args.rows, args.seed)
        print(
            f"generated {args.rows:,} candidates ({csv_path.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        results = []
        if args.only in (None, "sqlite"):
            database = Path(directory) / "bench.sqlite3"
            results += measure("sqlite", f"sqlite+aiosqlite:///{database}", csv_path, args.rows)
        if args.only in (None, "postgres"):
            with postgres_database("candor_bench") as url:
                results += measure("postgresql", url, csv_path, args.rows)
    print("\n".join(results))


if __name__ == "__main__":
    main()
