"""The change feed as a tool, so any surface can follow a workflow without polling tables."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import events
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class EventsListResult(Result):
    events: list[dict[str, Any]]
    cursor: int
    head: int


class EventsList(Params):
    since_seq: int = Field(0, ge=0)
    workflow_id: str | None = None
    task_id: str | None = None
    kinds: list[str] | None = None
    limit: int = Field(1000, ge=1, le=10000)


@tool("events_list", "Events after a cursor (since_seq), oldest first, with the next cursor.", read_only=True,
      result=EventsListResult)
def events_list(db: Backend, p: EventsList) -> dict[str, Any]:
    return events.since(db, p.since_seq, workflow_id=p.workflow_id, task_id=p.task_id, kinds=p.kinds, limit=p.limit)
