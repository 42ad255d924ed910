"""Filling a token slice with items in ranked order.

Greedy, skipping an item that does not fit and trying the next (as the relevance
benchmark's recall@B packs), because a long item further down must not block shorter
useful ones. An item may carry a smaller alternative (a checkpoint's one-line form) used
when the full one does not fit. Costs are each item's own compact-JSON tokens plus one
for its separator; the loader checks the assembled payload's exact count afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from caw_lab.context.tokens import count_json


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    kind: str = ""
    alternative: Any = None

    @property
    def tokens(self) -> int:
        return count_json(self.value) + 1

    def smaller(self) -> Entry | None:
        if self.alternative is None:
            return None
        return Entry(self.key, self.alternative, self.kind)


def pack(entries: Sequence[Entry], budget: int) -> tuple[list[Entry], int]:
    """The entries that fit ``budget`` (in the given order) and the tokens they use."""
    kept: list[Entry] = []
    used = 0
    for entry in entries:
        choice: Entry | None = entry
        while choice is not None and used + choice.tokens > budget:
            choice = choice.smaller()
        if choice is not None:
            kept.append(choice)
            used += choice.tokens
    return kept, used


def need(entries: Sequence[Entry]) -> int:
    """Tokens every entry would take in full."""
    return sum(e.tokens for e in entries)
