"""The DAG widget's contract: its synced traits and the messages between kernel and browser.

The state is column-shaped, as jupyter-scatter keeps millions of points in one widget:
one trait holds parallel arrays (``ids[i]``, ``names[i]``, ``statuses[i]`` ... describe
task ``i``) and another the edges as two arrays, so 5,000 tasks are one message of
plain lists, never 5,000 widgets. After the first render the kernel sends only
``Delta`` messages: the rows that changed, the ids removed, the edges added and removed.

Traits (kernel -> browser unless marked):

- ``workflow``: ``WorkflowInfo``; replaced when the workflow's name or status changes.
- ``tasks``: ``TaskColumns``; ``edges``: ``EdgeColumns``; ``rev``: the revision they
  hold. They are set once: later changes arrive as ``Delta`` messages, each with the next
  ``rev``; a view that sees a gap (or renders late) sends ``Hello`` and gets a ``Snapshot``.
- ``transitions``: the task state machine, status -> statuses it may move to.
- ``height``: pixels of the drawing area.
- ``selected`` (both ways): the selected task's id, or ``""``.

``extension/src/index.js`` and ``extension/src/graph.js`` are the browser's side of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypedDict

SUMMARY_CHARS = 240
"""Outcomes and errors are cut to this length: the hover card shows a glimpse, task_get the rest."""


class WorkflowInfo(TypedDict):
    id: str
    name: str
    status: str


class TaskColumns(TypedDict):
    """One entry per task, in plan order; ``""`` stands for none."""

    ids: list[str]
    names: list[str]
    statuses: list[str]
    """As the tools show it: a pending task waiting on unfinished work reads ``blocked``."""
    groups: list[str]
    """The task's parallel group."""
    summaries: list[str]
    """The outcome, else the error, cut to ``SUMMARY_CHARS``."""
    agents: list[str]
    """The name of the agent holding the task (its id where it has none)."""
    durations: list[int]
    """Milliseconds the task's last attempt took, once it settled (``caw_lab.lab.timeline``); 0 before."""


EdgeColumns = TypedDict("EdgeColumns", {"from": list[str], "to": list[str]})
"""Edge ``i`` runs from ``from[i]`` (the upstream task) to ``to[i]`` (the task that waits for it)."""


class Delta(TypedDict):
    kind: Literal["delta"]
    rev: int
    upsert: TaskColumns
    """Rows added or changed, whole."""
    remove: list[str]
    edges_added: EdgeColumns
    edges_removed: EdgeColumns


class Snapshot(TypedDict):
    kind: Literal["snapshot"]
    rev: int
    workflow: WorkflowInfo
    tasks: TaskColumns
    edges: EdgeColumns


EditAction = Literal["add_task", "add_dependency", "remove_dependency", "set_status", "retry"]


class Edit(TypedDict):
    """Browser -> kernel: run the tool behind ``action`` with ``args``; answered by ``Reply``."""

    kind: Literal["edit"]
    request: int
    action: EditAction
    args: dict[str, Any]


class Reply(TypedDict):
    kind: Literal["reply"]
    request: int
    ok: bool
    message: str
    """What happened, or the refusal's message (``CawError.message``)."""
    code: str
    """``""`` on success, else the CawError code (``DEPENDENCY_CYCLE``, ``INVALID_TRANSITION``...)."""


class Hello(TypedDict):
    """Browser -> kernel: a view rendered with (or fell behind at) ``rev``."""

    kind: Literal["hello"]
    rev: int


class Bye(TypedDict):
    """Browser -> kernel: a view went away. With no view left the kernel stops following the
    feed until the next ``Hello``."""

    kind: Literal["bye"]


class Describe(TypedDict):
    """Browser -> kernel: the hover card or panel wants a task's newest checkpoint."""

    kind: Literal["describe"]
    id: str


class CheckpointInfo(TypedDict):
    type: str
    summary: str
    created_at: int


class Description(TypedDict):
    kind: Literal["description"]
    id: str
    checkpoint: CheckpointInfo | None


class TaskRow(NamedTuple):
    name: str
    status: str
    group: str
    summary: str
    agent: str
    duration: int = 0


def row_of(task: Mapping[str, Any], agent_name: Callable[[str], str] = str) -> TaskRow:
    """A task as ``workflow_get``/``task_get`` return it, reduced to what the widget draws; the
    holder as ``agent_name`` calls it (people know agents by name, tasks hold their ids)."""
    summary = task.get("outcome") or task.get("error") or ""
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1] + "…"
    return TaskRow(task["name"], task["status"], task.get("parallel_group") or "", summary,
                   agent_name(task["assigned_agent_id"]) if task.get("assigned_agent_id") else "")


@dataclass(frozen=True)
class Dag:
    """One workflow's graph as the widget holds it, comparable so changes become deltas."""

    rows: dict[str, TaskRow]
    """Task id -> row, in plan order."""
    edges: frozenset[tuple[str, str]]
    """``(upstream, downstream)`` pairs."""

    @classmethod
    def of(cls, tasks: Iterable[Mapping[str, Any]], agent_name: Callable[[str], str] = str) -> Dag:
        """From tasks carrying ``depends_on`` (as ``workflow_get(include_tasks=True)`` returns them)."""
        tasks = list(tasks)
        rows = {t["id"]: row_of(t, agent_name) for t in tasks}
        edges = frozenset((up, t["id"]) for t in tasks for up in t.get("depends_on") or () if up in rows)
        return cls(rows, edges)

    def columns(self, ids: Iterable[str] | None = None) -> TaskColumns:
        picked = list(self.rows if ids is None else ids)
        rows = [self.rows[i] for i in picked]
        return {"ids": picked, "names": [r.name for r in rows], "statuses": [r.status for r in rows],
                "groups": [r.group for r in rows], "summaries": [r.summary for r in rows],
                "agents": [r.agent for r in rows], "durations": [r.duration for r in rows]}

    def edge_columns(self, edges: Iterable[tuple[str, str]] | None = None) -> EdgeColumns:
        pairs = sorted(self.edges if edges is None else edges)
        return {"from": [a for a, _ in pairs], "to": [b for _, b in pairs]}

    def delta(self, new: Dag, rev: int) -> Delta | None:
        """What turns this graph into ``new``, as the message to send; ``None`` when nothing changed."""
        changed = [i for i, row in new.rows.items() if self.rows.get(i) != row]
        removed = [i for i in self.rows if i not in new.rows]
        added, dropped = new.edges - self.edges, self.edges - new.edges
        if not (changed or removed or added or dropped):
            return None
        return {"kind": "delta", "rev": rev, "upsert": new.columns(changed), "remove": removed,
                "edges_added": self.edge_columns(added), "edges_removed": self.edge_columns(dropped)}

    def with_rows(self, rows: Mapping[str, TaskRow]) -> Dag:
        return Dag({**self.rows, **rows}, self.edges)

    def timed(self, durations: Mapping[str, int]) -> Dag:
        """This graph with each task's duration as ``durations`` has it (0 for a task not in it)."""
        changed = {i: row._replace(duration=durations.get(i, 0)) for i, row in self.rows.items()
                   if row.duration != durations.get(i, 0)}
        return self.with_rows(changed) if changed else self

    def with_edges(self, add: Iterable[tuple[str, str]] = (), drop: Iterable[tuple[str, str]] = ()) -> Dag:
        known = {e for e in add if e[0] in self.rows and e[1] in self.rows}
        return Dag(self.rows, (self.edges - set(drop)) | known)

    def downstream(self, task_ids: set[str]) -> set[str]:
        """Tasks that wait directly on any of ``task_ids``."""
        return {b for a, b in self.edges if a in task_ids}
