"""Dependency tools: add or remove one edge of a workflow's DAG."""

from __future__ import annotations

from typing import Any, Literal

from caw_lab.engine import dependencies
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class TaskAddDependencyResult(Result):
    success: bool
    created: bool
    task_id: str
    depends_on_id: str


class TaskRemoveDependencyResult(Result):
    success: bool
    task_id: str
    depends_on_id: str


class TaskAddDependency(Params):
    task_id: str
    depends_on_id: str
    session_id: str | None = None
    dependency_type: Literal["blocks", "informs"] = "blocks"


@tool("task_add_dependency", "Make a task depend on another of its workflow; refused if it would close a cycle.",
      lock=("task", "task_id"), read_only=False, idempotent=True, result=TaskAddDependencyResult)
def task_add_dependency(db: Backend, p: TaskAddDependency) -> dict[str, Any]:
    return dependencies.add(db, p.task_id, p.depends_on_id, p.dependency_type)


class TaskRemoveDependency(Params):
    task_id: str
    depends_on_id: str
    session_id: str | None = None


@tool("task_remove_dependency", "Remove a task's dependency on another task.", lock=("task", "task_id"),
      read_only=False, destructive=True, idempotent=True, result=TaskRemoveDependencyResult)
def task_remove_dependency(db: Backend, p: TaskRemoveDependency) -> dict[str, Any]:
    return dependencies.remove(db, p.task_id, p.depends_on_id)
