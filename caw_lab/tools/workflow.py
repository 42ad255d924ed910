"""Workflow lifecycle tools: create, read, list, plan, status, parallelism, config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import plans, workflows
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

SourceType = Literal["prompt", "github_issue", "linear", "jira", "custom"]
Complexity = Literal["low", "medium", "high"]
Capabilities = list[str]
"""What an agent needs for the task (docs/leases.md#capacity); plans.validate_plan bounds them."""


class WorkflowCreateResult(Result):
    id: str
    name: str
    status: str
    max_parallel_tasks: int


class WorkflowGetResult(Result):
    id: str
    name: str
    source_type: str
    source_ref: str | None
    source_content: str | None
    status: str
    initial_plan: dict[str, Any] | None
    plan_summary: str | None
    max_parallel_tasks: int
    auto_create_workspaces: bool
    config: dict[str, Any] | None
    locked_by_session_id: str | None
    locked_at: int | None
    created_at: int
    updated_at: int
    template_version: str | None
    tasks: list[dict[str, Any]] | None = None


class WorkflowListResult(Result):
    workflows: list[dict[str, Any]]
    total: int


class WorkflowSetConfigResult(Result):
    success: bool
    config: dict[str, Any]


class WorkflowSetParallelismResult(Result):
    success: bool


class WorkflowSetPlanResult(Result):
    workflow_id: str
    tasks_created: int
    parallelizable_groups: list[Any]
    status: str
    tasks: list[dict[str, Any]]


class WorkflowUpdateStatusResult(Result):
    success: bool
    previous_status: str
    status: str


class WorkflowCreate(Params):
    name: str = Field(min_length=1)
    source_type: SourceType
    source_content: str
    source_ref: str | None = None
    repository_paths: list[str] | None = None
    max_parallel_tasks: int = Field(1, ge=1, le=1000)
    auto_create_workspaces: bool = False


@tool("workflow_create", "Create a workflow in planning status from a prompt or issue.", read_only=False,
      result=WorkflowCreateResult)
def workflow_create(db: Backend, p: WorkflowCreate) -> dict[str, Any]:
    return workflows.create(db, **p.model_dump())


class WorkflowGet(Params):
    id: str
    include_tasks: bool = False


@tool("workflow_get", "Get a workflow, optionally with its tasks.", read_only=True, result=WorkflowGetResult)
def workflow_get(db: Backend, p: WorkflowGet) -> dict[str, Any]:
    return workflows.get(db, p.id, p.include_tasks)


class WorkflowList(Params):
    repository_path: str | None = None
    status: list[str] | None = None
    limit: int = Field(20, ge=1, le=1000)
    offset: int = Field(0, ge=0)


@tool("workflow_list", "List workflows, newest first, filtered by status or repository.", read_only=True,
      result=WorkflowListResult)
def workflow_list(db: Backend, p: WorkflowList) -> dict[str, Any]:
    return workflows.list_workflows(db, **p.model_dump())


class PlanTask(Params):
    name: str = Field(min_length=1)
    description: str | None = None
    parallel_group: str | None = None
    depends_on: list[str] | None = None
    estimated_complexity: Complexity | None = None
    files_likely_affected: list[str] | None = None
    repository_path: str | None = None
    context_from: list[str] | None = None
    required_capabilities: Capabilities | None = None


class WorkflowPlan(Params):
    summary: str
    tasks: list[PlanTask]
    approach: str | None = None
    risks: list[str] | None = None
    assumptions: list[str] | None = None


class WorkflowSetPlan(Params):
    id: str
    session_id: str | None = None
    plan: WorkflowPlan


@tool("workflow_set_plan", "Set a planning workflow's plan: creates its tasks and DAG; it becomes ready.",
      lock=("workflow", "id"), read_only=False, result=WorkflowSetPlanResult)
def workflow_set_plan(db: Backend, p: WorkflowSetPlan) -> dict[str, Any]:
    return plans.set_plan(db, p.id, p.plan.model_dump(exclude_none=True))


class WorkflowUpdateStatus(Params):
    id: str
    session_id: str | None = None
    status: str
    reason: str | None = None


@tool("workflow_update_status", "Move a workflow through its state machine.", lock=("workflow", "id"),
      read_only=False, destructive=True, result=WorkflowUpdateStatusResult)
def workflow_update_status(db: Backend, p: WorkflowUpdateStatus) -> dict[str, Any]:
    return workflows.update_status(db, p.id, p.status, p.reason)


class WorkflowSetParallelism(Params):
    id: str
    session_id: str | None = None
    max_parallel_tasks: int = Field(ge=1, le=1000)
    auto_create_workspaces: bool | None = None


@tool("workflow_set_parallelism", "Set how many of a workflow's tasks may run at once.", lock=("workflow", "id"),
      read_only=False, destructive=True, idempotent=True, result=WorkflowSetParallelismResult)
def workflow_set_parallelism(db: Backend, p: WorkflowSetParallelism) -> dict[str, Any]:
    return workflows.set_parallelism(db, p.id, p.max_parallel_tasks, p.auto_create_workspaces)


class WorkflowSetConfig(Params):
    id: str
    session_id: str | None = None
    config: dict[str, Any]


@tool("workflow_set_config", "Merge keys into a workflow's config (null removes a key).", lock=("workflow", "id"),
      read_only=False, destructive=True, idempotent=True, result=WorkflowSetConfigResult)
def workflow_set_config(db: Backend, p: WorkflowSetConfig) -> dict[str, Any]:
    return workflows.set_config(db, p.id, p.config)
