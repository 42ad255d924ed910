"""The workflow list: one row per workflow with its progress; clicking a row selects it."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from caw_lab.lab.panels.base import Panel, kinds_start
from caw_lab.lab.render import badge
from caw_lab.tools.client import Client


class WorkflowRow(widgets.HBox):
    """Kept between refreshes and updated in place, so the progress bar moves instead of blinking.

    The name takes the first line and status, bar and count the second, at any width."""

    def __init__(self, workflow: dict[str, Any], on_pick: Any) -> None:
        self.workflow_id = workflow["id"]
        self.pick = widgets.Button(tooltip=self.workflow_id, layout={"flex": "1 1 100%", "min_width": "0"})
        self.pick.on_click(lambda _: on_pick(self.workflow_id))
        self.status = widgets.HTML()
        self.bar = widgets.IntProgress(min=0, layout={"flex": "1 1 80px", "min_width": "40px", "width": "auto"})
        self.count = widgets.Label()
        super().__init__([self.pick, self.status, self.bar, self.count],
                         layout={"flex_flow": "row wrap", "align_items": "center", "width": "100%"})
        self.update(workflow)

    def update(self, workflow: dict[str, Any]) -> None:
        done, total = int(workflow.get("completed_count") or 0), int(workflow.get("task_count") or 0)
        self.pick.description = workflow["name"]
        self.status.value = badge(workflow["status"])
        self.bar.max = max(total, 1)
        self.bar.value = done
        self.bar.bar_style = "success" if total and done == total else "info"
        self.count.value = f"{done}/{total}"

    def highlight(self, on: bool) -> None:
        self.pick.button_style = "primary" if on else ""

    def __repr__(self) -> str:
        return f"<caw_lab WorkflowRow: {self.pick.description} {self.count.value}>"


class WorkflowList(Panel):
    """``selected`` is the id of the workflow picked here (the Workbench follows it)."""

    title = "Workflows"
    selected = Unicode(None, allow_none=True)

    def __init__(self, client: Client, limit: int = 20, **kwargs: Any) -> None:
        self.limit = limit
        self.rows: dict[str, WorkflowRow] = {}
        self.total = 0
        super().__init__(client, **kwargs)
        self.observe(lambda _: self.highlight(), "selected")
        self.refresh()

    def draw(self) -> None:
        listed = self.client.call("workflow_list", limit=self.limit)
        self.total = listed["total"]
        rows = []
        for wf in listed["workflows"]:
            row = self.rows.get(wf["id"])
            if row is None:
                row = self.rows[wf["id"]] = WorkflowRow(wf, self.pick)
            else:
                row.update(wf)
            rows.append(row)
        self.rows = {r.workflow_id: r for r in rows}
        empty = [widgets.HTML("<i>No workflows yet: create one below or with %caw new.</i>")]
        self.body.children = rows or empty
        self.highlight()

    def pick(self, workflow_id: str) -> None:
        self.selected = workflow_id

    def highlight(self) -> None:
        for wf_id, row in self.rows.items():
            row.highlight(wf_id == self.selected)

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return kinds_start(events, "workflow.", "task.", "template.")

    def describe(self) -> str:
        return f"{len(self.rows)} of {self.total} workflows"
