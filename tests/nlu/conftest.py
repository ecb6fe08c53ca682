"""Fixtures for the embedded NLU: the real project trained once per session, and a tiny
project (three intents) for tests that train, retrain or break the data on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from candor.settings import Settings
from nlu.model import NluModel, load_or_train
from nlu.project import REPOSITORY_ROOT, RasaProject

TINY_DOMAIN = """\
version: "3.1"
intents:
  - greet
  - ask_progress
  - ask_job_info
entities:
  - application_code
  - city
"""

TINY_NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - 你好
      - 您好呀
      - 哈喽
      - hello
      - hi there
  - intent: ask_progress
    examples: |
      - 我的面试结果出来了吗
      - 进度怎么样了
      - 什么时候有结果
      - [AP-2025-000123](application_code) 的状态
      - any update on my application
  - intent: ask_job_info
    examples: |
      - 工资多少
      - 在[北京](city)上班吗
      - 在[帝都]{"entity": "city", "value": "北京"}吗
      - 有五险一金吗
      - what is the salary
  - regex: application_code
    examples: |
      - AP-\\d{4}-\\d{6}
  - lookup: city
    examples: |
      - 北京
      - 上海
      - 帝都
"""


@pytest.fixture(scope="session")
def nlu_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose NLU cache holds the real project's model, trained once."""
    settings = Settings(nlu_cache_dir=tmp_path_factory.mktemp("nlu-cache"))
    load_or_train(settings)
    return settings


@pytest.fixture(scope="session")
def model(nlu_settings: Settings) -> NluModel:
    return load_or_train(nlu_settings)


@pytest.fixture
def tiny_project(tmp_path: Path) -> RasaProject:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    shutil.copy(REPOSITORY_ROOT / "config.yml", root / "config.yml")
    shutil.copytree(REPOSITORY_ROOT / "data" / "jieba", root / "data" / "jieba")
    (root / "domain.yml").write_text(TINY_DOMAIN, encoding="utf-8")
    (root / "data" / "nlu.yml").write_text(TINY_NLU, encoding="utf-8")
    return RasaProject(root)


@pytest.fixture
def tiny_settings(tmp_path: Path) -> Settings:
    return Settings(nlu_cache_dir=tmp_path / "cache")
