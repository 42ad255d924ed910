"""Session lock tools: reserve a workflow's mutations for one session."""

from __future__ import annotations

from typing import Any

from caw_lab.engine import locks
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class WorkflowLockResult(Result):
    success: bool
    locked_by: str
    locked_at: int


class WorkflowLockInfoResult(Result):
    locked: bool
    session_id: str | None
    locked_at: int | None
    session_pid: int | None


class WorkflowUnlockResult(Result):
    success: bool


class WorkflowLock(Params):
    id: str
    session_id: str


@tool("workflow_lock", "Lock a workflow for a session; others' mutations are refused while it holds.",
      read_only=False, idempotent=True, result=WorkflowLockResult)
def workflow_lock(db: Backend, p: WorkflowLock) -> dict[str, Any]:
    return locks.lock(db, p.id, p.session_id)


@tool("workflow_unlock", "Release a session's lock on a workflow.", read_only=False, destructive=True, idempotent=True,
      result=WorkflowUnlockResult)
def workflow_unlock(db: Backend, p: WorkflowLock) -> dict[str, Any]:
    return locks.unlock(db, p.id, p.session_id)


class WorkflowLockInfo(Params):
    id: str


@tool("workflow_lock_info", "Who holds a workflow's lock, since when, and its process id.", read_only=True,
      result=WorkflowLockInfoResult)
def workflow_lock_info(db: Backend, p: WorkflowLockInfo) -> dict[str, Any]:
    return locks.lock_info(db, p.id)
