"""Filling a token slice with items in ranked order.

Greedy, skipping an item that does not fit and trying the next (as the relevance
benchmark's recall@B packs), because a long item further down must not block shorter
useful ones. An item may carry a smaller alternative (a checkpoint's one-line form) used
when the full one does not fit. Costs are each item's own compact-JSON tokens plus one
for its separator; the loader checks the assembled payload's exact count afterwards.

The order itself (``load_order``), when a ranker gives log-odds of relevance: the
``HEAD`` likeliest items first, by probability, because an agent reads the top of a list
most closely; then the rest by probability per token, the greedy answer to filling a
budget with as many relevant items as possible, so that three short likely items are
not crowded out by one long one that is only slightly likelier. ``HEAD`` is ten, the
depth the relevance benchmark's NDCG reads, so the top of the list is exactly the
model's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from caw_lab.context.tokens import count_json

HEAD = 10


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    kind: str = ""
    alternative: Any = None

    @cached_property
    def tokens(self) -> int:
        return count_json(self.value) + 1

    @cached_property
    def smaller(self) -> Entry | None:
        """The entry in its smaller form, made once, so its cost is counted once."""
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
            choice = choice.smaller
        if choice is not None:
            kept.append(choice)
            used += choice.tokens
    return kept, used


def need(entries: Sequence[Entry]) -> int:
    """Tokens every entry would take in full."""
    return sum(e.tokens for e in entries)


def load_order(log_odds: np.ndarray, costs: Sequence[int], ages: Sequence[int], head: int = HEAD) -> list[int]:
    """Indices in the order to load them (rule in the module docstring); ties keep the newer item."""
    log_odds = np.asarray(log_odds, dtype=float)
    ages_ = np.asarray(ages)
    likeliest = best_first(log_odds, ages_)
    if len(likeliest) <= head:
        return likeliest.tolist()
    per_token = -np.logaddexp(0.0, -log_odds) - np.log(np.maximum(np.asarray(costs, dtype=float), 1.0))
    rest = likeliest[head:]
    rest = rest[best_first(per_token[rest], ages_[rest])]
    return [*likeliest[:head].tolist(), *rest.tolist()]


def best_first(scores: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """Indices by score, highest first; equal scores keep the newer (smaller age), then the earlier index."""
    return np.lexsort((ages, -scores))
