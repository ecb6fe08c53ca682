"""What is left of an erased candidate's ATS ids: a keyed hash in place of each, so an ATS
event still in flight for those ids is refused instead of re-creating the candidate.

The hash is the blind index's (keyed with the blind-index key, `candor.crypto`): whoever
lacks the key cannot test an id against it. It stays in the row's unique `external_id`, so
the ATS's lookup by id finds it through the same unique index, without a table of its own.
"""

from __future__ import annotations

from candor.crypto.fields import blind_index

TOMBSTONE_PREFIX = "erased:"


def tombstone(column: str, external_id: str) -> str:
    """The tombstone of `external_id` in `column` ("candidates.external_id", ...)."""
    if external_id.startswith(TOMBSTONE_PREFIX):
        return external_id  # already one: the erasure may run a batch twice
    return TOMBSTONE_PREFIX + blind_index(f"tombstone:{column}", external_id)
