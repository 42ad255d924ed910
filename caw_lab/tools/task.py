"""Task tools: read a task, plan it, move it through its state machine, replan it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import tasks
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, tool


class TaskGet(Params):
    id: str
    include_checkpoints: bool = False
    checkpoint_limit: int | None = Field(None, ge=1, description="Only the newest N checkpoints.")


@tool("task_get", "Get a task (blocked computed), optionally with its newest checkpoints.", read_only=True)
def task_get(db: Backend, p: TaskGet) -> dict[str, Any]:
    return tasks.get(db, p.id, p.include_checkpoints, p.checkpoint_limit)


class ReplacementPlan(Params):
    approach: str
    steps: list[str]
    files_to_modify: list[str] | None = None
    files_to_create: list[str] | None = None


class TaskPlan(ReplacementPlan):
    context_needed: list[str] | None = None


class TaskSetPlan(Params):
    id: str
    session_id: str | None = None
    plan: TaskPlan
    context: dict[str, Any] | None = Field(None, description="Merged into the task's context; null removes a key.")


@tool("task_set_plan", "Store the plan of a task in planning; context is merged into the task's.",
      lock=("task", "id"), read_only=False, destructive=True, idempotent=True)
def task_set_plan(db: Backend, p: TaskSetPlan) -> dict[str, Any]:
    return tasks.set_plan(db, p.id, p.plan.model_dump(exclude_none=True), p.context)


class TaskUpdateStatus(Params):
    id: str
    session_id: str | None = None
    status: str = Field(description="pending, planning, in_progress, paused, completed, failed or skipped.")
    outcome: str | None = Field(None, description="Required for completed.")
    outcome_detail: dict[str, Any] | None = None
    error: str | None = Field(None, description="Required for failed.")
    fencing_token: int | None = None


@tool("task_update_status",
      "Move a task through its state machine; a blocked task cannot start (TASK_BLOCKED). Starting the first task "
      "starts a ready workflow; finishing the last one completes a running workflow.",
      lock=("task", "id"), read_only=False, destructive=True)
def task_update_status(db: Backend, p: TaskUpdateStatus) -> dict[str, Any]:
    return tasks.update_status(db, p.id, p.status, outcome=p.outcome, outcome_detail=p.outcome_detail, error=p.error,
                               fencing_token=p.fencing_token)


class TaskReplan(Params):
    id: str
    session_id: str | None = None
    reason: str = Field(min_length=1)
    new_plan: ReplacementPlan


@tool("task_replan",
      "Replace a failed or running task's plan, recording a replan checkpoint; a failed task goes back to pending.",
      lock=("task", "id"), read_only=False, destructive=True)
def task_replan(db: Backend, p: TaskReplan) -> dict[str, Any]:
    return tasks.replan(db, p.id, p.reason, p.new_plan.model_dump(exclude_none=True))
