"""Execution tools (the reference's workflow_start family), declared before they exist.

Agents written for the reference list and call these names, so they are registered with
the reference's parameters: input is validated as usual, then the call is refused with
NOT_IMPLEMENTED and a way forward, rather than UNKNOWN_TOOL.
"""

from __future__ import annotations

from typing import Any, Literal, NoReturn

from pydantic import Field

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, tool


class WorkflowStart(Params):
    workflow_id: str
    max_agents: int | None = Field(None, ge=1)
    model: str | None = None
    permission_mode: Literal["acceptEdits", "bypassPermissions"] | None = None
    max_turns: int | None = Field(None, ge=1)
    max_budget_usd: float | None = Field(None, ge=0)
    cwd: str | None = None


class WorkflowRef(Params):
    workflow_id: str


def not_available(action: str) -> NoReturn:
    raise CawError(
        "NOT_IMPLEMENTED",
        f"Cannot {action}: running agents from caw-lab is not available yet",
        recoverable=False,
        suggestion="Run your agents yourself: they take work with workflow_next_tasks and task_claim.",
    )


@tool("workflow_start", "Start agents on a ready workflow (not available yet: refused with NOT_IMPLEMENTED).")
def workflow_start(db: Backend, p: WorkflowStart) -> Any:
    not_available("start a workflow")


@tool("workflow_suspend", "Suspend a running workflow's agents (not available yet: refused with NOT_IMPLEMENTED).")
def workflow_suspend(db: Backend, p: WorkflowRef) -> Any:
    not_available("suspend a workflow")


@tool("workflow_resume", "Resume a suspended workflow's agents (not available yet: refused with NOT_IMPLEMENTED).")
def workflow_resume(db: Backend, p: WorkflowRef) -> Any:
    not_available("resume a workflow")


@tool(
    "workflow_execution_status",
    "Agents running a workflow and their progress (not available yet: refused with NOT_IMPLEMENTED).",
)
def workflow_execution_status(db: Backend, p: WorkflowRef) -> Any:
    not_available("report execution status")
