"""A workflow's DAG read through the tools, and kept current from the change feed.

Reading thousands of tasks whole is too slow to repeat several times a second while
agents work (bench/RESULTS.md, "DAG widget"). So an event naming a task re-reads just that task (``task_get``),
plus the tasks waiting on it when it finished or un-finished (their ``blocked`` flips);
a dependency event carries its edge in its payload. Only events whose scope is wide
(engine.event_kinds: a plan, a replan, an agent's tasks released) re-read it all.

A finished task's duration is not in any table: the source replays the same events into a
``Timeline`` (caw_lab.lab.timeline) and stamps each row with its task's last attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from caw_lab.engine.event_kinds import Scope, scope
from caw_lab.engine.states import DONE_TASK_STATUSES
from caw_lab.errors import CawError
from caw_lab.lab.dag_state import Dag, TaskRow, WorkflowInfo, row_of
from caw_lab.lab.feed import AgentNames
from caw_lab.lab.timeline import Timeline, read_history
from caw_lab.tools.client import Client

MAX_TASK_READS = 100
"""Beyond this many single-task reads for one batch, reading the whole workflow is cheaper."""


class DagSource:
    def __init__(self, client: Client, workflow_id: str) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.timeline = Timeline(workflow_id)
        self.agent_names = AgentNames(client)

    def catch_up(self, until: int) -> None:
        """Replay the workflow's history up to ``until`` (the feed's cursor) for the durations."""
        read_history(self.client, self.timeline, until)

    def workflow(self) -> WorkflowInfo:
        wf = self.client.call("workflow_get", id=self.workflow_id)
        return {"id": wf["id"], "name": wf["name"], "status": wf["status"]}

    def read(self) -> Dag:
        tasks = self.client.call("workflow_get", id=self.workflow_id, include_tasks=True)["tasks"]
        return Dag.of(tasks, self.agent_names).timed(self.timeline.durations())

    def relevant(self, events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [e for e in events if e.get("workflow_id") == self.workflow_id]

    def update(self, dag: Dag, events: Iterable[Mapping[str, Any]], whole: bool = False) -> Dag:
        """``dag`` after ``events`` (already filtered to this workflow); ``whole`` reads it all again."""
        events = list(events)
        self.timeline.apply(events)
        return self.read() if whole else self.changed(dag, events).timed(self.timeline.durations())

    def changed(self, dag: Dag, events: list[Mapping[str, Any]]) -> Dag:
        touched: set[str] = set()
        for event in events:
            kind, task_id = event["kind"], event.get("task_id")
            reach = scope(kind)
            if reach in (Scope.WORKFLOW, Scope.OUTSIDE):
                continue
            if reach == Scope.WIDE or not task_id or task_id not in dag.rows:
                return self.read()
            touched.add(task_id)
            if reach == Scope.EDGE:
                edge = (event["payload"]["depends_on_id"], task_id)
                added = kind == "task.dependency_added"
                dag = dag.with_edges(add=[edge]) if added else dag.with_edges(drop=[edge])
        return self.reread(dag, touched)

    def reread(self, dag: Dag, touched: set[str]) -> Dag:
        """Re-read ``touched`` tasks, then those waiting on any whose finished-ness changed."""
        if len(touched) > MAX_TASK_READS:
            return self.read()
        rows = self.rows(touched)
        if rows is None:
            return self.read()
        flipped = {i for i, row in rows.items() if done(row.status) != done(dag.rows[i].status)}
        waiting = dag.downstream(flipped) - touched
        if len(touched) + len(waiting) > MAX_TASK_READS:
            return self.read()
        more = self.rows(waiting)
        if more is None:
            return self.read()
        return dag.with_rows({**rows, **more})

    def rows(self, ids: Iterable[str]) -> dict[str, TaskRow] | None:
        """Each task's row, or None if one has gone (the plan changed: read it whole)."""
        out: dict[str, TaskRow] = {}
        for task_id in ids:
            try:
                task = self.client.call("task_get", id=task_id)
            except CawError as err:
                if err.code == "TASK_NOT_FOUND":
                    return None
                raise
            if task["workflow_id"] != self.workflow_id:
                return None
            out[task_id] = row_of(task, self.agent_names)
        return out

    def last_checkpoint(self, task_id: str) -> dict[str, Any] | None:
        task = self.client.call("task_get", id=task_id, include_checkpoints=True, checkpoint_limit=1)
        if not task["checkpoints"]:
            return None
        cp = task["checkpoints"][-1]
        return {"type": cp["checkpoint_type"], "summary": cp["summary"], "created_at": cp["created_at"]}


def done(status: str) -> bool:
    return status in DONE_TASK_STATUSES
