"""Where a restarted task picks up: the ``resume`` field of task_load_context's current_task.

A task whose agent failed or was lost starts again from ``pending``, and so does one a
suspension paused. Its next agent needs what the checkpoints already hold: which plan
steps are done, which remain, and what went wrong last time. A step counts as done when
a ``progress`` or ``complete`` checkpoint names it: ``detail.step`` (the step's text or
its number, from 1), ``detail.steps_done`` (a list of either), or the step's text inside
the summary. Rolled-back checkpoints are not read: the rollback undid them.
"""

from __future__ import annotations

from typing import Any

DONE_TYPES = ("progress", "complete")


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
