"""Checkpoint tools: record a task's progress, read its trail back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import checkpoints
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

CheckpointType = Literal["plan", "progress", "decision", "error", "recovery", "complete", "replan", "handoff"]


class CheckpointListResult(Result):
    checkpoints: list[dict[str, Any]]


class Added(Result):
    id: str
    sequence: int


class CheckpointAdd(Params):
    task_id: str
    session_id: str | None = None
    type: CheckpointType
    summary: str = Field(min_length=1)
    detail: dict[str, Any] | None = None
    files_changed: list[str] | None = None
    fencing_token: int | None = None


@tool("checkpoint_add", "Record a checkpoint on a task; returns its id and per-task sequence.",
      lock=("task", "task_id"), read_only=False, result=Added)
def checkpoint_add(db: Backend, p: CheckpointAdd) -> dict[str, Any]:
    return checkpoints.add(db, p.task_id, p.type, p.summary, p.detail, p.files_changed, p.fencing_token)


class CheckpointList(Params):
    task_id: str
    type: list[CheckpointType] | None = None
    since_sequence: int | None = Field(None, ge=0)
    limit: int | None = Field(None, ge=1, description="At most this many, oldest first.")


@tool("checkpoint_list", "A task's checkpoints oldest first, filtered by type, after since_sequence.", read_only=True,
      result=CheckpointListResult)
def checkpoint_list(db: Backend, p: CheckpointList) -> dict[str, Any]:
    rows = checkpoints.list_checkpoints(db, p.task_id, p.type, p.since_sequence, p.limit)
    return {"checkpoints": rows}
