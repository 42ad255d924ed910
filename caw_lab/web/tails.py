"""``agent:log``: the live output of running agents, read from their logs as they grow.

Logs are files the executor's process writes (runtimes/agent_logs.py), read here through
the ``task_logs`` tool from a byte offset, so a server follows agents that any process on
the machine started. A task is followed from its claim (the ``task.claimed`` event names
the agent, whose attempt folder is then looked for) until a little after it stops running,
so its last lines arrive too; a task already running when someone starts watching its
workflow or task is followed from the end of what it has written so far (the history is a
``GET /api/tasks/{id}/logs`` away, and each message's ``offset`` lets a client join them).
Only whole lines are sent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from caw_lab.errors import CawError

READ_BYTES = 256 * 1024
LINGER_S = 2.0
"""How long a task that stopped running is still read: its agent's last output may trail the event."""
MAX_FOLLOWED = 1000
ENDING_KINDS = frozenset({"task.status", "task.released", "task.handed_off", "task.recovered", "task.dead_lettered"})

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass
class Followed:
    task_id: str
    workflow_id: str | None
    agent_id: str | None
    """The agent whose attempt to read; None: the latest attempt, from its end."""
    attempt: int | None = None
    offset: int = 0
    ends_at: float | None = None


def still_running(event: dict[str, Any]) -> bool:
    return event["kind"] == "task.status" and (event.get("payload") or {}).get("to") == "in_progress"


class Tails:
    def __init__(self, call: Call) -> None:
        self.call = call
        self.followed: dict[str, Followed] = {}

    def clear(self) -> None:
        self.followed.clear()

    def follow(self, event: dict[str, Any]) -> None:
        """Start or stop following a task as the change feed says it starts or stops running."""
        task_id, kind = event.get("task_id"), event["kind"]
        if not task_id:
            return
        if kind == "task.claimed" and len(self.followed) < MAX_FOLLOWED:
            self.followed[task_id] = Followed(task_id, event["workflow_id"], event["agent_id"])
        elif kind in ENDING_KINDS and task_id in self.followed and not still_running(event):
            self.followed[task_id].ends_at = time.monotonic() + LINGER_S

    async def watch_channel(self, channel: str) -> None:
        """A viewer arrived: follow what already runs in its workflow or task."""
        kind, _, ident = channel.partition(":")
        try:
            if kind == "workflow":
                agents = (await self.call("agent_list", {"workflow_id": ident, "status": ["busy"]}))["agents"]
                running = [(a["current_task_id"], ident) for a in agents if a.get("current_task_id")]
            else:
                task = await self.call("task_get", {"id": ident})
                running = [(ident, task["workflow_id"])] if task["status"] == "in_progress" else []
        except CawError:
            return
        for task_id, workflow_id in running:
            if task_id not in self.followed and len(self.followed) < MAX_FOLLOWED:
                self.followed[task_id] = Followed(task_id, workflow_id, None, offset=-1)

    async def read(self) -> list[tuple[dict[str, Any], set[str]]]:
        """What every followed task wrote since the last read, as ``agent:log`` messages and their channels."""
        out = []
        now = time.monotonic()
        for task_id, followed in list(self.followed.items()):
            try:
                message = await self.read_one(followed)
            except CawError:
                message = None
            if message is not None:
                data = message["data"]
                out.append((message, {f"workflow:{followed.workflow_id}", f"task:{task_id}",
                                      f"agent:{data['agent_id']}"}))
            elif followed.ends_at is not None and now >= followed.ends_at:
                del self.followed[task_id]
        return out

    async def read_one(self, followed: Followed) -> dict[str, Any] | None:
        if followed.attempt is None and not await self.find_attempt(followed):
            return None
        found = await self.call("task_logs", {"task_id": followed.task_id, "attempt": followed.attempt,
                                              "offset": followed.offset, "max_bytes": READ_BYTES})
        text = found["text"]
        whole = text[:text.rfind("\n") + 1]
        if not whole:
            return None
        followed.offset = found["offset"] + len(whole.encode("utf-8"))
        return {"type": "agent:log", "data": {
            "task_id": followed.task_id, "workflow_id": followed.workflow_id, "agent_id": found["agent_id"],
            "attempt": found["attempt"], "offset": found["offset"], "next_offset": followed.offset,
            "dropped": found["dropped"], "lines": whole.splitlines()}}

    async def find_attempt(self, followed: Followed) -> bool:
        """The attempt folder of the claiming agent (it appears just after the claim), or for a task
        followed mid-run its latest attempt, from the end."""
        found = await self.call("task_logs", {"task_id": followed.task_id, "offset": -1, "max_bytes": 1})
        attempts = found["attempts"]
        if followed.agent_id is not None:
            mine = [a for a in attempts if a["agent_id"] == followed.agent_id]
            if not mine:
                return False
            followed.attempt, followed.offset = mine[-1]["attempt"], 0
            return True
        if not attempts:
            return False
        followed.attempt, followed.agent_id, followed.offset = attempts[-1]["attempt"], attempts[-1]["agent_id"], \
            attempts[-1]["size"]
        return True
