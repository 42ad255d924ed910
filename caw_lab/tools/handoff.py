"""Hand-off: give a claimed task, with a note, to another agent or to any worker."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import handoff
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class TaskHandoffResult(Result):
    success: bool
    checkpoint_id: str
    message_ids: list[str]
    to_agent: str | None


class TaskHandoff(Params):
    task_id: str
    from_agent: str = Field(description="The agent holding the task's claim.")
    to_agent: str | None = Field(None, description="The agent to take over; leave out to tell every worker.")
    note: str = Field(min_length=1, description="What the next agent needs to know; kept as a handoff checkpoint.")
    session_id: str | None = None


@tool("task_handoff",
      "Release a claimed task with a handoff checkpoint holding the note and a message to the receiving agent "
      "(or to every worker), in one change; the receiver claims it and reads the note in task_load_context.",
      lock=("task", "task_id"), read_only=False, destructive=True, result=TaskHandoffResult)
def task_handoff(db: Backend, p: TaskHandoff) -> dict[str, Any]:
    return handoff.handoff(db, p.task_id, p.from_agent, p.to_agent, p.note)
