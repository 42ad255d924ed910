"""The current task as the payload shows it: its fields, where a restart picks up, its checkpoint trail.

**Resume point** (``resume``): a task whose agent failed or was lost starts again from
``pending``, and so does one a suspension paused. Its next agent needs what the
checkpoints already hold: which plan steps are done, which remain, and what went wrong
last time. A step counts as done when a ``progress`` or ``complete`` checkpoint names it:
``detail.step`` (the step's text or its number, from 1), ``detail.steps_done`` (a list of
either), or the step's text inside the summary. Rolled-back checkpoints are not read: the
rollback undid them.

**The trail** (``Trail``): the newest ``recent_checkpoints`` go first, in full and newest
first (each may shrink to one line); the older ones follow as one line each, best first by
the ranker, so a tight budget keeps the most relevant. The payload lists the checkpoints
it kept by sequence, whatever order they were packed in, so when the whole trail fits its
slice the order changes nothing, and the ranking, which reads the words of every older
checkpoint and is most of a reload after a checkpoint, is not done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from caw_lab.context import Include, compression, relevance
from caw_lab.context.budget import Entry, Field, Fields, need
from caw_lab.context.caches import Kept
from caw_lab.context.relevance import CHECKPOINT
from caw_lab.context.surroundings import Surroundings
from caw_lab.context.tokens import counter
from caw_lab.ranking.rankers import Ranker

DONE_TYPES = ("progress", "complete")
CHECKPOINTS: Kept[Entry] = Kept(50_000)
"""Checkpoints' entries with their token costs, by encoding, id and form. A checkpoint never
changes once written (a rollback only hides it), a task's context is reloaded after every
checkpoint it adds, and its trail is most of what a load packs."""


def task_fields(task: dict[str, Any], trail: list[dict[str, Any]]) -> Fields:
    """The task's fields in the payload's order; ``trail`` (its visible checkpoints) gives its resume point."""
    plan = compression.plan(task.get("plan"))
    smaller_plan = {"approach": plan["approach"]} if isinstance(plan, dict) and plan.get("approach") else None
    resume = resume_point(task, trail)
    return [
        Field("id", task["id"]),
        Field("name", task["name"]),
        Field("status", task["status"]),
        Field("sequence", task["sequence"]),
        Field("description", task.get("description")),
        Field("plan", plan, smaller_plan),
        Field("resume", resume, brief_resume(resume)),
        Field("context", task.get("context")),
        Field("files_likely_affected", compression.file_list(task.get("files_likely_affected"))),
        *([Field("conflict", task["conflict"], {"files": task["conflict"]["files"]})] if task.get("conflict") else []),
    ]


def brief_resume(resume: dict[str, Any] | None) -> dict[str, Any] | None:
    """Where to pick up, when the whole resume point does not fit."""
    return {k: resume[k] for k in ("attempt", "last_error", "next_step")} if resume else None


def resume_point(task: dict[str, Any], checkpoints: list[dict[str, Any]]) -> dict[str, Any] | None:
    """None for a task starting fresh (no failed attempt, no checkpoint)."""
    visible = [c for c in checkpoints if not c.get("rolled_back")]
    attempts = task.get("attempts") or 0
    if not attempts and not visible:
        return None
    steps = plan_steps(task.get("plan"))
    done: set[int] = set()
    for checkpoint in visible if steps else ():  # with no plan steps, no checkpoint can name one
        if checkpoint.get("checkpoint_type") in DONE_TYPES:
            done |= steps_named(checkpoint, steps)
    remaining = [s for i, s in enumerate(steps) if i not in done]
    last = visible[-1] if visible else None
    return {
        "attempt": attempts + 1,
        "failed_attempts": attempts,
        "last_error": task.get("last_error"),
        "steps_done": [s for i, s in enumerate(steps) if i in done],
        "steps_remaining": remaining,
        "next_step": remaining[0] if remaining else None,
        "last_checkpoint": {k: last.get(k) for k in ("sequence", "checkpoint_type", "summary")} if last else None,
    }


def plan_steps(plan: Any) -> list[str]:
    steps = plan.get("steps") if isinstance(plan, dict) else None
    return [str(s) for s in steps] if isinstance(steps, list) else []


def steps_named(checkpoint: dict[str, Any], steps: list[str]) -> set[int]:
    detail = checkpoint.get("detail") if isinstance(checkpoint.get("detail"), dict) else {}
    named = detail.get("steps_done") if isinstance(detail.get("steps_done"), list) else []
    if "step" in detail:
        named = [*named, detail["step"]]
    found = {i for ref in named if (i := step_index(ref, steps)) is not None}
    summary = str(checkpoint.get("summary") or "").casefold()
    return found | {i for i, step in enumerate(steps) if step.strip() and step.casefold() in summary}


def step_index(ref: Any, steps: list[str]) -> int | None:
    """A step named by its number (from 1) or its text."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref - 1 if 1 <= ref <= len(steps) else None
    text = str(ref).strip().casefold()
    return next((i for i, step in enumerate(steps) if step.strip().casefold() == text), None)


@dataclass
class Trail:
    """The task's checkpoints as entries: the recent ones in packing order, the older ones ranked on demand."""

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


def trail_of(ranker: Ranker, surroundings: Surroundings, trail: list[dict[str, Any]], include: Include) -> Trail:
    """The newest ``recent_checkpoints`` in full, newest first (each may shrink to one line), then
    the older ones as one line each, best first; every checkpoint in full with ``all_checkpoints``."""
    if include.all_checkpoints:
        return Trail(checkpoint_entries(reversed(trail), True))
    cut = max(len(trail) - include.recent_checkpoints, 0)
    recent = checkpoint_entries(reversed(trail[cut:]), True)
    older = [
        relevance.Item(entry, c["summary"], c.get("files_changed") or [], c["sequence"], c)
        for entry, c in zip(checkpoint_entries(trail[:cut], False), trail[:cut], strict=True)
    ]
    return Trail(
        recent,
        [item.entry for item in older],
        lambda: relevance.order(ranker, surroundings.task, older, memo=surroundings.memo),
    )


def checkpoint_entries(checkpoints: Iterable[dict[str, Any]], full: bool) -> list[Entry]:
    """The checkpoints in full (each with its one-line form to fall back to), or as one line;
    each entry made once per process (``CHECKPOINTS``)."""
    encoding = counter().name
    return [CHECKPOINTS.get((encoding, c["id"], full)) or checkpoint_entry(c, full, encoding) for c in checkpoints]


def checkpoint_entry(checkpoint: dict[str, Any], full: bool, encoding: str) -> Entry:
    brief = compression.checkpoint_brief(checkpoint)
    made = (
        Entry(checkpoint["id"], compression.checkpoint_full(checkpoint), CHECKPOINT, brief)
        if full
        else Entry(checkpoint["id"], brief, CHECKPOINT)
    )
    return CHECKPOINTS.put((encoding, checkpoint["id"], full), made)
