"""The sample workflow ``caw demo`` runs with the python runtime.

Seven tasks publishing a tiny site: three pages written side by side (one parallel
group) after an outline, checked and published at the end. One page fails half-way on
its first attempt, so a run also shows a retry after backoff and its resume point: the
second attempt skips the step the first one checkpointed.
"""

from __future__ import annotations

import time
from typing import Any

from caw_lab.runtimes.base import Caller
from caw_lab.runtimes.task_context import TaskContext

STEPS = ["draft", "review", "finish"]
FLAKY = "write-blog"
STEP_S = 0.05
PLAN = {
    "summary": "Publish a tiny static site",
    "tasks": [
        {"name": "outline", "description": "Decide the pages and their order"},
        {"name": "write-home", "parallel_group": "pages", "depends_on": ["outline"]},
        {"name": "write-about", "parallel_group": "pages", "depends_on": ["outline"]},
        {"name": FLAKY, "parallel_group": "pages", "depends_on": ["outline"]},
        {"name": "style", "description": "One stylesheet for every page", "depends_on": ["outline"]},
        {"name": "check-links", "depends_on": ["write-home", "write-about", FLAKY]},
        {"name": "publish", "depends_on": ["check-links", "style"]},
    ],
}
CONFIG = {"execution": {"runtime": "python", "poll_interval_ms": 20, "alerts": {"log": False}},
          "retry": {"max_attempts": 3, "backoff_ms": 200}}


def create(client: Caller) -> str:
    """The demo workflow, planned and configured; returns its id."""
    workflow = client.call("workflow_create", name="demo: tiny site", source_type="prompt",
                           source_content="Publish a tiny static site", max_parallel_tasks=3)
    client.call("workflow_set_plan", id=workflow["id"], plan=PLAN)
    client.call("workflow_set_config", id=workflow["id"], config=CONFIG)
    return workflow["id"]


def work(task: dict[str, Any], ctx: TaskContext) -> str:
    """Three checkpointed steps; a retried attempt starts after the steps already done."""
    resume = ctx.resume() if ctx.attempt > 1 else None
    done = set(resume["steps_done"]) if resume else set()
    ctx.begin(STEPS, approach=f"{task['name']} in {len(STEPS)} steps")
    for number, step in enumerate(STEPS, 1):
        if step in done:
            continue
        time.sleep(STEP_S)
        if task["name"] == FLAKY and ctx.attempt == 1 and step == "review":
            raise RuntimeError("the review service timed out")
        ctx.checkpoint(f"{step} of {task['name']}", detail={"step": number})
    return f"{task['name']} ready" + (f", resumed at {resume['next_step']!r}" if resume else "")
