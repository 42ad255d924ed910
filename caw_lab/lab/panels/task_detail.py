"""One task in full: plan, checkpoints as a timeline, outcome, and the context an agent
would load for it with that context's exact token count."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from traitlets import Unicode

from caw_lab.errors import CawError
from caw_lab.lab.panels.base import Panel, fitted_html
from caw_lab.lab.render import error_html, pre, task_html
from caw_lab.tools.client import Client

PREVIEW_CHARS = 1200


class TaskDetail(Panel):
    """Shows the task whose id is in ``task_id``; set it (or link it to the DAG's ``selected``)."""

    title = "Task"
    task_id = Unicode(None, allow_none=True)

    def __init__(self, client: Client, task_id: str | None = None, max_tokens: int = 2000, **kwargs: Any) -> None:
        self.max_tokens = max_tokens
        self.task: dict[str, Any] = {}
        self.token_estimate: int | None = None
        self.detail = fitted_html()
        self.context = fitted_html()
        super().__init__(client, **kwargs)
        self.body.children = [self.detail, self.context]
        self.task_id = task_id
        self.observe(lambda _: self.refresh(), "task_id")
        self.refresh()

    def draw(self) -> None:
        if not self.task_id:
            self.task, self.token_estimate = {}, None
            self.detail.value = "<i>Select a task in the DAG to see its plan, checkpoints and context.</i>"
            self.context.value = ""
            return
        self.task = self.client.call("task_get", id=self.task_id, include_checkpoints=True)
        self.detail.value = task_html(self.task)
        self.context.value = self.context_preview()

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
