"""A workflow's DAG read through the tools, and kept current from the change feed.

Reading 5,000 tasks whole takes about 150 ms, too much to repeat four times a second
while agents work. So an event naming a task re-reads just that task (``task_get``),
plus the tasks waiting on it when it finished or un-finished (their ``blocked`` flips);
a dependency event carries its edge in its payload. Only events that reshape the plan
(a task added or removed, a new plan) or that this module does not know re-read it all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from caw_lab.errors import CawError
from caw_lab.lab.dag_state import Dag, TaskRow, WorkflowInfo, row_of
from caw_lab.tools.client import Client

WORKFLOW_ONLY = frozenset({
    "workflow.status", "workflow.locked", "workflow.unlocked", "workflow.config", "workflow.parallelism",
    "workflow.repository_added", "workflow.repository_removed",
})
"""Events that change the workflow's own row, never its tasks."""

EDGE_KINDS = {"task.dependency_added": "add", "task.dependency_removed": "drop"}
FINISHED = frozenset({"completed", "skipped"})
MAX_TASK_READS = 100
"""Beyond this many single-task reads for one batch, reading the whole workflow is cheaper."""


class DagSource:
    def __init__(self, client: Client, workflow_id: str) -> None:
        self.client = client
        self.workflow_id = workflow_id

    def workflow(self) -> WorkflowInfo:
        wf = self.client.call("workflow_get", id=self.workflow_id)
        return {"id": wf["id"], "name": wf["name"], "status": wf["status"]}

    def read(self) -> Dag:
        return Dag.of(self.client.call("workflow_get", id=self.workflow_id, include_tasks=True)["tasks"])

    def relevant(self, events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [e for e in events if e.get("workflow_id") == self.workflow_id]

    def update(self, dag: Dag, events: Iterable[Mapping[str, Any]]) -> Dag:
        """``dag`` after ``events`` (already filtered to this workflow)."""
        touched: set[str] = set()
        for event in events:
            kind, task_id = event["kind"], event.get("task_id")
            if kind in WORKFLOW_ONLY:
                continue
            if not task_id or kind.startswith("workflow.") or task_id not in dag.rows:
                return self.read()
            touched.add(task_id)
            if kind in EDGE_KINDS:
                edge = (event["payload"]["depends_on_id"], task_id)
                dag = dag.with_edges(add=[edge]) if EDGE_KINDS[kind] == "add" else dag.with_edges(drop=[edge])
        return self.reread(dag, touched)

    def reread(self, dag: Dag, touched: set[str]) -> Dag:
        """Re-read ``touched`` tasks, then those waiting on any whose finished-ness changed."""
        if len(touched) > MAX_TASK_READS:
            return self.read()
        rows = self.rows(touched)
        if rows is None:
            return self.read()
        flipped = {i for i, row in rows.items() if (row.status in FINISHED) != (dag.rows[i].status in FINISHED)}
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
            out[task_id] = row_of(task)
        return out

    def last_checkpoint(self, task_id: str) -> dict[str, Any] | None:
        task = self.client.call("task_get", id=task_id, include_checkpoints=True, checkpoint_limit=1)
        if not task["checkpoints"]:
            return None
        cp = task["checkpoints"][-1]
        return {"type": cp["checkpoint_type"], "summary": cp["summary"], "created_at": cp["created_at"]}
