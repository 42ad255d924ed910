"""Executors running in this process, behind the execution tools.

workflow_start runs an executor in a background thread of the calling process (the MCP
server's, a notebook's kernel) and returns once the first agents are started.
workflow_suspend reaches an executor of this process directly, and one in another process
through the database: an ``execution.suspend_requested`` event its owner sees at its next
turn, after which the caller waits for the ``execution.suspended`` event. If the
executor's process died instead, its agents died with it (each under its keeper,
runtimes/keeper.py), so the caller pauses the workflow itself. workflow_resume starts a
new executor here with the settings the suspended one recorded. At interpreter exit,
executors still running here are suspended, so no task is left in progress by a process
that is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from caw_lab.engine import executions, orchestration
from caw_lab.engine.rows import fetch
from caw_lab.errors import CawError
from caw_lab.runtimes.base import Connect, Runtime
from caw_lab.runtimes.executor import Executor
from caw_lab.runtimes.settings import ExecutionSettings
from caw_lab.store.backend import Backend

DEFAULT_TIMEOUT_MS = ExecutionSettings().heartbeat_timeout_ms
START_WAIT_S = 120.0
SUSPEND_WAIT_S = 60.0

_executors: dict[str, Executor] = {}
_lock = threading.Lock()


def db_target(db: Backend) -> str:
    """The database as another connection (a thread's, a child process's) opens it."""
    return getattr(db, "path", None) or db.url


def local(workflow_id: str) -> Executor | None:
    with _lock:
        found = _executors.get(workflow_id)
    return found if found is not None and live(found) else None


def live(executor: Executor) -> bool:
    return executor.outcome is None and executor.error is None


def start(db: str, workflow_id: str, connect: Connect, overrides: Mapping[str, Any] | None = None,
          runtimes: Mapping[str, Runtime] | None = None) -> Executor:
    """Run an executor in a background thread; returns once its first agents are started."""
    executor = Executor(db, workflow_id, overrides=overrides, runtimes=runtimes, connect=connect)
    with _lock:
        if workflow_id in _executors and live(_executors[workflow_id]):
            raise executions.already_running(workflow_id)
        _executors[workflow_id] = executor
    thread = threading.Thread(target=run_quietly, args=(executor,), daemon=True, name=f"caw-executor-{workflow_id}")
    thread.start()
    executor.started.wait(START_WAIT_S)
    if executor.error is not None:
        raise executor.error
    return executor


def run_quietly(executor: Executor) -> None:
    """The thread's body: errors are kept on the executor for whoever started it."""
    with contextlib.suppress(BaseException):  # recorded in executor.error, reported by start()
        executor.run()


def timeout_ms(db: Backend, workflow_id: str) -> int:
    started = executions.last_started(db, workflow_id)
    return (started["payload"].get("settings") or {}).get("heartbeat_timeout_ms", DEFAULT_TIMEOUT_MS) if started \
        else DEFAULT_TIMEOUT_MS


def suspend(db: Backend, workflow_id: str) -> dict[str, Any]:
    """The reference's SuspendResult: ``{success, agentsStopped, tasksReleased}``."""
    fetch(db, "workflow", workflow_id)
    executor = local(workflow_id)
    if executor is not None:
        executor.request_stop()
        finished(executor)
        return suspended(executor.outcome.detail if executor.outcome else {})
    limit = timeout_ms(db, workflow_id)
    seq = executions.request_suspend(db, workflow_id, limit)
    if seq is not None:
        return suspended(wait_for_suspension(db, workflow_id, seq))
    return suspend_orphaned(db, workflow_id)


def wait_for_suspension(db: Backend, workflow_id: str, after: int) -> dict[str, Any]:
    deadline = time.monotonic() + SUSPEND_WAIT_S
    while time.monotonic() < deadline:
        payload = executions.suspension_after(db, workflow_id, after)
        if payload is not None:
            return payload
        time.sleep(0.1)
    raise CawError("SUSPEND_TIMEOUT", f"The executor of {workflow_id} did not suspend within {SUSPEND_WAIT_S:.0f} s",
                   recoverable=True, suggestion="Call workflow_execution_status, then workflow_suspend again.")


def suspend_orphaned(db: Backend, workflow_id: str) -> dict[str, Any]:
    """The executor died without finishing: pause what its agents held, so resume can pick it up."""
    started = executions.last_started(db, workflow_id)
    status = executions.status(db, workflow_id, timeout_ms(db, workflow_id))
    if started is None or status["status"] != "idle" or status["outcome"] != "lost":
        raise CawError("NOT_RUNNING", f"No executor is running workflow {workflow_id}", recoverable=False,
                       suggestion="Use workflow_start to begin execution first.")
    agent_ids = [h["agentId"] for h in status["agents"]]
    return suspended(executions.suspend(db, workflow_id, started["payload"]["executor_id"], agent_ids))


def suspended(detail: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "agentsStopped": detail.get("agents_stopped", 0),
            "tasksReleased": len(detail.get("tasks_released", [])), "tasksPaused": detail.get("tasks_paused", [])}


def resume(db: Backend, workflow_id: str, connect: Connect,
           runtimes: Mapping[str, Runtime] | None = None) -> dict[str, Any]:
    """The reference's ResumeResult: ``{success, agentsSpawned, tasksAvailable}``."""
    workflow = fetch(db, "workflow", workflow_id)
    if workflow["status"] != "paused":
        raise CawError("NOT_SUSPENDED", f"Workflow {workflow_id} is {workflow['status']}, not suspended",
                       recoverable=False,
                       suggestion="Only a paused workflow can be resumed; see workflow_execution_status.")
    started = executions.last_started(db, workflow_id)
    settings = dict((started["payload"].get("settings") or {}) if started else {})
    executor = start(db_target(db), workflow_id, connect, settings, runtimes)
    available = orchestration.next_tasks(db, workflow_id, include_failed=False)["tasks"]
    return {"success": True, "agentsSpawned": len(executor.handles()), "tasksAvailable": len(available)}


def status(db: Backend, workflow_id: str) -> dict[str, Any]:
    return executions.status(db, workflow_id, DEFAULT_TIMEOUT_MS)


@atexit.register
def suspend_all() -> None:
    """At exit, suspend what still runs here rather than leave its tasks in progress."""
    with _lock:
        running = [e for e in _executors.values() if live(e)]
    for executor in running:
        executor.request_stop()
    for executor in running:
        finished(executor)


def finished(executor: Executor) -> None:
    """Wait (a bounded time) for an executor asked to stop to get there."""
    deadline = time.monotonic() + SUSPEND_WAIT_S
    while executor.outcome is None and executor.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
