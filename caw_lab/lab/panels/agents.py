"""Agents at work: who is registered, their status, how long since each one's heartbeat."""

from __future__ import annotations

from typing import Any

from caw_lab.lab.panels.base import Panel, fitted_html, kinds_start
from caw_lab.lab.render import agents_table
from caw_lab.tools.client import Client


class Agents(Panel):
    """Redrawn on agent events (heartbeats included), so the ages are as of the last sign of life."""

    title = "Agents"

    def __init__(self, client: Client, workflow_id: str | None = None, **kwargs: Any) -> None:
        self.workflow_id = workflow_id
        self.agents: list[dict[str, Any]] = []
        self.table = fitted_html()
        super().__init__(client, **kwargs)
        self.body.children = [self.table]
        self.refresh()

    def draw(self) -> None:
        params = {"workflow_id": self.workflow_id} if self.workflow_id else {}
        listed = self.client.call("agent_list", **params)
        self.agents = listed["agents"]
        self.table.value = agents_table(listed) if self.agents else "<i>No agents registered yet.</i>"

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return kinds_start(events, "agent.", "task.claimed", "task.released")

    def describe(self) -> str:
        online = sum(a.get("status") != "offline" for a in self.agents)
        return f"{len(self.agents)} agents, {online} online"
