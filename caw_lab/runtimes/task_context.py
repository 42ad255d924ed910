"""``ctx``: what a Python agent (``work(task, ctx)``) uses to move its task along.

Every method is a tool call on the agent's own client, so a Python agent is held to the
same rules as one speaking MCP. When the executor asks the agent to stop (a suspension),
the next call raises ``Stopped``: a Python thread cannot be killed, so it stops at its
next checkpoint or heartbeat instead.
"""

from __future__ import annotations

import threading
from typing import Any

from caw_lab.engine.states import SETTLED_TASK_STATUSES
from caw_lab.runtimes.base import Caller


class Stopped(Exception):
    """Raised inside ``work`` once the executor asked the agent to stop."""


class TaskContext:
    def __init__(
        self, client: Caller, task: dict[str, Any], agent_id: str, stop: threading.Event | None = None
    ) -> None:
        self.client = client
        self.task = task
        self.task_id: str = task["id"]
        self.workflow_id: str = task["workflow_id"]
        self.agent_id = agent_id
        self.stop = stop or threading.Event()

    @property
    def stopping(self) -> bool:
        return self.stop.is_set()

    @property
    def attempt(self) -> int:
        """1 for the first attempt, 2 after one failure, and so on."""
        return (self.task.get("attempts") or 0) + 1

    def call(self, tool: str, /, **params: Any) -> Any:
        if self.stopping:
            raise Stopped(f"agent {self.agent_id} was asked to stop")
        return self.client.call(tool, **params)

    def status(self) -> str:
        return self.client.call("task_get", id=self.task_id)["stored_status"]

    def load_context(self, **params: Any) -> dict[str, Any]:
        """task_load_context for this task; ``current_task.resume`` says where a restart picks up."""
        return self.call("task_load_context", task_id=self.task_id, **params)

    def resume(self) -> dict[str, Any] | None:
        return self.load_context(include={"all_checkpoints": True})["current_task"].get("resume")

    def begin(self, steps: list[str] | None = None, approach: str = "") -> None:
        """Move the task to in_progress from wherever it stands, setting a plan on the way when it
        has none (a plan given by a requeue or restored by a rollback is kept)."""
        current = self.client.call("task_get", id=self.task_id)
        status = current["stored_status"]
        if status == "pending":
            self.call("task_update_status", id=self.task_id, status="planning")
            status = "planning"
        if status == "planning":
            if steps is not None and not current.get("plan"):
                self.call("task_set_plan", id=self.task_id, plan={"approach": approach or "as planned", "steps": steps})
            self.call("task_update_status", id=self.task_id, status="in_progress")
        elif status == "paused":
            self.call("task_update_status", id=self.task_id, status="in_progress")

    def plan_steps(self) -> list[str]:
        plan = self.client.call("task_get", id=self.task_id).get("plan") or {}
        return list(plan.get("steps") or [])

    def checkpoint(self, summary: str, type: str = "progress", detail: dict[str, Any] | None = None,
                   files_changed: list[str] | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"task_id": self.task_id, "type": type, "summary": summary}
        if detail is not None:
            params["detail"] = detail
        if files_changed is not None:
            params["files_changed"] = files_changed
        return self.call("checkpoint_add", **params)

    def heartbeat(self) -> None:
        self.call("agent_heartbeat", agent_id=self.agent_id, current_task_id=self.task_id, status="busy")

    def complete(self, outcome: str, detail: dict[str, Any] | None = None) -> None:
        self.begin()
        self.call("task_update_status", id=self.task_id, status="completed", outcome=outcome, outcome_detail=detail)

    def fail(self, error: str) -> None:
        self.begin()
        self.call("task_update_status", id=self.task_id, status="failed", error=error)

    def settle(self, result: Any) -> None:
        """After ``work`` returned: complete the task unless it already finished."""
        if self.status() not in SETTLED_TASK_STATUSES:
            self.complete(result if isinstance(result, str) else "done" if result is None else repr(result))

    def settle_error(self, exc: BaseException) -> None:
        """After ``work`` raised: report the failure, so the retry policy sees the agent's own error."""
        if self.status() not in SETTLED_TASK_STATUSES:
            self.fail(f"{type(exc).__name__}: {exc}")
