"""Delta loading: what changed around a task since event ``since_seq`` of the change feed.

An agent that reloads after a few checkpoints already holds most of its context; it asks
with the cursor of its last load and gets only the parts that changed. Changes are read
from the feed (``engine.events.since``), never by polling tables:

- the workflow part when a ``workflow.*`` event happened;
- a task (current, prior, sibling, dependency) when an event other than a checkpoint
  names it;
- a checkpoint when an event names it (``checkpoint_id`` in its payload: every change that
  writes a checkpoint, ``checkpoint.added`` and ``task.replanned`` alike, names it);
- memories and messages created or updated since that event.

More than ``MAX_EVENTS`` events since the cursor means the agent is far behind: it gets
everything, marked ``delta: true`` all the same, with the new cursor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caw_lab.context.sources import Surroundings
from caw_lab.engine import events
from caw_lab.store.backend import Backend

MAX_EVENTS = 1000


@dataclass
class Change:
    cursor: int
    at: int
    workflow: bool = False
    tasks: set[str] = field(default_factory=set)
    checkpoints: set[str] = field(default_factory=set)
    everything: bool = False

    def keeps(self, kind: str, row: dict[str, Any]) -> bool:
        """Whether ``row`` (of ``kind``) changed since the cursor and so belongs in the delta."""
        if self.everything:
            return True
        if kind == "workflow":
            return self.workflow
        if kind == "task":
            return row["id"] in self.tasks
        if kind == "checkpoint":
            return row["id"] in self.checkpoints
        stamp = row.get("updated_at") or row.get("created_at") or 0
        return stamp >= self.at


def since(db: Backend, around: Surroundings, seq: int) -> Change:
    feed = events.since(db, seq, workflow_id=around.workflow["id"], limit=MAX_EVENTS)
    change = Change(cursor=feed["cursor"], at=moment(db, seq, feed["head"]))
    if len(feed["events"]) >= MAX_EVENTS:
        change.everything = True
        change.cursor = feed["head"]
        return change
    for event in feed["events"]:
        kind = event["kind"]
        payload = event.get("payload") or {}
        if kind.startswith("workflow."):
            change.workflow = True
        if payload.get("checkpoint_id"):
            change.checkpoints.add(payload["checkpoint_id"])
        if not kind.startswith("checkpoint.") and event.get("task_id"):
            change.tasks.add(event["task_id"])
    return change


def moment(db: Backend, seq: int, head: int) -> int:
    """When event ``seq`` happened: 0 before the feed began, never for a cursor past its head."""
    if seq <= 0:
        return 0
    if seq > head:
        return 2**62
    at = db.scalar("SELECT at FROM events WHERE seq = ?", (seq,))
    return at if at is not None else 0
