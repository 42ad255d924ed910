"""A context's token budget: how many tokens, how they are split between its parts, and filling each slice.

**Fixed** (the caller passed ``max_tokens``, always respected as a hard cap): the
reference's split, 15% workflow, 55% current task, 20% prior tasks, 10% siblings and
dependencies. A part that needs less than its slice hands the rest to the parts that
need more (current task first, then prior tasks, related tasks, workflow), so a task
with no siblings does not waste a tenth of its budget.

**Adaptive** (no ``max_tokens``): the budget follows the task.

- The ceiling starts from the task's ``estimated_complexity`` (low 4,000, medium or
  unknown 8,000 — the reference's default — high 12,000) and grows with the work the
  task carries: + its compressed plan's tokens (at most 2,000), + 300 per dependency,
  + half its checkpoint trail's tokens (at most 4,000).
- The budget is what the context needs after compression (never less than 1,000),
  up to that ceiling: a small task gets a small, cheap payload.
- The split shifts towards what the task has: +3 points to siblings/dependencies per
  dependency (up to 30%), taken from prior tasks (down to 10%); when the trail
  outgrows the current task's slice, up to 10 points more for the current task, taken
  from the workflow part (down to 5%).

**Filling a slice**: a list with its entries in ranked order, an object with its fields in
order. Lists are packed greedily, skipping an entry that does not fit and trying the next (as
the relevance benchmark's recall@B packs), because a long entry further down must not
block shorter useful ones. An entry may carry a smaller alternative (a checkpoint's
one-line form) used when the full one does not fit. An entry costs its own compact-JSON
tokens plus one for its separator.

Objects (the workflow, the current task) are named fields fitted in order: a text that
does not fit is cut, an object falls back to its smaller form or is left out. A field
counts its cost once, and an object's cost is taken as the sum of its fields': in compact
JSON a field costs the same tokens after ``{"`` as after ``,"``, and where the tokenizer
merges differently the loader's exact count of the whole payload corrects it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from caw_lab.context.tokens import count_json, counter

PARTS = ("workflow", "current_task", "prior_tasks", "related")
SPLIT = {"workflow": 0.15, "current_task": 0.55, "prior_tasks": 0.20, "related": 0.10}
DEFAULT_MAX_TOKENS = 8000
BASE = {"low": 4000, "medium": 8000, "high": 12000}
MIN_ADAPTIVE = 1000
PLAN_BONUS_CAP = 2000
PER_DEPENDENCY = 300
TRAIL_BONUS_CAP = 4000
REFILL_ORDER = ("current_task", "prior_tasks", "related", "workflow")


@dataclass(frozen=True)
class Budget:
    total: int
    shares: dict[str, float]
    adaptive: bool = False

    def slices(self, available: int) -> dict[str, int]:
        """Whole tokens per part out of ``available`` (what is left after the payload's frame)."""
        return {part: int(available * self.shares[part]) for part in PARTS}


def fixed(max_tokens: int = DEFAULT_MAX_TOKENS) -> Budget:
    return Budget(max_tokens, dict(SPLIT))


def adaptive(*, complexity: str | None, plan_tokens: int, dependencies: int, trail_tokens: int, need: int) -> Budget:
    """The budget and split for a task whose caller named no budget (rule in the module docstring)."""
    ceiling = (
        BASE.get(complexity or "", DEFAULT_MAX_TOKENS)
        + min(plan_tokens, PLAN_BONUS_CAP)
        + PER_DEPENDENCY * dependencies
        + min(trail_tokens // 2, TRAIL_BONUS_CAP)
    )
    total = max(MIN_ADAPTIVE, min(need, ceiling))
    return Budget(total, shifted_split(total, dependencies, trail_tokens), adaptive=True)


def shifted_split(total: int, dependencies: int, trail_tokens: int) -> dict[str, float]:
    shares = dict(SPLIT)
    to_related = min(0.03 * dependencies, 0.30 - SPLIT["related"], SPLIT["prior_tasks"] - 0.10)
    shares["related"] += to_related
    shares["prior_tasks"] -= to_related
    if trail_tokens > total * SPLIT["current_task"]:
        to_current = min(0.10, SPLIT["workflow"] - 0.05)
        shares["current_task"] += to_current
        shares["workflow"] -= to_current
    return shares


def refill(slices: dict[str, int], used: dict[str, int], wanted: dict[str, int]) -> dict[str, int]:
    """Slices grown by what other parts left unused, given first to the parts that wanted more."""
    spare = sum(max(slices[p] - used[p], 0) for p in PARTS)
    grown = dict(slices)
    for part in REFILL_ORDER:
        extra = min(spare, max(wanted[part] - slices[part], 0))
        grown[part] += extra
        spare -= extra
    return grown


IDENTITY = 3
"""An object's first fields (id, name, status): without them the object is left out."""
BRACES = 1


@dataclass(frozen=True)
class Entry:
    """One item of a list: its key, what the payload shows, and its kind (``task``, ``memory``, ...)."""

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


def pack(entries: Sequence[Entry], budget: int) -> list[Entry]:
    """The entries that fit ``budget``, in the given order."""
    kept: list[Entry] = []
    used = 0
    for entry in entries:
        choice: Entry | None = entry
        while choice is not None and used + choice.tokens > budget:
            choice = choice.smaller
        if choice is not None:
            kept.append(choice)
            used += choice.tokens
    return kept


def need(entries: Sequence[Entry]) -> int:
    """Tokens every entry would take in full."""
    return sum(e.tokens for e in entries)


@dataclass(frozen=True)
class Field:
    name: str
    value: Any
    smaller: Any = None
    """A smaller form to show when ``value`` does not fit (an object's gist)."""

    @cached_property
    def cost(self) -> int:
        """Tokens of ``"name":value`` and the separator before it."""
        return count_json({self.name: self.value}) - BRACES

    @cached_property
    def smaller_cost(self) -> int:
        return count_json({self.name: self.smaller}) - BRACES


Fields = list[Field]


def whole(fields: Fields | None) -> int:
    """The slice that holds every field in full."""
    return BRACES + sum(f.cost for f in fields) + 2 if fields else 0


def within(fields: Fields | None, room: int) -> tuple[dict[str, Any] | None, int]:
    """The fields in order while they fit ``room``, and their cost; a text that does not is
    cut, an object falls back to its smaller form or is left out, an empty one is left
    out. None when not even the first ``IDENTITY`` fields fit."""
    if fields is None:
        return None, 0
    out: dict[str, Any] = {}
    used = BRACES
    for i, field in enumerate(fields):
        if field.value is None and i >= IDENTITY:
            continue
        left = room - used
        if field.cost <= left:
            out[field.name], used = field.value, used + field.cost
        elif isinstance(field.value, str):
            cut = counter().truncate(field.value, left - (count_json({field.name: ""}) - BRACES))
            if cut:
                out[field.name], used = cut, used + count_json({field.name: cut}) - BRACES
        elif field.smaller is not None and field.smaller_cost <= left:
            out[field.name], used = field.smaller, used + field.smaller_cost
        if i == IDENTITY - 1 and len(out) < IDENTITY:
            return None, 0
    return out, used
