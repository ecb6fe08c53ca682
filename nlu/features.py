"""Sparse text features: jieba words, character n-grams, entity flags.

Words carry meaning where jieba segments well; character 1-3-grams (per whitespace chunk,
like CountVectorsFeaturizer's `char_wb`) survive typos (结过/结果), missing segmentation and
mixed Chinese/English; an entity flag per regex/lookup hit stands in for RegexFeaturizer.
Long digit runs (phones, codes) collapse to one symbol so their exact digits do not matter.
Word bigrams and 4-grams were tried and chosen against by 5-fold cross-validation on nlu.yml
(`candor nlu evaluate --cross-validation`), never on the held-out file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nlu.tokenizer import normalise

LONG_NUMBER = re.compile(r"\d{4,}")
NUMBER_SYMBOL = "#"
CHAR_NGRAM_RANGE = (1, 3)


def text_features(tokens: list[str], text: str, entity_names: Iterable[str]) -> list[str]:
    words = [NUMBER_SYMBOL if LONG_NUMBER.fullmatch(t) else t for t in tokens]
    features = [f"w:{word}" for word in words]
    low, high = CHAR_NGRAM_RANGE
    for chunk in LONG_NUMBER.sub(NUMBER_SYMBOL, normalise(text)).split():
        padded = f" {chunk} "
        for n in range(low, high + 1):
            grams = (padded[i : i + n] for i in range(len(padded) - n + 1))
            features += [f"c:{gram}" for gram in grams if not gram.isspace()]
    features += [f"e:{name}" for name in entity_names]
    return features
