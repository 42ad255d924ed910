"""Orchestration tools: what to run next, how far a workflow got, what a task waits on.

The recommendation rule (free slots, parallel groups) is written out in
``caw_lab.engine.orchestration``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import orchestration
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class TaskCheckDependenciesResult(Result):
    satisfied: bool
    pending: list[dict[str, Any]]
    completed: list[dict[str, Any]]


class WorkflowNextTasksResult(Result):
    tasks: list[dict[str, Any]]
    max_parallel: int
    recommended_count: int
    active_count: int
    workflow_status: str
    all_complete: bool


class WorkflowProgressResult(Result):
    total_tasks: int
    by_status: dict[str, Any]
    current_sequence: int
    completed_sequence: int
    blocked_tasks: list[dict[str, Any]]
    parallel_groups: list[Any]
    estimated_remaining: int


class WorkflowNextTasks(Params):
    workflow_id: str
    include_failed: bool = Field(True, description="Offer failed tasks for retry too.")
    agent_id: str | None = None


@tool("workflow_next_tasks",
      "Every task that can start now (pending or failed, unblocked, unclaimed), a parallel group's together; "
      "recommended_count of them fill the free slots (max_parallel_tasks minus those started or claimed).",
      read_only=True, result=WorkflowNextTasksResult)
def workflow_next_tasks(db: Backend, p: WorkflowNextTasks) -> dict[str, Any]:
    return orchestration.next_tasks(db, p.workflow_id, p.include_failed, p.agent_id)


class WorkflowProgress(Params):
    workflow_id: str


@tool("workflow_progress", "Task counts by status (blocked computed), sequences, blockers and parallel groups.",
      read_only=True, result=WorkflowProgressResult)
def workflow_progress(db: Backend, p: WorkflowProgress) -> dict[str, Any]:
    return orchestration.progress(db, p.workflow_id)


class TaskCheckDependencies(Params):
    task_id: str


@tool("task_check_dependencies", "Whether a task's dependencies are finished: which are, which are not.",
      read_only=True, result=TaskCheckDependenciesResult)
def task_check_dependencies(db: Backend, p: TaskCheckDependencies) -> dict[str, Any]:
    return orchestration.check_dependencies(db, p.task_id)
