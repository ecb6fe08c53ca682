"""jieba word segmentation with the recruiting dictionary, quiet and offline.

Each `RecruitingTokenizer` owns a private `jieba.Tokenizer`, so the recruiting words never
leak into the process-wide default instance other code may use. jieba's prefix-dictionary
cache goes to the directory we name (not the system temp dir). jieba never downloads
anything unless paddle mode is enabled, which we never do.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import zhconv  # type: ignore[import-untyped]

_import_lock = threading.Lock()
_HAS_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _jieba() -> Any:
    """Import jieba quietly. Its source has invalid escape sequences; when no bytecode is
    cached, compiling it warns, and pytest's `filterwarnings = error` would turn that into a
    SyntaxError."""
    with _import_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import jieba  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    return jieba


def normalise(text: str) -> str:
    """Fold full-width forms, case and traditional characters, so `ＯＦＦＥＲ`, `Offer` and
    `offer` look the same, and so do 麵試結果 and 面试结果 (Hong Kong and Taiwan applicants,
    and phones whose voice input is set to traditional)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return _simplified(folded) if _HAS_CJK.search(folded) else folded


@functools.cache
def _converter() -> Any:
    # Load zhconv's dictionary by its path: its default loader leaves the file open, which
    # warns (ResourceWarning) once the handle is collected.
    zhconv.loaddict(str(resources.files("zhconv") / "zhcdict.json"))
    return zhconv.convert


def _simplified(text: str) -> str:
    return str(_converter()(text, "zh-hans"))


class RecruitingTokenizer:
    """Thread-safe once constructed: segmentation only reads the loaded dictionaries."""

    def __init__(self, user_dictionaries: Sequence[Path], *, cache_dir: Path) -> None:
        jieba = _jieba()
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._jieba = jieba.Tokenizer()
        self._jieba.tmp_dir = str(cache_dir)
        self._jieba.initialize()
        for dictionary in user_dictionaries:
            with dictionary.open("rb") as lines:  # jieba leaves a path's file open
                self._jieba.load_userdict(lines)

    def tokenize(self, text: str) -> list[str]:
        """Words of the normalised text, without whitespace tokens."""
        return [
            word
            for word in self._jieba.lcut(normalise(text), cut_all=False, HMM=True)
            if not word.isspace()
        ]
