"""jieba word segmentation with the recruiting dictionary, quiet and offline.

Each `RecruitingTokenizer` owns a private `jieba.Tokenizer`, so the recruiting words never
leak into the process-wide default instance other code may use. jieba's prefix-dictionary
cache goes to the directory we name (not the system temp dir). jieba never downloads
anything unless paddle mode is enabled, which we never do.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_import_lock = threading.Lock()


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
    """Fold full-width forms and case, so `ＯＦＦＥＲ`, `Offer` and `offer` look the same."""
    return unicodedata.normalize("NFKC", text).lower()


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
