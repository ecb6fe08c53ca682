"""Masking a candidate's message before it is queued, shown to reviewers and trained on.

Application codes, phone numbers and e-mail addresses are found with the NLU's own entity
patterns (`data/nlu.yml`'s regexes, the one definition of what the model takes for a code, a
phone or an e-mail) and replaced by a fixed placeholder those patterns still match, so an
example keeps the entity feature it is trained with while nothing of the value survives.
`candor.logging.mask_text` does not fit here: it keeps part of each value (`138****5678`),
which neither hides it enough to be trained on nor still looks like a phone to the model.
Any other run of seven or more digits (a landline, an ID number) becomes zeros (the model
folds long numbers into one symbol anyway), and the candidate's own name becomes 某某.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from candor.logging import get_logger
from nlu.entities import Entity, EntityExtractor
from nlu.project import RasaProject

log = get_logger(__name__)

PLACEHOLDERS = {
    "application_code": "AP-0000-000000",
    "phone": "13000000000",
    "email": "someone@example.com",
}
NAME_PLACEHOLDER = "某某"
LATIN_NAME_PLACEHOLDER = "Alex"
_LONG_NUMBER = re.compile(r"\d(?:[ -]?\d){6,}")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=4)
def _extractor(root: Path) -> EntityExtractor:
    regexes = [r for r in RasaProject(root).training_data().regexes if r.name in PLACEHOLDERS]
    missing = set(PLACEHOLDERS) - {r.name for r in regexes}
    if missing:
        log.warning("nlu_review.masking_patterns_missing", entities=sorted(missing))
    return EntityExtractor([(r.name, r.pattern) for r in regexes], {})


def _personal_spans(text: str, root: Path) -> list[Entity]:
    """Non-overlapping spans, the longest first where two overlap."""
    chosen: list[Entity] = []
    found = sorted(_extractor(root).extract(text), key=lambda e: (e.start - e.end, e.start))
    for entity in found:
        if all(entity.end <= c.start or entity.start >= c.end for c in chosen):
            chosen.append(entity)
    return sorted(chosen, key=lambda e: e.start)


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    variants: set[str] = set()
    for raw in names:
        name = raw.strip()
        if len(name) < 2:
            continue
        variants.add(name)
        if _CJK.search(name):
            if len(name) >= 3:
                variants.add(name[1:])  # the given name, as friends write it
        else:
            variants.update(part for part in name.split() if len(part) >= 3)
    if not variants:
        return None
    alternatives = sorted(variants, key=len, reverse=True)
    return re.compile(
        "|".join(
            re.escape(v) if _CJK.search(v) else rf"(?<![A-Za-z]){re.escape(v)}(?![A-Za-z])"
            for v in alternatives
        ),
        re.IGNORECASE,
    )


def _mask_plain(text: str, names: re.Pattern[str] | None) -> str:
    if names is not None:
        text = names.sub(
            lambda m: NAME_PLACEHOLDER if _CJK.search(m.group(0)) else LATIN_NAME_PLACEHOLDER,
            text,
        )
    return _LONG_NUMBER.sub(lambda m: re.sub(r"\d", "0", m.group(0)), text)


def mask_message(text: str, *, names: Iterable[str] = (), root: Path | None = None) -> str:
    """`text` with application codes, phones, e-mails, long numbers and the given names
    replaced by placeholders."""
    root = root or RasaProject.default().root
    pattern = _name_pattern(names)
    parts: list[str] = []
    position = 0
    for span in _personal_spans(text, root):
        parts.append(_mask_plain(text[position : span.start], pattern))
        parts.append(PLACEHOLDERS[span.entity])
        position = span.end
    parts.append(_mask_plain(text[position:], pattern))
    return "".join(parts)
