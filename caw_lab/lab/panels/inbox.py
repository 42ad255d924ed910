"""An agent's inbox: pick the agent, read its messages, newest first."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from caw_lab.lab.panels.base import Panel, fitted_html, kinds_start
from caw_lab.lab.render import messages_table
from caw_lab.tools.client import Client


class Inbox(Panel):
    title = "Inbox"

    def __init__(self, client: Client, agent_id: str | None = None, **kwargs: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        self.agent = widgets.Dropdown(description="Agent", layout={"width": "auto", "max_width": "100%"})
        self.listing = fitted_html()
        super().__init__(client, **kwargs)
        self.body.children = [self.agent, self.listing]
        self.wanted = agent_id
        self._syncing = False
        self.agent.observe(lambda _: self._syncing or self.refresh(), "value")
        self.refresh()

    def draw(self) -> None:
        self.sync_agents()
        if not self.agent.value:
            self.messages = []
            self.listing.value = "<i>No agents yet, so no inbox to show.</i>"
            return
        listed = self.client.call("message_list", agent_id=self.agent.value)
        self.messages = listed["messages"]
        self.listing.value = messages_table(listed)

    def sync_agents(self) -> None:
        """Offer every agent, keeping the one being read (or the one asked for) selected."""
        options = tuple((f"{a['name']} ({a['id']})", a["id"]) for a in self.client.call("agent_list")["agents"])
        if options == tuple(self.agent.options):
            return
        ids = [value for _, value in options]
        chosen = self.agent.value or self.wanted
        self._syncing = True
        try:
            self.agent.options = options
            self.agent.value = chosen if chosen in ids else (ids[0] if ids else None)
        finally:
            self._syncing = False

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return kinds_start(events, "message.", "agent.registered")

    def describe(self) -> str:
        unread = sum(m.get("status") == "unread" for m in self.messages)
        return f"{len(self.messages)} messages, {unread} unread"
