"""Replanning tools: add or remove one task, or replace a started workflow's plan."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import replanning
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool
from caw_lab.tools.workflow import Capabilities, Complexity, PlanTask


class WorkflowAddTaskResult(Result):
    task_id: str
    workflow_id: str
    sequence: int
    depends_on: list[str]
    dependencies_rewired: list[Any]


class WorkflowRemoveTaskResult(Result):
    removed_task_id: str
    dependencies_rewired: int
    tasks_renumbered: int


class WorkflowReplanResult(Result):
    workflow_id: str
    tasks_added: int
    tasks_removed: int
    tasks_preserved: int
    tasks_updated: int
    new_status: str


class WorkflowAddTask(Params):
    workflow_id: str
    session_id: str | None = None
    name: str = Field(min_length=1)
    description: str | None = None
    depends_on: list[Any] | None = None  # task names, or {workflow_id, task} of another workflow (engine/plans.py)
    parallel_group: str | None = None
    estimated_complexity: Complexity | None = None
    files_likely_affected: list[str] | None = None
    repository_path: str | None = None
    context_from: list[str] | None = None
    required_capabilities: Capabilities | None = None
    after_task: str | None = None


@tool("workflow_add_task",
      "Add a task to a started plan; after_task inserts it between that task and the tasks waiting on it.",
      lock=("workflow", "workflow_id"), read_only=False, result=WorkflowAddTaskResult)
def workflow_add_task(db: Backend, p: WorkflowAddTask) -> dict[str, Any]:
    spec = p.model_dump(exclude_none=True, exclude={"workflow_id", "session_id", "after_task"})
    return replanning.add_task(db, p.workflow_id, spec, p.after_task)


class WorkflowRemoveTask(Params):
    workflow_id: str
    session_id: str | None = None
    task_id: str


@tool("workflow_remove_task",
      "Remove an unclaimed pending or planning task; the tasks waiting on it inherit its dependencies.",
      lock=("workflow", "workflow_id"), read_only=False, destructive=True, idempotent=True,
      result=WorkflowRemoveTaskResult)
def workflow_remove_task(db: Backend, p: WorkflowRemoveTask) -> dict[str, Any]:
    return replanning.remove_task(db, p.workflow_id, p.task_id)


class ReplanPlan(Params):
    summary: str
    reason: str
    tasks: list[PlanTask]


class WorkflowReplan(Params):
    workflow_id: str
    session_id: str | None = None
    plan: ReplanPlan


@tool("workflow_replan",
      "Replace a started workflow's plan, keeping completed, in-progress and claimed tasks.",
      lock=("workflow", "workflow_id"), read_only=False, destructive=True, result=WorkflowReplanResult)
def workflow_replan(db: Backend, p: WorkflowReplan) -> dict[str, Any]:
    return replanning.replan(db, p.workflow_id, p.plan.model_dump(exclude_none=True))
