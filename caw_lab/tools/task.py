"""Task tools: read a task, plan it, move it through its state machine, replan it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import tasks
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class TaskGetResult(Result):
    id: str
    workflow_id: str
    name: str
    description: str | None
    status: str
    sequence: int
    parallel_group: Any
    estimated_complexity: str | None
    files_likely_affected: list[str] | None
    plan: dict[str, Any] | None
    plan_summary: str | None
    context: Any
    context_from: Any
    outcome: str | None
    outcome_detail: Any
    error: str | None
    workspace_id: str | None
    repository_id: str | None
    assigned_agent_id: str | None
    claimed_at: int | None
    created_at: int
    updated_at: int
    attempts: int
    next_attempt_at: int | None
    last_error: str | None
    runtime: str | None
    retry_policy: dict[str, Any] | None
    required_capabilities: list[str] | None
    stored_status: str
    blocked: bool
    depends_on: list[str]
    checkpoints: list[dict[str, Any]]


class TaskReplanResult(Result):
    success: bool
    checkpoint_id: str
    status: str


class TaskSetPlanResult(Result):
    success: bool


class TaskUpdateStatusResult(Result):
    success: bool
    previous_status: str
    status: str
    workflow_status: str


class TaskGet(Params):
    id: str
    include_checkpoints: bool = False
    checkpoint_limit: int | None = Field(None, ge=1, description="Only the newest N checkpoints.")


@tool("task_get", "Get a task (blocked computed), optionally with its newest checkpoints.", read_only=True,
      result=TaskGetResult)
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
      lock=("task", "id"), read_only=False, destructive=True, idempotent=True, result=TaskSetPlanResult)
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
      lock=("task", "id"), read_only=False, destructive=True, result=TaskUpdateStatusResult)
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
      lock=("task", "id"), read_only=False, destructive=True, result=TaskReplanResult)
def task_replan(db: Backend, p: TaskReplan) -> dict[str, Any]:
    return tasks.replan(db, p.id, p.reason, p.new_plan.model_dump(exclude_none=True))
