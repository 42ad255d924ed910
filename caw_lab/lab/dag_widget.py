"""``DagWidget(client, workflow_id)``: a workflow's DAG, live and editable, in one anywidget.

The browser draws the graph (extension/src, bundled into caw_lab/static); the kernel
follows the change feed in a background thread and sends only what changed, so work done
by any process (another kernel, an MCP agent, the CLI) shows within a second. Every edit
made in the browser is a tool call through the registry, under the same rules as over
MCP; a refusal comes back as the CawError's message, shown in the widget.
The traits and messages are written down in ``caw_lab.lab.dag_state``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
from traitlets import Bool, Dict, Int, Unicode

from caw_lab.engine.states import DONE_TASK_STATUSES, TASK_TRANSITIONS
from caw_lab.errors import CawError
from caw_lab.lab.dag_image import dag_svg
from caw_lab.lab.dag_source import DagSource
from caw_lab.lab.dag_state import Dag, Reply
from caw_lab.lab.feed import EventFeed
from caw_lab.tools.client import Client

STATIC = Path(__file__).resolve().parents[1] / "static"
log = logging.getLogger(__name__)

Edit = Callable[["DagWidget", dict[str, Any]], tuple[str, dict[str, Any], str]]


def add_task(w: DagWidget, a: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    params = {k: a[k] for k in ("name", "parallel_group", "depends_on") if a.get(k)}
    return "workflow_add_task", {"workflow_id": w.workflow_id, **params}, f"Added task {a.get('name')!r}"


def add_dependency(w: DagWidget, a: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    params = {"task_id": a.get("task_id"), "depends_on_id": a.get("depends_on_id")}
    return "task_add_dependency", params, f"{w.name(params['task_id'])} now waits for {w.name(params['depends_on_id'])}"


def remove_dependency(w: DagWidget, a: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    params = {"task_id": a.get("task_id"), "depends_on_id": a.get("depends_on_id")}
    done = f"{w.name(params['task_id'])} no longer waits for {w.name(params['depends_on_id'])}"
    return "task_remove_dependency", params, done


def set_status(w: DagWidget, a: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    params = {k: a[k] for k in ("id", "status", "outcome", "error") if a.get(k)}
    return "task_update_status", params, f"{w.name(a.get('id'))} is now {a.get('status')}"


def retry(w: DagWidget, a: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    return "task_update_status", {"id": a.get("id"), "status": "pending"}, f"{w.name(a.get('id'))} will be retried"


EDITS: dict[str, Edit] = {
    "add_task": add_task, "add_dependency": add_dependency, "remove_dependency": remove_dependency,
    "set_status": set_status, "retry": retry,
}
"""Browser edit action -> the tool call it makes (only the arguments named here pass through)."""


def offered_transitions() -> dict[str, list[str]]:
    """The status moves a person may pick. ``blocked`` is derived from unfinished dependencies,
    so no move out of it can succeed until they finish (the task then reads ``pending``)."""
    return {status: [] if status == "blocked" else list(moves) for status, moves in TASK_TRANSITIONS.items()}


class DagWidget(anywidget.AnyWidget):
    """The live DAG of ``workflow_id``. ``selected`` is the clicked task's id (or ``""``).

    With ``live`` (the default) a thread follows the events feed every ``interval``
    seconds; ``refresh()`` applies what is new at once; ``close()`` stops the thread.
    ``session_id``, when given, is passed to every edit so a workflow lock is respected.
    """

    _esm = STATIC / "dag_widget.js"
    _css = STATIC / "dag_widget.css"

    workflow = Dict().tag(sync=True)
    tasks = Dict().tag(sync=True)
    edges = Dict().tag(sync=True)
    rev = Int(0).tag(sync=True)
    transitions = Dict().tag(sync=True)
    height = Int(520).tag(sync=True)
    selected = Unicode("").tag(sync=True)
    details = Bool(True).tag(sync=True)
    """Overlay the selected task's detail and edits on the graph; the Workbench turns it off
    and shows them in its own Task panel, so a task has one detail view."""
    reveal = Bool(False).tag(sync=True)
    """Scroll the view into sight when it first draws: for a cell that starts work to watch,
    since Run All leaves the notebook scrolled to its last cell."""

    def __init__(self, client: Client, workflow_id: str, *, live: bool = True, interval: float = 0.25,
                 height: int = 520, session_id: str | None = None, **kwargs: Any) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.session_id = session_id
        self.source = DagSource(client, workflow_id)
        self.feed = EventFeed(client, interval)
        self.lock = threading.RLock()
        self.source.catch_up(self.feed.cursor)
        self.dag: Dag = self.source.read()
        self.revision = 0
        self.stale = False
        super().__init__(workflow=self.source.workflow(), tasks=self.dag.columns(), edges=self.dag.edge_columns(),
                         rev=0, transitions=offered_transitions(), height=height,
                         **kwargs)
        self.live = live
        self.views = 0
        self.on_msg(self.on_message)
        self.feed.subscribe(self.on_events)
        if live:
            self.feed.start()

    def refresh(self) -> None:
        """Apply every change made since the last look, now."""
        self.feed.poll()

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """Apply a batch from the feed. The feed has moved past these events even if reading
        fails (a busy database), so a failure marks the graph stale: the next batch of any
        workflow's events reads it whole."""
        relevant = self.source.relevant(events)
        if not relevant and not self.stale:
            return
        with self.lock:
            try:
                new = self.source.update(self.dag, relevant, self.stale)
            except CawError:
                self.stale = True
                raise
            self.stale = False
            self.push(new)
            if any(e["kind"].startswith("workflow.") for e in relevant):
                info = self.source.workflow()
                if info != self.workflow:
                    self.workflow = info

    def push(self, new: Dag) -> None:
        """Send what changed. Until a view has said hello, send the whole graph instead: a view
        drawn while its cell still runs (agents working in the same cell) cannot ask the busy
        kernel to fill a gap, so it must be able to draw from any one message it gets."""
        delta = self.dag.delta(new, self.revision + 1)
        if delta is None:
            return
        self.dag, self.revision = new, self.revision + 1
        self.send(delta if self.views else self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        return {"kind": "snapshot", "rev": self.revision, "workflow": dict(self.workflow),
                "tasks": self.dag.columns(), "edges": self.dag.edge_columns()}

    def on_message(self, _: Any, msg: dict[str, Any], buffers: list[bytes]) -> None:
        kind = msg.get("kind")
        if kind == "hello":
            self.shown(msg.get("rev"))
        elif kind == "bye":
            self.hidden()
        elif kind == "edit":
            self.send(self.edit(msg.get("request", 0), str(msg.get("action")), msg.get("args") or {}))
        elif kind == "describe":
            self.describe(str(msg.get("id")))

    def shown(self, rev: Any) -> None:
        """A view rendered: follow the feed again if no view was left, and bring it up to date."""
        self.views += 1
        if self.live and not self.feed.running:
            self.refresh()
            self.feed.start()
        self.resync(rev)

    def hidden(self) -> None:
        """A view went away (its cell re-run or cleared): with none left, stop polling until one
        renders again, so re-running a cell does not leave followers behind."""
        self.views = max(0, self.views - 1)
        if self.views == 0:
            self.feed.stop()

    def resync(self, rev: Any) -> None:
        with self.lock:
            if rev != self.revision:
                self.send(self.snapshot())

    def edit(self, request: int, action: str, args: dict[str, Any]) -> Reply:
        """Run one browser edit through the tool registry; the reply says what happened or why not."""
        if action not in EDITS:
            return {"kind": "reply", "request": request, "ok": False, "code": "INVALID_INPUT",
                    "message": f"Unknown edit {action!r}"}
        tool, params, done = EDITS[action](self, args)
        if self.session_id:
            params["session_id"] = self.session_id
        try:
            self.client.call(tool, **params)
        except CawError as err:
            message = f"{err.message}. {err.suggestion}" if err.suggestion else err.message
            return {"kind": "reply", "request": request, "ok": False, "code": err.code, "message": message}
        except Exception as exc:  # a bug must still answer, or the browser waits forever
            log.exception("caw-lab DAG widget: %s failed", tool)
            return {"kind": "reply", "request": request, "ok": False, "code": "INTERNAL_ERROR", "message": str(exc)}
        self.refresh()
        return {"kind": "reply", "request": request, "ok": True, "code": "", "message": done}

    def describe(self, task_id: str) -> None:
        try:
            checkpoint = self.source.last_checkpoint(task_id)
        except CawError:
            checkpoint = None
        self.send({"kind": "description", "id": task_id, "checkpoint": checkpoint})

    def name(self, task_id: Any) -> str:
        row = self.dag.rows.get(str(task_id))
        return repr(row.name) if row else str(task_id)

    def image(self) -> str:
        """The graph as it is now, as SVG (what a saved notebook shows without a kernel)."""
        with self.lock:
            return dag_svg(self.dag, self.workflow.get("name") or self.workflow_id)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The live view, plus a still picture for nbviewer, GitHub and notebooks opened without a kernel."""
        data, metadata = super()._repr_mimebundle_(**kwargs) or ({}, {})
        return {**data, "image/svg+xml": self.image()}, metadata

    def close(self) -> None:
        self.feed.stop()
        super().close()

    def __repr__(self) -> str:
        name = self.workflow.get("name", self.workflow_id) if self.workflow else self.workflow_id
        done = sum(r.status in DONE_TASK_STATUSES for r in self.dag.rows.values())
        selected = self.name(self.selected) if self.selected else "none"
        return f"<caw_lab DagWidget: workflow {name!r}, {done}/{len(self.dag.rows)} tasks done, selected {selected}>"
