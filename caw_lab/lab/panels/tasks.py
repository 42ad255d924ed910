"""A workflow's tasks as a compact list, in plan order, each a button that selects it.

It has the DAG widget's ``selected`` contract (a task id, ``""`` for none), so the
Workbench treats both alike; it is the view used when the DAG widget's front end is not
installed.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from caw_lab.client import Client
from caw_lab.lab.panels.base import Panel

BUTTON_STYLES = {"completed": "success", "in_progress": "info", "failed": "danger", "paused": "warning",
                 "planning": "info"}


class TaskList(Panel):
    title = "Tasks"
    selected = Unicode("")

    def __init__(self, client: Client, workflow_id: str, **kwargs: Any) -> None:
        self.workflow_id = workflow_id
        self.tasks: list[dict[str, Any]] = []
        super().__init__(client, **kwargs)
        self.observe(lambda _: self.highlight(), "selected")
        self.refresh()

    def draw(self) -> None:
        self.tasks = self.client.call("workflow_get", id=self.workflow_id, include_tasks=True)["tasks"]
        self.body.children = [self.button(t) for t in self.tasks] or [widgets.HTML("<i>No plan yet.</i>")]

    def button(self, task: dict[str, Any]) -> widgets.Button:
        button = widgets.Button(description=f"{task['sequence']}. {task['name']} · {task['status']}",
                                tooltip=task["id"], button_style=BUTTON_STYLES.get(task["status"], ""),
                                layout={"width": "100%"})
        button.on_click(lambda _: setattr(self, "selected", task["id"]))
        if task["id"] == self.selected:
            button.icon = "check"
        return button

    def highlight(self) -> None:
        for button in self.body.children:
            if isinstance(button, widgets.Button):
                button.icon = "check" if button.tooltip == self.selected else ""

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return any(e.get("workflow_id") == self.workflow_id for e in events)

    def describe(self) -> str:
        done = sum(t["status"] in ("completed", "skipped") for t in self.tasks)
        return f"{done}/{len(self.tasks)} tasks done"
