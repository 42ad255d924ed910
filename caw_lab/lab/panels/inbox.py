"""The inbox: messages grouped into threads, for one agent or all of them; compose a
message, reply in a thread, mark a thread read. Agents are shown and chosen by name.

Messages go agent to agent (message_send needs a registered sender), so the person at
the notebook sends as the notebook's own agent (``session.NOTEBOOK_AGENT``, the magics'
own when the Workbench uses their database; registered on first send) or as any agent
they pick. A reply goes from the one who was asked to the one who asked, as the web
dashboard's does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from html import escape
from typing import Any

import ipywidgets as widgets

from caw_lab.errors import CawError
from caw_lab.lab.panels.base import Panel, agent_names, fitted_html, kinds_start
from caw_lab.lab.render import age, badge, error_html
from caw_lab.lab.session import NOTEBOOK_AGENT
from caw_lab.tools.client import Client

MESSAGES = 200
"""The newest messages read; their threads are shown, newest first."""
THREADS = 20
ALL = ""
"""The agent chooser's value for every agent's threads."""
YOU = ""
"""The sender chooser's value for the notebook's own agent."""
TYPES = ("query", "status_update", "task_assignment", "response")
FIELD = {"width": "auto", "max_width": "100%", "flex": "1 1 auto"}
LABEL = {"description_width": "60px"}
"""Short labels, so a phone-width inbox leaves the inputs most of its width."""
BODY = "white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0 6px; font-size: 13px;"
MESSAGE = "line-height: 1.4; min-width: 0;"


def said_ok(text: str) -> str:
    return f"<span style='color:var(--jp-success-color1, #1b5e20)'>{escape(text)}</span>"


def body_text(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body, indent=1, default=str)


class ThreadView(widgets.VBox):
    """One thread: its messages oldest first, a button to mark it read and a reply box.

    Kept between redraws and updated in place, so a reply being typed survives new messages."""

    def __init__(self, thread_id: str, on_reply: Callable[[ThreadView], None],
                 on_read: Callable[[ThreadView], None]) -> None:
        self.thread_id = thread_id
        self.messages: list[dict[str, Any]] = []
        self.unread: list[str] = []
        self.head = widgets.HTML()
        self.listing = fitted_html()
        self.mark_read = widgets.Button(layout={"width": "auto"})
        self.text = widgets.Textarea(placeholder="Reply…", rows=2, layout={"flex": "1 1 160px", "min_width": "0"})
        self.reply = widgets.Button(description="Reply", button_style="primary", layout={"width": "auto"})
        self.said = fitted_html()
        self.mark_read.on_click(lambda _: on_read(self))
        self.reply.on_click(lambda _: on_reply(self))
        row = {"flex_flow": "row wrap", "align_items": "flex-start", "min_width": "0", "width": "100%"}
        top = widgets.HBox([self.head, self.mark_read], layout={**row, "justify_content": "space-between"})
        answer = widgets.HBox([self.text, self.reply], layout=row)
        self.parts = [self.head, self.mark_read, top, self.listing, self.text, self.reply, answer, self.said]
        super().__init__([top, self.listing, answer, self.said],
                         layout={"border_top": "1px solid #d0d7de", "padding": "4px 0", "min_width": "0",
                                 "width": "100%"})
        self.add_class("caw-thread")

    def close(self) -> None:
        """Its widgets too: closing a box leaves its children's comms open."""
        for part in self.parts:
            part.close()
        super().close()

    def update(self, messages: list[dict[str, Any]], names: dict[str, str], viewer: str) -> None:
        """``messages`` oldest first; unread means unread by the viewer (by anyone, for every agent)."""
        self.messages = messages
        self.unread = [m["id"] for m in messages if m["status"] == "unread" and viewer in (ALL, m["recipient_id"])]
        first = messages[0]
        count = f"{len(messages)} message{'s' * (len(messages) != 1)}"
        self.head.value = (f"<b>{escape(first.get('subject') or '(no subject)')}</b> "
                           f"<span style='color:#757575; font-size:11px'>{count}</span>")
        self.mark_read.description = f"Mark {len(self.unread)} read" if self.unread else "Read"
        self.mark_read.disabled = not self.unread
        self.show(names)

    def show(self, names: dict[str, str]) -> None:
        """Drawn again by the clock, so each "3s ago" keeps counting."""
        name = lambda agent_id: escape(names.get(agent_id or "", agent_id or "?"))  # noqa: E731
        self.listing.value = "".join(
            f"<div class='caw-message' style='{MESSAGE}' data-status='{escape(m['status'])}'>"
            f"<div style='color:#57606a; font-size:11px'>{name(m.get('sender_id'))} &#8594; "
            f"{name(m.get('recipient_id'))} · {escape(m.get('message_type') or '')} · {age(m.get('created_at'))} "
            f"{badge(m['status']) if m['status'] == 'unread' else ''}</div>"
            f"<div class='caw-message-body' style='{BODY}'>{escape(body_text(m.get('body')))}</div></div>"
            for m in self.messages
        )

    def __repr__(self) -> str:
        return f"<caw_lab ThreadView: {len(self.messages)} messages, {len(self.unread)} unread>"


class Compose(widgets.VBox):
    """From, to (agents by name), type, subject and body; ``Send`` hands them to the Inbox."""

    def __init__(self, on_send: Callable[[Compose], None]) -> None:
        self.sender = widgets.Dropdown(description="From", style=LABEL, layout=FIELD)
        self.recipient = widgets.Dropdown(description="To", style=LABEL, layout=FIELD)
        self.message_type = widgets.Dropdown(options=TYPES, value="query", description="Type", style=LABEL,
                                             layout=FIELD)
        self.subject = widgets.Text(description="Subject", style=LABEL, layout=FIELD)
        self.body = widgets.Textarea(description="Message", rows=3, style=LABEL, layout=FIELD)
        self.send = widgets.Button(description="Send", button_style="primary", icon="paper-plane",
                                   layout={"width": "auto"})
        self.said = fitted_html()
        self.send.on_click(lambda _: on_send(self))
        super().__init__([self.sender, self.recipient, self.message_type, self.subject, self.body, self.send,
                          self.said], layout={"min_width": "0", "width": "100%"})
        self.add_class("caw-compose")

    def offer(self, agents: list[tuple[str, str]]) -> None:
        """Agents as ``(name, id)``; what was chosen stays chosen while its agent is there."""
        for chooser, extra in ((self.sender, [("you (this notebook)", YOU)]), (self.recipient, [])):
            options = tuple(extra + agents)
            if options != tuple(chooser.options):
                keep = chooser.value
                chooser.options = options
                values = [v for _, v in options]
                chooser.value = keep if keep in values else (values[0] if values else None)

    def __repr__(self) -> str:
        return "<caw_lab Compose>"


class Inbox(Panel):
    """``agent.value`` is whose threads are shown (an agent's id, or every agent's)."""

    title = "Inbox"

    def __init__(self, client: Client, agent_id: str | None = None, *,
                 notebook_agent: Callable[[], str] | None = None, **kwargs: Any) -> None:
        self.register_me = notebook_agent or self.register_notebook_agent
        self.messages: list[dict[str, Any]] = []
        self.unread_count = 0
        self.names: dict[str, str] = {}
        self.views: dict[str, ThreadView] = {}
        self.me: str | None = None
        self.agent = widgets.Dropdown(description="Inbox of", options=[("every agent", ALL)], value=ALL,
                                      style={"description_width": "initial"},
                                      layout={"width": "auto", "max_width": "100%"})
        self.summary = widgets.HTML()
        self.compose = Compose(self.send)
        self.composer = widgets.Accordion([self.compose], titles=("Compose",), selected_index=None,
                                          layout={"min_width": "0", "width": "100%"})
        self.threads = widgets.VBox(layout={"min_width": "0", "width": "100%"})
        super().__init__(client, **kwargs)
        self.body.children = [widgets.HBox([self.agent, self.summary], layout={"flex_flow": "row wrap",
                                                                              "align_items": "center"}),
                              self.composer, self.threads]
        self.wanted = agent_id
        self._syncing = False
        self.agent.observe(lambda _: self._syncing or self.refresh(), "value")
        self.refresh()

    @property
    def viewer(self) -> str:
        return self.agent.value or ALL

    def draw(self) -> None:
        self.sync_agents()
        listed = self.client.call("message_list", limit=MESSAGES)
        threads: dict[str, list[dict[str, Any]]] = {}
        for m in reversed(listed["messages"]):  # oldest first within each thread
            threads.setdefault(m.get("thread_id") or m["id"], []).append(m)
        viewer = self.viewer
        mine = [(key, ms) for key, ms in threads.items()
                if viewer == ALL or any(viewer in (m["sender_id"], m["recipient_id"]) for m in ms)]
        mine = sorted(mine, key=lambda kv: kv[1][-1]["created_at"], reverse=True)[:THREADS]
        self.messages = [m for _, ms in mine for m in ms]
        params = {"agent_id": viewer} if viewer != ALL else {}
        self.unread_count = int(self.client.call("message_count_unread", **params)["count"])
        views = {key: self.views.get(key) or ThreadView(key, self.reply, self.mark_read) for key, _ in mine}
        for key, ms in mine:
            views[key].update(ms, self.names, viewer)
        for key, gone in self.views.items():
            if key not in views:
                gone.close()  # its widgets' comms too, or every thread ever shown would stay open
        self.views = views
        self.threads.children = list(views.values()) or [widgets.HTML("<i>No messages.</i>")]
        self.summary.value = (f"<span class='caw-unread-count' style='font-size:12px; color:#57606a'>"
                              f"{self.unread_count} unread</span>")

    def sync_agents(self) -> None:
        """Offer every agent by name, keeping the one being read (or the one asked for) selected."""
        agents = self.client.call("agent_list")["agents"]
        self.names = agent_names(agents)
        by_name = [(self.names[a["id"]], a["id"]) for a in agents]
        self.compose.offer([pair for pair in by_name if pair[1] != self.me])
        options = (("every agent", ALL), *by_name)
        if options == tuple(self.agent.options):
            return
        chosen = self.agent.value or self.wanted
        self._syncing = True
        try:
            self.agent.options = options
            self.agent.value = chosen if chosen in self.names else ALL
        finally:
            self._syncing = False

    def notebook_agent(self) -> str:
        """The agent that stands for the person here, registered on first need."""
        if self.me is None:
            self.me = self.register_me()
        return self.me

    def register_notebook_agent(self) -> str:
        return str(self.client.call("agent_register", **NOTEBOOK_AGENT, metadata={"pid": os.getpid()})["id"])

    def send(self, form: Compose) -> str | None:
        """One message_send from the compose form; returns the message's id, or None (the reason shown)."""
        body = form.body.value.strip()
        if not body:
            form.said.value = error_html(CawError("INVALID_INPUT", "The message is empty", recoverable=True,
                                                  suggestion="Write the message, then Send."))
            return None
        try:
            sender = form.sender.value or self.notebook_agent()
            sent = self.client.call("message_send", sender_id=sender, recipient_id=form.recipient.value or "",
                                    message_type=form.message_type.value, body=body,
                                    subject=form.subject.value.strip() or None)
        except CawError as err:
            form.said.value = error_html(err)
            return None
        form.body.value = form.subject.value = ""
        form.said.value = said_ok(f"Sent to {self.names.get(form.recipient.value, form.recipient.value)}.")
        self.refresh()
        return str(sent["id"])

    def reply(self, view: ThreadView) -> str | None:
        """Answer the thread's newest message: from the viewer if they wrote it, else from its recipient."""
        body = view.text.value.strip()
        if not body:
            view.said.value = error_html(CawError("INVALID_INPUT", "The reply is empty", recoverable=True,
                                                  suggestion="Write the reply, then press Reply."))
            return None
        last = view.messages[-1]
        following_up = self.viewer != ALL and last["sender_id"] == self.viewer
        sender, recipient = ((last["sender_id"], last["recipient_id"]) if following_up
                             else (last["recipient_id"], last["sender_id"]))
        try:
            sent = self.client.call("message_send", sender_id=sender, recipient_id=recipient,
                                    message_type="response", body=body, subject=view.messages[0].get("subject"),
                                    reply_to_id=last["id"], workflow_id=last.get("workflow_id"),
                                    task_id=last.get("task_id"))
        except CawError as err:
            view.said.value = error_html(err)
            return None
        view.text.value = ""
        view.said.value = said_ok(f"Replied to {self.names.get(recipient, recipient)}.")
        self.refresh()
        return str(sent["id"])

    def mark_read(self, view: ThreadView) -> int:
        """The thread's messages unread by the viewer become read; returns how many did."""
        if not view.unread:
            return 0
        try:
            updated = int(self.client.call("message_mark_read", message_ids=view.unread)["updated"])
        except CawError as err:
            view.said.value = error_html(err)
            return 0
        self.refresh()
        return updated

    def tick(self) -> None:
        with self._drawing:
            for view in self.views.values():
                view.show(self.names)

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return kinds_start(events, "message.", "agent.registered", "agent.unregistered", "agent.updated")

    def describe(self) -> str:
        return f"{len(self.messages)} messages, {self.unread_count} unread"
