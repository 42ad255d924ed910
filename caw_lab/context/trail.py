"""A task's checkpoints as the payload holds them, ranked only when the ranking decides anything.

The newest ``recent_checkpoints`` go first, in full and newest first (each may shrink to
one line); the older ones follow as one line each, best first by the ranker, so a tight
budget keeps the most relevant. The payload lists the checkpoints it kept by sequence,
whatever order they were packed in, so when the whole trail fits its slice the order
changes nothing, and the ranking, which reads the words of every older checkpoint and is
most of a reload after a checkpoint, is not done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from caw_lab.context.packing import Entry, need


@dataclass
class Trail:
    recent: list[Entry] = field(default_factory=list)
    older: list[Entry] = field(default_factory=list)
    ranked: Callable[[], list[Entry]] = list
    """The older entries best first, computed when asked."""

    def __len__(self) -> int:
        return len(self.recent) + len(self.older)

    @cached_property
    def need(self) -> int:
        """Tokens the whole trail takes in full."""
        return need(self.recent) + need(self.older)

    def packing_order(self, budget: int) -> list[Entry]:
        """The entries in the order to pack them into ``budget`` tokens."""
        return self.recent + (self.older if self.need <= budget else self.ranked())
