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
from caw_lab.engine import context_reads, events
from caw_lab.engine.event_kinds import Scope, of_scope
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Later, Reads, alone

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
    change: Change | None = None
    """For a delta load, what changed since its cursor."""

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


@dataclass(frozen=True)
class Nearby:
    """What the task's id alone leads to, read in one batch with the feed head it reflects."""

    task_id: str
    head: int
    workflow: dict[str, Any]
    checkpoints: list[dict[str, Any]]
    memories: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    conflict: dict[str, Any] | None
    """The task's merge conflict not yet resolved, if any (files and hunks)."""


def nearby(batch: Reads, task_id: str) -> tuple[Later[int], Later[Nearby]]:
    """Declare the task-keyed reads of a load: the feed head, and what surrounds the task as of it
    (TASK_NOT_FOUND once run, if there is no such task). The head alone may be enough (a kept
    answer), so the rows are decoded only when asked for."""
    head = batch.scalar(events.HEAD)
    workflow = context_reads.workflow_head(batch, task_id)
    trail = context_reads.trail(batch, task_id)
    memories = context_reads.memories_for(batch, task_id)
    messages = context_reads.messages_for(batch, task_id)
    conflict = context_reads.conflict_for(batch, task_id)
    return head, lambda: Nearby(task_id, head(), workflow(), trail(), memories(), messages(), conflict())


def read_nearby(db: Backend, task_id: str) -> Nearby:
    batch = Reads(db)
    near = nearby(batch, task_id)[1]
    batch.run()
    return near()


def gather(db: Backend, near: Nearby, since_seq: int | None = None) -> Surroundings:
    """Everything around the task: ``near``, the workflow-sized part as of ``near.head`` and, for a
    delta, what changed since ``since_seq``, all in at most one more batch (none when the
    workflow is kept at that head and no delta is asked for)."""
    batch = Reads(db)
    workflow_id = near.workflow["id"]
    shared = keeping(batch, db, workflow_id, near.head)
    feed = at = None
    if since_seq is not None:
        feed = events.following(batch, since_seq, workflow_id=workflow_id, limit=MAX_EVENTS)
        at = context_reads.event_time(batch, since_seq)
    batch.run()
    kept = shared()
    around = Surroundings(
        workflow=near.workflow,
        task={**kept.tasks[near.task_id], "conflict": near.conflict},
        checkpoints=near.checkpoints,
        tasks=kept.tasks,
        depends_on=kept.edges.get(near.task_id, []),
        distance=ancestors(kept.edges, near.task_id),
        memories=near.memories,
        messages=near.messages,
        memo=kept.memo,
        per_task=kept.per_task,
    )
    if feed is not None and at is not None and since_seq is not None:
        around.change = change_of(feed(), since_seq, at())
    return around


def workflow_at(db: Backend, workflow_id: str, head: int) -> KeptWorkflow:
    """The workflow as of feed head ``head`` (``keeping``, read on its own)."""
    return alone(db, keeping, db, workflow_id, head)


def keeping(batch: Reads, db: Backend, workflow_id: str, head: int) -> Later[KeptWorkflow]:
    """The workflow as of feed head ``head``: kept, advanced from the kept one, or read whole.

    Advancing declares the events since the kept head and the tasks they name. Over a network
    (``db.remote``) it also declares the whole workflow under the condition that those events go
    beyond their own tasks (``context_reads.beyond_tasks``), so one request serves either
    outcome; on a local file, where a second batch costs less than those conditional reads, and
    wherever the rule below disagrees with that condition, the workflow is read whole in a batch
    of its own.

    Two threads missing at once both read the tables; the one that finishes last is kept,
    and either is valid for the head it was keyed by."""
    key = (of_backend(db), workflow_id)
    found = WORKFLOWS.get(key)
    if found is not None and found.head == head:
        return lambda: found
    if found is None or found.head > head:
        whole = read_whole(batch, workflow_id, head)
        return lambda: WORKFLOWS.put(key, whole())
    happened = context_reads.events_between(batch, found.head, head, ADVANCE_LIMIT + 1)
    fresh = context_reads.tasks_with_files(batch, workflow_id, touched=(found.head, head))
    whole_if_beyond = None
    if db.remote:
        beyond = context_reads.beyond_tasks(workflow_id, found.head, head, TASK_LOCAL, ELSEWHERE, ADVANCE_LIMIT)
        whole_if_beyond = read_whole(batch, workflow_id, head, when=beyond)

    def value() -> KeptWorkflow:
        made = advanced(workflow_id, found, head, happened(), fresh())
        if made is None and whole_if_beyond is not None:
            made = whole_if_beyond()
            made = made if made.tasks else None  # empty: the condition did not hold
        if made is None:
            made = alone(db, read_whole, workflow_id, head)
        return WORKFLOWS.put(key, made)

    return value


def read_whole(batch: Reads, workflow_id: str, head: int, when: Statement | None = None) -> Later[KeptWorkflow]:
    """The workflow's tasks and edges, keyed by ``head`` (with ``when``, none unless it holds)."""
    tasks = context_reads.tasks_with_files(batch, workflow_id, when=when)
    edges = context_reads.dependency_edges(batch, workflow_id, when=when)
    return lambda: KeptWorkflow(head, tasks(), edges())


def advanced(
    workflow_id: str, kept: KeptWorkflow, head: int, happened: list[dict[str, Any]], fresh: dict[str, Any]
) -> KeptWorkflow | None:
    """``kept`` brought to feed head ``head`` with ``fresh``, the tasks the events since it
    (``happened``) touched, read again; or None when one of them may have changed more than its
    own task's row and files (a plan, an edge, a suspension: anything not known to be local)."""
    if len(happened) > ADVANCE_LIMIT:
        return None
    touched: set[str] = set()
    for e in happened:
        if e["kind"] in ELSEWHERE or (e["workflow_id"] is not None and e["workflow_id"] != workflow_id):
            continue
        if e["kind"] not in TASK_LOCAL or e["task_id"] not in kept.tasks:
            return None
        touched.add(e["task_id"])
    if not touched <= fresh.keys():
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


def change_of(feed: dict[str, Any], seq: int, at: int | None) -> Change:
    """What changed since cursor ``seq``, from the workflow's events after it (``feed``) and when
    event ``seq`` happened (``at``, taken as 0 before the feed began, never for a cursor past its head)."""
    moment = 0 if seq <= 0 else 2**62 if seq > feed["head"] else at or 0
    change = Change(cursor=feed["cursor"], at=moment)
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
