"""``task_logs``: what a task's agents printed, per attempt, kept after they end (runtimes/agent_logs.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from caw_lab.engine.rows import fetch
from caw_lab.errors import CawError
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, tool

MAX_READ_BYTES = 1024 * 1024


class TaskLogs(Params):
    task_id: str
    attempt: int | None = Field(None, ge=1)
    offset: int = 0
    max_bytes: int = Field(65536, ge=1, le=MAX_READ_BYTES)


class AttemptLog(BaseModel):
    attempt: int
    agent_id: str
    size: int
    first_offset: int


class Logs(BaseModel):
    task_id: str
    attempts: list[AttemptLog]
    attempt: int | None
    agent_id: str | None
    text: str
    offset: int
    next_offset: int
    size: int
    dropped: int


@tool("task_logs", "A task's agent output: an attempt (default latest) from a byte offset (<0: from the end).",
      read_only=True, result=Logs)
def task_logs(db: Backend, p: TaskLogs) -> dict[str, Any]:
    from caw_lab.runtimes import agent_logs  # the runtimes, first needed here: a server starts without them
    from caw_lab.runtimes.running import db_target

    fetch(db, "task", p.task_id)
    found = agent_logs.attempts(agent_logs.logs_root(db_target(db)), p.task_id)
    listed = [agent_logs.summary(a) for a in found]
    empty = {"task_id": p.task_id, "attempts": listed, "attempt": None, "agent_id": None, "text": "", "offset": 0,
             "next_offset": 0, "size": 0, "dropped": 0}
    if not found:
        if p.attempt is not None:
            raise no_attempt(p.task_id, p.attempt)
        return empty
    chosen = found[-1] if p.attempt is None else next((a for a in found if a.number == p.attempt), None)
    if chosen is None:
        raise no_attempt(p.task_id, p.attempt)
    chunk = agent_logs.read(chosen, p.offset, p.max_bytes)
    return {**empty, "attempt": chosen.number, "agent_id": chosen.agent_id, "text": chunk.text,
            "offset": chunk.offset, "next_offset": chunk.next_offset, "size": chunk.size, "dropped": chunk.dropped}


def no_attempt(task_id: str, attempt: int | None) -> CawError:
    return CawError("ATTEMPT_NOT_FOUND", f"Task {task_id} has no logged attempt {attempt}", recoverable=False,
                    suggestion="Call task_logs without attempt to list the attempts it has.")
