"""Agents at work: who is registered, their status, how long since each one's heartbeat,
and the task each is on, by name."""

from __future__ import annotations

from html import escape
from typing import Any

from caw_lab.errors import CawError
from caw_lab.lab.panels.base import Panel, fitted_html, fluid_table, kinds_start
from caw_lab.lab.render import age, badge
from caw_lab.tools.client import Client


class Agents(Panel):
    """Redrawn on agent events (heartbeats included); ``tick`` redraws the ages between them."""

    title = "Agents"

    def __init__(self, client: Client, workflow_id: str | None = None, **kwargs: Any) -> None:
        self.workflow_id = workflow_id
        self.agents: list[dict[str, Any]] = []
        self.task_names: dict[str, str] = {}
        self.table = fitted_html()
        super().__init__(client, **kwargs)
        self.body.children = [self.table]
        self.refresh()

    def draw(self) -> None:
        params = {"workflow_id": self.workflow_id} if self.workflow_id else {}
        self.agents = self.client.call("agent_list", **params)["agents"]
        for task_id in {a["current_task_id"] for a in self.agents if a.get("current_task_id")} - set(self.task_names):
            self.task_names[task_id] = self.task_name(task_id)
        self.show()

    def task_name(self, task_id: str) -> str:
        """Read once per task (names do not change); a task deleted since shows its id."""
        try:
            return str(self.client.call("task_get", id=task_id)["name"])
        except CawError:
            return task_id

    def show(self) -> None:
        runtime = "<div style='color:#57606a; font-size:11px'>{}</div>"
        rows = [
            [f"<b>{escape(a['name'])}</b>{runtime.format(escape(a.get('runtime') or ''))}", badge(a.get("status")),
             age(a.get("last_heartbeat")), escape(self.task_names.get(a.get("current_task_id") or "", "-"))]
            for a in self.agents
        ]
        self.table.value = (fluid_table(["agent", "status", "heartbeat", "task"], rows) if rows
                            else "<i>No agents registered yet.</i>")

    def tick(self) -> None:
        with self._drawing:
            self.show()

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return kinds_start(events, "agent.", "task.claimed", "task.released")

    def describe(self) -> str:
        online = sum(a.get("status") != "offline" for a in self.agents)
        return f"{len(self.agents)} agents, {online} online"
