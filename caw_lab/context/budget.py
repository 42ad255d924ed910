"""How many tokens a context gets, and how they are split between its parts.

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
"""

from __future__ import annotations

from dataclasses import dataclass

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


def adaptive(
    *, complexity: str | None, plan_tokens: int, dependencies: int, trail_tokens: int, need: int
) -> Budget:
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
