"""Workspace tools: git worktrees for parallel tasks, their lifecycle, and merge checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import workspaces
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

WorkspaceStatus = Literal["active", "merged", "abandoned"]


class TaskAssignWorkspaceResult(Result):
    success: bool
    task_id: str
    workspace_id: str


class WorkflowCheckMergeResult(Result):
    workflow_id: str
    checked: int
    clean: int
    conflicted: int
    workspaces: list[dict[str, Any]]


class WorkspaceResult(Result):
    id: str
    workflow_id: str
    repository_id: str | None
    path: str
    branch: str
    base_branch: str | None
    status: str
    merge_commit: str | None
    pr_url: str | None
    config: dict[str, Any] | None
    created_at: int
    updated_at: int
    task_ids: list[str]


class WorkspaceCreateResult(WorkspaceResult):
    worktree_created: bool


class WorkspaceListResult(Result):
    workspaces: list[dict[str, Any]]


class WorkspaceUpdateResult(Result):
    success: bool
    id: str
    status: str
    worktree_removed: bool
    backup_ref: str | None


class WorkspaceCreate(Params):
    workflow_id: str
    session_id: str | None = None
    branch: str = Field(min_length=1)
    path: str | None = None
    base_branch: str | None = None
    task_ids: list[str] | None = None
    create_worktree: bool = False
    repo_path: str | None = None
    config: dict[str, Any] | None = None


@tool("workspace_create",
      "Register a workspace; with create_worktree and repo_path, create its branch in a new git worktree.",
      lock=("workflow", "workflow_id"), read_only=False, result=WorkspaceCreateResult)
def workspace_create(db: Backend, p: WorkspaceCreate) -> dict[str, Any]:
    return workspaces.create(db, p.workflow_id, branch=p.branch, path=p.path, base_branch=p.base_branch,
                             task_ids=p.task_ids or [], create_worktree=p.create_worktree, repo_path=p.repo_path,
                             config=p.config)


class WorkspaceUpdate(Params):
    id: str
    session_id: str | None = None
    status: WorkspaceStatus | None = None
    merge_commit: str | None = None
    pr_url: str | None = None
    config: dict[str, Any] | None = None
    cleanup_worktree: bool = False
    force: bool = False


@tool("workspace_update",
      "Set a workspace's status (merged needs merge_commit), PR URL or config; cleanup_worktree removes its "
      "worktree (uncommitted work refused unless force, then kept under a backup ref).",
      lock=("workspace", "id"), read_only=False, destructive=True, idempotent=True, result=WorkspaceUpdateResult)
def workspace_update(db: Backend, p: WorkspaceUpdate) -> dict[str, Any]:
    return workspaces.update_workspace(db, p.id, status=p.status, merge_commit=p.merge_commit, pr_url=p.pr_url,
                                       config=p.config, cleanup_worktree=p.cleanup_worktree, force=p.force)


class WorkspaceGet(Params):
    id: str


@tool("workspace_get", "One workspace, with the ids of its tasks.", read_only=True, result=WorkspaceResult)
def workspace_get(db: Backend, p: WorkspaceGet) -> dict[str, Any]:
    return workspaces.get_workspace(db, p.id)


class WorkspaceList(Params):
    workflow_id: str
    status: list[str] | None = None


@tool("workspace_list", "A workflow's workspaces, oldest first, each with the ids of its tasks.", read_only=True,
      result=WorkspaceListResult)
def workspace_list(db: Backend, p: WorkspaceList) -> dict[str, Any]:
    return workspaces.list_workspaces(db, p.workflow_id, p.status)


class TaskAssignWorkspace(Params):
    task_id: str
    session_id: str | None = None
    workspace_id: str


@tool("task_assign_workspace", "Run a task in an active workspace of its workflow.", lock=("task", "task_id"),
      read_only=False, destructive=True, idempotent=True, result=TaskAssignWorkspaceResult)
def task_assign_workspace(db: Backend, p: TaskAssignWorkspace) -> dict[str, Any]:
    return workspaces.assign_task(db, p.task_id, p.workspace_id)


class WorkflowCheckMerge(Params):
    workflow_id: str
    repo_path: str | None = None


@tool("workflow_check_merge",
      "For each active workspace, whether its branch merges cleanly into its base, listing conflicting files.",
      read_only=True, result=WorkflowCheckMergeResult)
def workflow_check_merge(db: Backend, p: WorkflowCheckMerge) -> dict[str, Any]:
    return workspaces.check_merge(db, p.workflow_id, p.repo_path)
