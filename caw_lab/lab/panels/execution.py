"""Run, suspend and resume the selected workflow, and see its execution: the executor's
state, the workflow's status, its agents and progress (workflow_start, workflow_suspend,
workflow_resume, workflow_execution_status).

workflow_start runs the executor in this process, the kernel's: its agents run while the
kernel lives, and a kernel shut down suspends them (runtimes/running.py).
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from caw_lab.errors import CawError
from caw_lab.lab.panels.base import Panel, fitted_html
from caw_lab.lab.render import badge, error_html, progress_bar
from caw_lab.tools.client import Client

FINISHED = ("completed", "abandoned")
BUTTON = {"width": "auto"}


class Execution(Panel):
    """Follows ``workflow_id`` (the Workbench's selection); ``status`` is the last execution status read."""

    title = "Run"
    workflow_id = Unicode(None, allow_none=True)

    def __init__(self, client: Client, workflow_id: str | None = None, **kwargs: Any) -> None:
        self.status: dict[str, Any] = {}
        self.workflow_status: str | None = None
        self.state = fitted_html()
        self.runtime = widgets.Text(placeholder="runtime (the workflow's)", layout={"flex": "1 1 120px",
                                                                                   "min_width": "0"})
        self.run = widgets.Button(description="Run", button_style="success", icon="play", layout=BUTTON)
        self.suspend = widgets.Button(description="Suspend", button_style="warning", icon="pause", layout=BUTTON)
        self.resume = widgets.Button(description="Resume", button_style="info", icon="play", layout=BUTTON)
        self.said = fitted_html()
        self.run.on_click(lambda _: self.act("workflow_start", "Started"))
        self.suspend.on_click(lambda _: self.act("workflow_suspend", "Suspended"))
        self.resume.on_click(lambda _: self.act("workflow_resume", "Resumed"))
        self.controls = widgets.HBox([self.runtime, self.run, self.suspend, self.resume],
                                     layout={"flex_flow": "row wrap", "min_width": "0", "align_items": "center"})
        super().__init__(client, **kwargs)
        self.body.children = [self.state, self.controls, self.said]
        self.workflow_id = workflow_id
        self.observe(lambda _: self.selected(), "workflow_id")
        self.refresh()

    def selected(self) -> None:
        self.said.value = ""
        self.refresh()

    def draw(self) -> None:
        if not self.workflow_id:
            self.status, self.workflow_status = {}, None
            self.state.value = "<i>Select a workflow to run it.</i>"
            self.controls.layout.display = "none"
            return
        self.workflow_status = self.client.call("workflow_get", id=self.workflow_id)["status"]
        self.status = self.client.call("workflow_execution_status", workflow_id=self.workflow_id)
        self.state.value = self.state_html()
        self.controls.layout.display = None
        self.offer()

    def state_html(self) -> str:
        s = self.status
        progress = s.get("progress") or {}
        running = sum(a.get("status") == "running" for a in s.get("agents") or [])
        dead = f" · <span style='color:#c62828'>{s['deadLetters']} dead-lettered</span>" if s.get("deadLetters") else ""
        runtime = f" · {escape(str(s['runtime']))}" if s.get("runtime") else ""
        agents = f"{running} agent{'s' * (running != 1)} running"
        return (
            f"<div class='caw-execution' style='line-height:1.6' data-status='{escape(str(s.get('status')))}'>"
            f"<div>Execution {badge(s.get('status'))} · workflow {badge(self.workflow_status)}{runtime}</div>"
            f"<div>{progress_bar(int(progress.get('completed') or 0), int(progress.get('totalTasks') or 0))} "
            f"· {agents}{dead}</div></div>"
        )

    def offer(self) -> None:
        """Only what can be done now: run when nothing runs, suspend while it runs, resume when paused."""
        state, wf = self.status.get("status"), self.workflow_status
        self.run.disabled = state == "running" or wf in FINISHED or wf == "paused"
        self.suspend.disabled = state != "running"
        self.resume.disabled = not (wf == "paused" and state != "running")

    def act(self, tool: str, done: str) -> bool:
        """One tool call; a refusal (no runtime, nothing ready, already running) is shown with its code."""
        params: dict[str, Any] = {"workflow_id": self.workflow_id}
        if tool == "workflow_start" and self.runtime.value.strip():
            params["runtime"] = self.runtime.value.strip()
        try:
            self.client.call(tool, **params)
        except CawError as err:
            self.said.value = error_html(err)
            self.refresh()
            return False
        self.said.value = f"<span style='color:var(--jp-success-color1, #1b5e20)'>{escape(done)}.</span>"
        self.refresh()
        return True

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return bool(self.workflow_id) and any(
            e.get("workflow_id") == self.workflow_id
            and str(e.get("kind", "")).startswith(("execution.", "workflow.", "task.")) for e in events
        )

    def describe(self) -> str:
        return f"execution {self.status.get('status')}" if self.status else "no workflow selected"
