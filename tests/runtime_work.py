"""Python agents (``work(task, ctx)``) for the execution tests.

Module-level functions, so worker processes and ``caw run`` in a subprocess can import
them by name (``runtime_work:steady``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from caw_lab.runtimes import TaskContext

STEPS = ["read", "write"]


def steady(task: dict[str, Any], ctx: TaskContext) -> str:
    """Two checkpointed steps, then done."""
    ctx.begin(STEPS)
    for number, step in enumerate(STEPS, 1):
        time.sleep(0.01)
        ctx.checkpoint(f"{step} done", detail={"step": number})
    return f"{task['name']} done by pid {os.getpid()}"


def patient(task: dict[str, Any], ctx: TaskContext) -> str:
    """A task described ``wait`` works for a long time, heartbeating, unless an earlier attempt
    already started it; any other is done at once."""
    if ctx.resume() is not None or task["description"] != "wait":
        ctx.begin()
        return "finished after resuming" if task["description"] == "wait" else "done at once"
    ctx.begin(["wait"])
    ctx.checkpoint("started waiting")
    for _ in range(600):
        time.sleep(0.05)
        ctx.heartbeat()
    return "waited it out"


def always_fails(task: dict[str, Any], ctx: TaskContext) -> str:
    ctx.begin(["try"])
    ctx.checkpoint(f"attempt {ctx.attempt} tried")
    raise RuntimeError("disk full")


def needs_fixed_plan(task: dict[str, Any], ctx: TaskContext) -> str:
    """Fails until its plan's approach says ``fixed`` (as a requeue with a new plan can make it)."""
    ctx.begin(["try"], approach="naive")
    plan = ctx.client.call("task_get", id=ctx.task_id)["plan"]
    if plan["approach"] != "fixed":
        raise RuntimeError("naive approach cannot work")
    ctx.checkpoint("fixed approach worked")
    return "done with the fixed plan"
