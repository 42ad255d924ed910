"""``TimelineWidget(client, workflow_id)``: a workflow's tasks as bars over time, live, in one anywidget.

Each bar is one attempt at a task (``caw_lab.lab.timeline``), in its agent's lane, coloured
by status with the DAG's palette; a bar still running grows in the browser between
updates. The kernel follows the change feed as the DAG widget does and sends the bars
again whenever one opens, changes or closes. ``selected`` is the clicked bar's task, the
same selection as the DAG's, so the Workbench links the two.

Synced traits (kernel -> browser unless marked):

- ``bars``: ``TimelineColumns``, every bar of the workflow.
- ``now``: the kernel's clock (ms) when ``bars`` was sent, so running bars grow on the
  kernel's time, not the browser's.
- ``height``: pixels of the drawing area.
- ``selected`` (both ways): the selected task's id, or ``""``.

``extension/src/timeline.js`` is the browser's side.
"""

from __future__ import annotations

from typing import Any

import anywidget
from traitlets import Dict, Int, Unicode

from caw_lab.ids import now_ms
from caw_lab.lab.dag_widget import STATIC
from caw_lab.lab.feed import AgentNames, EventFeed
from caw_lab.lab.timeline import NO_AGENT, Timeline, read_history
from caw_lab.tools.client import Client


class TimelineWidget(anywidget.AnyWidget):
    """The timeline of ``workflow_id``. With ``live`` (the default) a thread follows the events
    feed every ``interval`` seconds; ``refresh()`` applies what is new at once; ``close()`` stops it."""

    _esm = STATIC / "timeline_widget.js"
    _css = STATIC / "dag_widget.css"

    bars = Dict().tag(sync=True)
    now = Int(0).tag(sync=True)
    height = Int(280).tag(sync=True)
    selected = Unicode("").tag(sync=True)

    def __init__(self, client: Client, workflow_id: str, *, live: bool = True, interval: float = 0.5,
                 height: int = 280, **kwargs: Any) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.names: dict[str, str] = {}
        self.agent_names = AgentNames(client)
        self.feed = EventFeed(client, interval)
        client.call("workflow_get", id=workflow_id)  # an unknown workflow is refused, not drawn empty
        self.timeline = Timeline(workflow_id)
        read_history(client, self.timeline, self.feed.cursor)
        super().__init__(height=height, **kwargs)
        self.publish()
        self.feed.subscribe(self.on_events)
        if live:
            self.feed.start()

    def refresh(self) -> None:
        """Apply every change made since the last look, now."""
        self.feed.poll()

    def on_events(self, events: list[dict[str, Any]]) -> None:
        if self.timeline.apply(events):
            self.publish()

    def publish(self) -> None:
        """Send the bars, naming first any task or agent not seen before."""
        bars = self.timeline.bars
        if any(b.task_id not in self.names for b in bars):
            tasks = self.client.call("workflow_get", id=self.workflow_id, include_tasks=True)["tasks"]
            self.names = {t["id"]: t["name"] for t in tasks}
        agents = {a: self.agent_names(a) for a in {b.agent for b in bars} - {NO_AGENT}}
        self.bars = dict(self.timeline.columns(self.names, agents))
        self.now = now_ms()

    def close(self) -> None:
        self.feed.stop()
        super().close()

    def __repr__(self) -> str:
        bars = self.timeline.bars
        running = sum(b.end is None for b in bars)
        return f"<caw_lab TimelineWidget: workflow {self.workflow_id}, {len(bars)} bars, {running} running>"
