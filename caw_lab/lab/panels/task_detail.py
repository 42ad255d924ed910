"""One task in full: plan, checkpoints as a timeline, outcome, the context an agent would
load for it with that context's exact token count, the status moves a person may make,
and the tail of its agent's log (task_logs), followed while the task is being worked on."""

from __future__ import annotations

import json
from html import escape
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from caw_lab.errors import CawError
from caw_lab.lab.dag_widget import offered_transitions
from caw_lab.lab.panels.base import Panel, fitted_html
from caw_lab.lab.render import error_html, pre, task_html
from caw_lab.tools.client import Client

PREVIEW_CHARS = 1200
LOG_BYTES = 4096
"""The log tail shown: the end of the latest attempt's output (task_logs pages through the rest)."""
WORKED_ON = ("planning", "in_progress")
"""While a task is in these, the clock reads its log again: agents' output is not an event."""
LINES = "line-height: 1.4;"
LOG_BOX = ("white-space: pre-wrap; overflow-wrap: anywhere; max-height: 220px; overflow-y: auto; margin: 2px 0; "
           "font-size: 11px; background: var(--jp-layout-color2, #f6f8fa); padding: 4px;")
NEEDS_TEXT = {"completed": "outcome", "failed": "error"}
"""Moves that must say why: the text box asks for it."""


class TaskDetail(Panel):
    """Shows the task whose id is in ``task_id``; set it (or link it to the DAG's ``selected``)."""

    title = "Task"
    task_id = Unicode(None, allow_none=True)

    def __init__(self, client: Client, task_id: str | None = None, max_tokens: int = 2000, **kwargs: Any) -> None:
        self.max_tokens = max_tokens
        self.task: dict[str, Any] = {}
        self.token_estimate: int | None = None
        self.agent_names: dict[str, str] = {}
        self.detail = fitted_html()
        self.context = fitted_html()
        self.log_view = fitted_html()
        self.log_view.add_class("caw-log")
        self.move = widgets.Dropdown(description="", layout={"width": "130px"})
        self.why = widgets.Text(placeholder="outcome", layout={"flex": "1 1 100px", "min_width": "0"})
        self.apply = widgets.Button(description="Set status", layout={"width": "auto"})
        self.retry = widgets.Button(description="Retry", button_style="primary", layout={"width": "auto"})
        self.said = fitted_html()
        self.actions = widgets.HBox([self.move, self.why, self.apply, self.retry],
                                    layout={"flex_flow": "row wrap", "min_width": "0"})
        self.actions.add_class("caw-task-actions")
        self.apply.on_click(lambda _: self.set_status(self.move.value, self.why.value.strip()))
        self.retry.on_click(lambda _: self.set_status("pending", ""))
        self.move.observe(lambda _: self.ask_why(), "value")
        super().__init__(client, **kwargs)
        self.body.children = [self.detail, self.actions, self.said, self.context, self.log_view]
        self.task_id = task_id
        self.observe(lambda _: self.refresh(), "task_id")
        self.refresh()

    def draw(self) -> None:
        if not self.task_id:
            self.task, self.token_estimate = {}, None
            self.detail.value = "<i>Select a task in the DAG to see its plan, checkpoints and context.</i>"
            self.context.value = self.log_view.value = ""
            self.actions.layout.display = "none"
            return
        self.task = self.client.call("task_get", id=self.task_id, include_checkpoints=True)
        self.detail.value = task_html(self.task)
        self.show_moves(self.task["status"])
        self.context.value = self.context_preview()
        self.log_view.value = self.log_tail()

    def log_tail(self) -> str:
        """The end of the latest attempt's output, or why there is none; a log that cannot be read
        is said so in place, and the rest of the detail still shows."""
        try:
            logs = self.client.call("task_logs", task_id=self.task_id, offset=-LOG_BYTES, max_bytes=LOG_BYTES)
        except CawError as err:
            return error_html(err)
        if logs["attempt"] is None:
            return (f"<div class='caw-log-empty' style='color:#757575; {LINES}'><b>Agent log</b>: no log yet. It "
                    "appears here when an agent runs this task (Run, or workflow_start).</div>")
        agent = self.agent_name(logs["agent_id"])
        cut = f", the last {logs['next_offset'] - logs['offset']:,} shown" if logs["offset"] > 0 else ""
        text = logs["text"] or "(nothing written yet)"
        return (f"<details class='caw-log-tail' open style='{LINES}'><summary><b>Agent log</b>: attempt "
                f"{logs['attempt']} of {len(logs['attempts'])}, {escape(agent)}, {logs['size']:,} bytes{cut}</summary>"
                f"<pre style='{LOG_BOX}'>{escape(text)}</pre></details>")

    def agent_name(self, agent_id: str | None) -> str:
        """Read once per agent (names do not change); one gone since shows its id."""
        if not agent_id:
            return "no agent"
        if agent_id not in self.agent_names:
            try:
                self.agent_names[agent_id] = str(self.client.call("agent_get", id=agent_id)["name"])
            except CawError:
                return agent_id
        return self.agent_names[agent_id]

    def tick(self) -> None:
        """Ages in the checkpoint timeline count on; a task being worked on has its log read again."""
        with self._drawing:
            if not self.task:
                return
            self.detail.value = task_html(self.task)
            if self.task.get("status") in WORKED_ON:
                self.log_view.value = self.log_tail()

    def show_moves(self, status: str) -> None:
        """Only the moves the task can take now; none while it waits for its dependencies."""
        moves = offered_transitions().get(status, [])
        self.move.options = [(m.replace("_", " "), m) for m in moves]
        self.move.value = moves[0] if moves else None
        self.move.layout.display = self.apply.layout.display = None if moves else "none"
        self.retry.layout.display = None if status == "failed" else "none"
        self.actions.layout.display = None if moves or status == "failed" else "none"
        self.ask_why()

    def ask_why(self) -> None:
        needed = NEEDS_TEXT.get(self.move.value or "")
        self.why.layout.display = None if needed else "none"
        self.why.placeholder = needed or ""

    def set_status(self, status: str, why: str) -> None:
        """One ``task_update_status`` call; a refusal is shown under the buttons, readable."""
        params: dict[str, Any] = {"id": self.task_id, "status": status}
        if NEEDS_TEXT.get(status) and why:
            params[NEEDS_TEXT[status]] = why
        try:
            self.client.call("task_update_status", **params)
        except CawError as err:
            self.said.value = error_html(err)
            return
        self.said.value = f"<span style='color:var(--jp-success-color1, #1b5e20)'>Now {escape(status)}.</span>"
        self.why.value = ""
        self.refresh()

    def context_preview(self) -> str:
        """Its own error box: a task whose context cannot load still shows its checkpoints."""
        try:
            ctx = self.client.call("task_load_context", task_id=self.task_id, max_tokens=self.max_tokens)
        except CawError as err:
            self.token_estimate = None
            return error_html(err)
        self.token_estimate = ctx.get("token_estimate")
        text = json.dumps({k: v for k, v in ctx.items() if k != "token_estimate"}, indent=1, default=str)
        clipped = text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "\n..."
        return (
            f"<details class='caw-context'><summary><b>Context</b>: {escape(str(self.token_estimate))} tokens "
            f"(budget {self.max_tokens})</summary>{pre(clipped)}</details>"
        )

    def wants(self, events: list[dict[str, Any]]) -> bool:
        """Its own events, and its workflow's: a sibling finishing changes this task's context."""
        workflow = self.task.get("workflow_id")
        return bool(self.task_id) and any(
            e.get("task_id") == self.task_id or (workflow and e.get("workflow_id") == workflow) for e in events
        )

    def describe(self) -> str:
        if not self.task:
            return "no task selected"
        checkpoints = len(self.task.get("checkpoints") or [])
        return f"{self.task.get('name')} ({self.task.get('status')}, {checkpoints} checkpoints)"
