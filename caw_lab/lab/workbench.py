"""``caw_lab.Workbench``: workflows, run/suspend/resume, the live DAG and its timeline (two
tabs), task detail with its agent's log, agents, inbox and the workflow form in one widget,
all kept current by one follower of the change feed, and a clock that keeps their relative
times counting."""

from __future__ import annotations

import os
from html import escape
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from caw_lab.lab.dag_widget import DagWidget
from caw_lab.lab.feed import Clock, EventFeed
from caw_lab.lab.panels import Agents, Execution, Inbox, Panel, TaskDetail, WorkflowForm, WorkflowList
from caw_lab.lab.panels.base import PANEL_LAYOUT
from caw_lab.lab.session import current
from caw_lab.lab.timeline_widget import TimelineWidget
from caw_lab.tools.client import Client, connect

ROW = {"flex_flow": "row wrap", "align_items": "stretch", "width": "100%"}
GRAPH = {"flex": "4 1 480px", "min_width": "0", "max_width": "100%", "margin": "2px"}
SIDE = {"flex": "1 1 240px", "min_width": "0", "max_width": "100%"}
GRAPH_HEIGHT = 440
"""The DAG gets the wide slot beside the workflow list and run controls; task detail, agents,
inbox and the form share the row below, each wrapping under the others when the output area
is narrow (below about 720 px every panel takes the whole width, one under another)."""
TICK_SECONDS = 5.0
"""How often relative times ("3s ago") are drawn again: never more than this stale, and one
small message per panel at most (a text that did not change is not sent)."""


def open_client(db: Client | str | os.PathLike[str] | None) -> Client:
    """A client as given, a path opened, or (None) the database ``%caw use`` chose."""
    if isinstance(db, Client):
        return db
    return current().client if db is None else connect(db)


class Workbench(widgets.VBox):
    """Select a workflow in the list (or pass ``workflow_id``); select a task in the DAG.

    ``workflow_id`` and ``task_id`` are the selection, readable and settable from Python.
    With ``live`` (the default) a background thread follows the events feed; ``refresh()``
    reads it at once, and ``close()`` stops following.
    """

    workflow_id = Unicode(None, allow_none=True)
    task_id = Unicode(None, allow_none=True)

    def __init__(self, db: Client | str | os.PathLike[str] | None = None, workflow_id: str | None = None, *,
                 live: bool = True, interval: float = 0.5, tick: float = TICK_SECONDS) -> None:
        self.client = open_client(db)
        self._owns_client = db is not None and not isinstance(db, Client)
        self.feed = EventFeed(self.client, interval)
        self.clock = Clock(self.tick, tick)
        self.workflows = WorkflowList(self.client, layout={**PANEL_LAYOUT, "flex": "0 0 auto"})
        self.execution = Execution(self.client, layout={**PANEL_LAYOUT, "flex": "0 0 auto"})
        self.detail = TaskDetail(self.client)
        self.agents = Agents(self.client)
        self.inbox = Inbox(self.client, notebook_agent=current().notebook_agent if db is None else None)
        self.form = WorkflowForm(self.client)
        self.graph: DagWidget | None = None
        self.timeline: TimelineWidget | None = None
        self.graph_slot = widgets.Box(layout=GRAPH)
        header = widgets.HTML(f"<b>caw-lab workbench</b> <span class='caw-workbench-db' style='color:#757575; "
                              f"font-size:12px; overflow-wrap:anywhere'>{escape(self.client.db.url)}</span>",
                              layout={"min_width": "0", "max_width": "100%"})
        super().__init__([
            header,
            widgets.Box([widgets.VBox([self.workflows, self.execution], layout=SIDE), self.graph_slot], layout=ROW),
            widgets.Box([self.detail, self.agents, self.inbox, self.form], layout=ROW),
        ], layout={"width": "100%", "max_width": "100%"})
        self.add_class("caw-workbench")
        self.workflows.observe(lambda c: self.select_workflow(c["new"]), "selected")
        self.form.observe(lambda c: self.select_workflow(c["new"], refresh=True), "created")
        self.observe(lambda _: self.show_workflow(), "workflow_id")
        self.observe(lambda c: self.show_task(c["new"]), "task_id")
        self.feed.subscribe(self.on_events)
        self.workflow_id = workflow_id or self.newest_workflow()
        if self.workflow_id is None:
            self.show_workflow()
        if live:
            self.feed.start()
            self.clock.start()

    @property
    def panels(self) -> list[Panel]:
        return [self.workflows, self.execution, self.detail, self.agents, self.inbox, self.form]

    def tick(self) -> None:
        """The clock's call: every panel draws its relative times again."""
        for panel in self.panels:
            panel.tick()

    def newest_workflow(self) -> str | None:
        listed = self.client.call("workflow_list", limit=1)["workflows"]
        return listed[0]["id"] if listed else None

    def select_workflow(self, workflow_id: str | None, refresh: bool = False) -> None:
        """``refresh`` first reads the feed, so a workflow just created is in the list it selects in."""
        if refresh:
            self.refresh()
        if workflow_id:
            self.workflow_id = workflow_id

    def show_workflow(self) -> None:
        """Swap in the graph of the selected workflow and point every panel at it."""
        for view in (self.graph, self.timeline):
            if view is not None:
                view.close()
        self.task_id = None
        self.workflows.selected = self.workflow_id
        self.form.workflow_id = self.execution.workflow_id = self.workflow_id
        if not self.workflow_id:
            self.graph = self.timeline = None
            self.graph_slot.children = [widgets.HTML("<i>Create or select a workflow to see its tasks.</i>")]
            return
        self.graph = DagWidget(self.client, self.workflow_id, live=False, height=GRAPH_HEIGHT, details=False)
        self.graph.layout.width = "100%"
        self.graph.observe(lambda c: setattr(self, "task_id", c["new"] or None), "selected")
        self.timeline = TimelineWidget(self.client, self.workflow_id, live=False, height=GRAPH_HEIGHT)
        self.timeline.layout.width = "100%"
        self.timeline.observe(lambda c: setattr(self, "task_id", c["new"] or None), "selected")
        views = widgets.Tab([self.graph, self.timeline], titles=("Graph", "Timeline"), layout={"width": "100%"})
        views.add_class("caw-workbench-views")
        self.graph_slot.children = [views]

    def show_task(self, task_id: str | None) -> None:
        """Set from a click in the graph or from Python: the detail panel and the graph agree."""
        self.detail.task_id = task_id
        for view in (self.graph, self.timeline):
            if view is not None and view.selected != (task_id or ""):
                view.selected = task_id or ""

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """One feed for the whole Workbench: the graph follows it too, rather than polling on its own."""
        views = [v for v in (self.graph, self.timeline) if v is not None]
        for listener in [*self.panels, *views]:
            listener.on_events(events)
        if self.workflow_id is None:
            self.select_workflow(self.newest_workflow())

    def refresh(self) -> list[dict[str, Any]]:
        """Apply what happened since the last look now, without waiting for the follower."""
        return self.feed.poll()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        """The live Workbench, plus the selected workflow's graph as a still picture for saved notebooks."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None and self.graph is not None:
            data["image/svg+xml"] = self.graph.image()
        return data

    def close(self) -> None:
        """Stop following the feed (and close the database if this Workbench opened it)."""
        self.feed.stop()
        self.clock.stop()
        for view in (self.graph, self.timeline):
            if view is not None:
                view.close()
        if self._owns_client:
            self.client.close()
        super().close()

    def __repr__(self) -> str:
        shown = self.form.workflow.get("name")
        workflow = f"workflow {shown!r}" if shown else "no workflow"
        task = f", task {self.detail.task['name']!r}" if self.detail.task else ""
        return f"<caw_lab Workbench: {self.workflows.describe()}, {workflow} selected{task}>"
