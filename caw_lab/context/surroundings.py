"""What surrounds a task (its workflow, trail, earlier and parallel tasks, memories, messages), and what
of it changed since a cursor of the change feed.

The reads are the engine's (``engine.context_reads``); this module decides what to keep.
Each task also gets ``files_changed``: the union of the files its checkpoints recorded,
which is what ties tasks together for the ranker.

**The workflow-sized part** (every task with its files, the dependency edges) is the
costly read: a thousand tasks carry twenty thousand checkpoints. It is kept as a
``KeptWorkflow`` (``WORKFLOWS``), by the change feed's head read *before* it is built.
Every mutation writes exactly one event in the same transaction (DESIGN.md), so an
unchanged head means unchanged tables, and a kept workflow is never used as it is once
anything has been written since. Kept workflows are shared: their rows are read, never
modified. The usual write between two loads is an agent's checkpoint, or a task changing
status: the events since the kept workflow say which tasks they touched, and when every
one is known to change only its own task's row and checkpoints, only those tasks are read
again (``advanced``). Anything else (a plan, an edge, a suspension) reads the workflow
whole.

**Delta loading** (``Change``): an agent that reloads after a few checkpoints already
holds most of its context; it asks with the cursor of its last load and gets only the
parts that changed, read from the feed (``engine.events.since``), never by polling tables:

- the workflow part when a ``workflow.*`` event happened;
- a task (current, prior, sibling, dependency) when an event other than a checkpoint names it;
- a checkpoint when an event names it (``checkpoint_id`` in its payload: every change that
  writes a checkpoint, ``checkpoint.added`` and ``task.replanned`` alike, names it);
- memories and messages created or updated since that event.

More than ``MAX_EVENTS`` events since the cursor means the agent is far behind: it gets
everything, marked ``delta: true`` all the same, with the new cursor.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from caw_lab.context.caches import Kept, of_backend
from caw_lab.engine import context_reads as reads
from caw_lab.engine import events
from caw_lab.engine.event_kinds import Scope, of_scope
from caw_lab.store.backend import Backend

ADVANCE_LIMIT = 64
"""More events than this since a kept workflow and it is read again whole."""
MAX_EVENTS = 1000
"""More events than this since a delta's cursor and the delta holds everything."""
TASK_LOCAL = of_scope(Scope.TASK)
"""Events whose change is confined to their task's row and checkpoints (engine.event_kinds)."""
ELSEWHERE = of_scope(Scope.OUTSIDE)
"""Events that change no task row, whichever workflow they name."""


@dataclass
class Surroundings:
    workflow: dict[str, Any]
    task: dict[str, Any]
    checkpoints: list[dict[str, Any]]
    tasks: dict[str, dict[str, Any]]
    depends_on: list[str]
    distance: dict[str, int]
    memories: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    memo: dict[Any, Any] = field(default_factory=dict)
    """Values derived from the shared rows, kept with their workflow (``relevance.scored``)."""
    per_task: dict[str, dict[Any, Any]] = field(default_factory=dict)
    """Values derived from one task's row, by task id (``relevance.task_items``)."""

    @property
    def prior(self) -> list[dict[str, Any]]:
        """Tasks earlier in the plan, in plan order (the reference's prior tasks)."""
        seq = self.task["sequence"]
        return sorted((t for t in self.tasks.values() if t["sequence"] < seq), key=lambda t: t["sequence"])

    @property
    def siblings(self) -> list[dict[str, Any]]:
        group = self.task.get("parallel_group")
        if not group:
            return []
        same = (t for t in self.tasks.values() if t.get("parallel_group") == group and t["id"] != self.task["id"])
        return sorted(same, key=lambda t: t["sequence"])

    @property
    def dependencies(self) -> list[dict[str, Any]]:
        return [self.tasks[d] for d in self.depends_on if d in self.tasks]


@dataclass(frozen=True)
class KeptWorkflow:
    """A workflow's tasks (with ``files_changed``) and dependency edges as of feed head ``head``,
    and what loads derived from them."""

    head: int
    tasks: dict[str, dict[str, Any]]
    edges: dict[str, list[str]]
    memo: dict[Any, Any] = field(default_factory=dict)
    per_task: dict[str, dict[Any, Any]] = field(default_factory=dict)
    """Values derived from one task's row: an advanced workflow keeps those of the tasks it
    did not reread."""


WORKFLOWS: Kept[KeptWorkflow] = Kept(8)
"""The newest kept state of the workflows loaded last, by (backend, workflow id)."""


def gather(db: Backend, task_id: str, head: int) -> Surroundings:
    """Everything around ``task_id``; ``head`` is the change feed's head, read before this."""
    workflow = reads.workflow_head(db, reads.workflow_of(db, task_id))
    shared = workflow_at(db, workflow["id"], head)
    return Surroundings(
        workflow=workflow,
        task={**shared.tasks[task_id], "conflict": reads.conflict_for(db, task_id)},
        checkpoints=reads.trail(db, task_id),
        tasks=shared.tasks,
        depends_on=shared.edges.get(task_id, []),
        distance=ancestors(shared.edges, task_id),
        memories=reads.memories_for(db, workflow["id"]),
        messages=reads.messages_for(db, task_id),
        memo=shared.memo,
        per_task=shared.per_task,
    )


def workflow_at(db: Backend, workflow_id: str, head: int) -> KeptWorkflow:
    """The workflow as of feed head ``head``: kept, advanced from the kept one, or read whole.

    Two threads missing at once both read the tables; the one that finishes last is kept,
    and either is valid for the head it was keyed by."""
    key = (of_backend(db), workflow_id)
    found = WORKFLOWS.get(key)
    if found is not None and found.head == head:
        return found
    made = advanced(db, workflow_id, found, head) if found is not None and found.head < head else None
    if made is None:
        made = KeptWorkflow(head, reads.tasks_with_files(db, workflow_id), reads.dependency_edges(db, workflow_id))
    return WORKFLOWS.put(key, made)


def advanced(db: Backend, workflow_id: str, kept: KeptWorkflow, head: int) -> KeptWorkflow | None:
    """``kept`` brought to feed head ``head`` by rereading only the tasks the events since it
    touched, or None when one of them may have changed more than its own task's row and
    files (a plan, an edge, a suspension: anything not known to be local)."""
    happened = reads.events_between(db, kept.head, head, ADVANCE_LIMIT + 1)
    if len(happened) > ADVANCE_LIMIT:
        return None
    touched: set[str] = set()
    for e in happened:
        if e["kind"] in ELSEWHERE or (e["workflow_id"] is not None and e["workflow_id"] != workflow_id):
            continue
        if e["kind"] not in TASK_LOCAL or e["task_id"] not in kept.tasks:
            return None
        touched.add(e["task_id"])
    fresh = reads.tasks_with_files(db, workflow_id, tuple(touched)) if touched else {}
    if len(fresh) != len(touched):
        return None
    carried = {tid: values for tid, values in kept.per_task.items() if tid not in fresh}
    return KeptWorkflow(head, {**kept.tasks, **fresh}, kept.edges, per_task=carried)


def ancestors(edges: dict[str, list[str]], task_id: str) -> dict[str, int]:
    """Every task the given one waits on, directly (1) or through others (2, 3, ...)."""
    distance: dict[str, int] = {}
    queue = deque([(task_id, 0)])
    while queue:
        node, d = queue.popleft()
        for up in edges.get(node, []):
            if up not in distance:
                distance[up] = d + 1
                queue.append((up, d + 1))
    return distance


@dataclass
class Change:
    """What changed around a task since a delta's cursor, and the cursor to pass next time."""

    cursor: int
    at: int
    workflow: bool = False
    tasks: set[str] = field(default_factory=set)
    checkpoints: set[str] = field(default_factory=set)
    everything: bool = False

    def keeps(self, kind: str, row: dict[str, Any]) -> bool:
        """Whether ``row`` (of ``kind``) changed since the cursor and so belongs in the delta."""
        if self.everything:
            return True
        if kind == "workflow":
            return self.workflow
        if kind == "task":
            return row["id"] in self.tasks
        if kind == "checkpoint":
            return row["id"] in self.checkpoints
        stamp = row.get("updated_at") or row.get("created_at") or 0
        return stamp >= self.at


def changes_since(db: Backend, surroundings: Surroundings, seq: int) -> Change:
    feed = events.since(db, seq, workflow_id=surroundings.workflow["id"], limit=MAX_EVENTS)
    change = Change(cursor=feed["cursor"], at=moment(db, seq, feed["head"]))
    if len(feed["events"]) >= MAX_EVENTS:
        change.everything = True
        change.cursor = feed["head"]
        return change
    for event in feed["events"]:
        kind = event["kind"]
        payload = event.get("payload") or {}
        if kind.startswith("workflow."):
            change.workflow = True
        if payload.get("checkpoint_id"):
            change.checkpoints.add(payload["checkpoint_id"])
        if not kind.startswith("checkpoint.") and event.get("task_id"):
            change.tasks.add(event["task_id"])
    return change


def moment(db: Backend, seq: int, head: int) -> int:
    """When event ``seq`` happened: 0 before the feed began, never for a cursor past its head."""
    if seq <= 0:
        return 0
    if seq > head:
        return 2**62
    at = reads.event_time(db, seq)
    return at if at is not None else 0
