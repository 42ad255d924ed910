"""Orchestration queries: what can run next, how far a workflow got, what a task waits on.

Every answer is a handful of set-based statements whatever the workflow's size (no
query per task), so a 10,000-task workflow answers in milliseconds.

How ``workflow_next_tasks`` recommends work:

- Eligible tasks are stored ``pending`` (and ``failed`` when ``include_failed``), not
  blocked, not claimed. All of them are returned.
- ``capacity = max_parallel_tasks - active``, never below 0, where *active* tasks are
  those in ``planning``/``in_progress`` and claimed ones still ``pending``/``paused``:
  slots already taken are not offered twice. A workflow whose tasks cannot be claimed
  (planning, paused, awaiting merge, finished: see ``claims``) has capacity 0.
- The list is in plan order (sequence), except that a parallel group's
  eligible members follow its first member, so a recommendation takes as many of one
  group as fit before moving on: siblings meant to run together are started together.
- Given ``agent_id``, tasks whose ``required_capabilities`` the agent all has come first,
  then tasks requiring none, then tasks needing a capability it lacks (each carries
  ``missing_capabilities``); the order within each stays as above.
- The recommendation takes tasks in that order while slots are free: at most
  ``capacity``, and no more of a parallel group than its limit
  (``config.parallel_group_limits``) minus its active tasks. These are the limits claims
  enforce (engine/claims.py). ``recommended_count`` tasks carry ``recommended: true``
  and are moved to the front, in order.
- ``parallel_with`` names the *other eligible* tasks of the same group, the ones that
  can be started alongside it now.
"""

from __future__ import annotations

import json
from itertools import groupby
from operator import itemgetter
from typing import Any

from caw_lab.engine.dag import blocked_sql
from caw_lab.engine.rows import fetched, required
from caw_lab.engine.states import CLAIMABLE_WORKFLOW_STATUSES, DONE_SQL, DONE_TASK_STATUSES, STORED_TASK_STATUSES
from caw_lab.errors import not_found
from caw_lab.store.backend import Backend, Row
from caw_lab.store.reads import Later, Reads

TASK_FIELDS = "t.id, t.name, t.description, t.status, t.sequence, t.parallel_group, t.required_capabilities"
"""What an orchestrator needs to choose; task_get has the rest. Every column costs at 10,000 rows."""


def eligible_tasks(reads: Reads, workflow_id: str, include_failed: bool) -> Later[list[dict[str, Any]]]:
    """Eligible tasks in plan order, each with the names of its finished dependencies.

    Pending tasks come in sequence order from the index of unclaimed pending tasks (no
    sort, claimed ones never read); failed ones, usually few, are merged in. Each eligible
    row carries its finished dependencies' names (``DONE_NAMES``), read by the same
    statement for the eligible tasks alone, so a blocked task's are never read. Name lists
    are tuples (JSON arrays all the same): a row of strings and tuples is not tracked by
    Python's garbage collector, which otherwise rescans every row of a large answer.
    """
    unblocked = f"t.workflow_id = ? AND t.assigned_agent_id IS NULL AND NOT {blocked_sql('t')}"
    pending = reads.query(
        f"SELECT {TASK_FIELDS}, {DONE_NAMES} FROM tasks t WHERE t.status = 'pending' AND {unblocked} "
        "ORDER BY t.sequence",
        (workflow_id,),
    )
    failed = reads.query(
        f"SELECT {TASK_FIELDS}, {DONE_NAMES} FROM tasks t WHERE t.status = 'failed' AND {unblocked}", (workflow_id,)
    ) if include_failed else list

    def value() -> list[dict[str, Any]]:
        tasks, also = pending(), failed()
        if also:
            tasks = sorted(tasks + also, key=itemgetter("sequence"))
        for task in tasks:
            names = task.pop("done_names")
            task["dependencies_completed"] = tuple(json.loads(names)) if names else ()
            needs = task["required_capabilities"]
            task["required_capabilities"] = tuple(json.loads(needs)) if needs else ()
        return tasks

    return value


DONE_NAMES = f"""CASE WHEN EXISTS (SELECT 1 FROM task_dependencies x WHERE x.task_id = t.id) THEN
    (SELECT json_group_array(name) FROM (SELECT up.name FROM task_dependencies d
        JOIN tasks up ON up.id = d.depends_on_id WHERE d.task_id = t.id AND up.status IN {DONE_SQL}
        ORDER BY up.sequence)) END AS done_names"""
"""A task's completed or skipped dependencies' names in plan order, as a JSON array (NULL for a
task with no dependencies, the usual case in a wide plan, so most rows need no decoding)."""


ACTIVE = ("({t}.status IN ('planning', 'in_progress') "
          "OR ({t}.assigned_agent_id IS NOT NULL AND {t}.status IN ('pending', 'paused')))")
"""SQL true for a task (aliased ``t``) taking a slot: started, or claimed and unfinished. Worded as
idx_tasks_group_active (migration 011), which serves it for the tasks of a group, and as the
triggers of migration 010 that keep each workflow's count of them (``workflows.active_tasks``),
which claims compare inside their compare-and-set: change one, change all three
(tests/test_active_counts.py checks the count against this)."""

SOLO = {"can_parallelize": False, "parallel_with": ()}


def group_order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plan order, with each parallel group's members pulled up behind its first member,
    each marked with the other members it can run alongside."""
    members: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        if task["parallel_group"] is not None:
            members.setdefault(task["parallel_group"], []).append(task)
    ordered: list[dict[str, Any]] = []
    for task in tasks:
        group = task["parallel_group"]
        if group is None:
            task.update(SOLO)
            ordered.append(task)
        elif group in members:
            siblings = members.pop(group)
            ids = [s["id"] for s in siblings]
            for sibling in siblings:
                sibling["can_parallelize"] = True
                sibling["parallel_with"] = tuple(i for i in ids if i != sibling["id"])
            ordered += siblings
    return ordered


def workflow_counts(db: Backend, workflow_id: str) -> dict[str, int]:
    """Total, finished and active tasks (``counted``, read on its own)."""
    reads = Reads(db)
    counts = counted(reads, workflow_id)
    reads.run()
    return counts()


def counted(reads: Reads, workflow_id: str) -> Later[dict[str, int]]:
    """Total, finished and active tasks. Counting by status reads only the (workflow_id,
    status) index; claimed tasks not started yet are the pending ones minus the unclaimed
    pending ones, plus the (few) claimed paused ones."""
    per_status = reads.query(
        "SELECT status, COUNT(*) AS n FROM tasks WHERE workflow_id = ? GROUP BY status", (workflow_id,))
    claims = reads.one(
        """SELECT (SELECT COUNT(*) FROM tasks WHERE workflow_id = ? AND status = 'pending'
                     AND assigned_agent_id IS NULL) AS unclaimed_pending,
                  (SELECT COUNT(*) FROM tasks WHERE workflow_id = ? AND status = 'paused'
                     AND assigned_agent_id IS NOT NULL) AS claimed_paused""",
        (workflow_id, workflow_id),
    )

    def value() -> dict[str, int]:
        count = {r["status"]: r["n"] for r in per_status()}.get
        row = claims()
        assert row is not None
        claimed_waiting = count("pending", 0) - row["unclaimed_pending"] + row["claimed_paused"]
        return {
            "total": sum(r["n"] for r in per_status()),
            "done": sum(count(s, 0) for s in DONE_TASK_STATUSES),
            "active": count("planning", 0) + count("in_progress", 0) + claimed_waiting,
        }

    return value


def next_tasks(
    db: Backend, workflow_id: str, include_failed: bool = True, agent_id: str | None = None
) -> dict[str, Any]:
    """One batch of reads: the workflow, its counts, the eligible tasks, the agent, the groups' room."""
    reads = Reads(db)
    found = reads.one("SELECT status, max_parallel_tasks, config FROM workflows WHERE id = ?", (workflow_id,))
    counts = counted(reads, workflow_id)
    eligible = eligible_tasks(reads, workflow_id, include_failed)
    agent = fetched(reads, "agent", agent_id) if agent_id is not None else None
    active_in_group = group_activity(reads, workflow_id)
    reads.run()
    workflow = found()
    if workflow is None:
        raise not_found("workflow", workflow_id)
    tasks = group_order(eligible())
    if agent is not None:
        tasks = capability_order(tasks, agent().get("capabilities") or [])
    tally = counts()
    active = tally["active"]
    capacity = max(0, workflow["max_parallel_tasks"] - active)
    if workflow["status"] not in CLAIMABLE_WORKFLOW_STATUSES:
        capacity = 0
    limits = (json.loads(workflow["config"] or "{}") or {}).get("parallel_group_limits") or {}
    room = {group: max(0, limit - active_in_group().get(group, 0)) for group, limit in limits.items()}
    tasks, recommended = recommend(tasks, capacity, room)
    return {
        "tasks": tasks,
        "max_parallel": workflow["max_parallel_tasks"],
        "recommended_count": recommended,
        "active_count": active,
        "workflow_status": workflow["status"],
        "all_complete": tally["total"] > 0 and tally["done"] == tally["total"],
    }


def capability_order(tasks: list[dict[str, Any]], capabilities: list[str]) -> list[dict[str, Any]]:
    """Tasks the agent has every required capability for first, then those requiring none, then
    the rest, each marked with what the agent lacks; a stable sort keeps plan order within each."""
    has = {c.lower() for c in capabilities}
    for task in tasks:
        task["missing_capabilities"] = tuple(c for c in task["required_capabilities"] if c.lower() not in has)
    return sorted(tasks, key=lambda t: 2 if t["missing_capabilities"] else (1 if not t["required_capabilities"] else 0))


def group_activity(reads: Reads, workflow_id: str) -> Later[dict[str, int]]:
    """Active tasks in each parallel group (slots a group's limit counts), read for every group:
    which groups have limits is in the workflow's config, read in the same batch."""
    rows = reads.query(
        f"SELECT o.parallel_group AS g, COUNT(*) AS n FROM tasks o WHERE o.workflow_id = ? "
        f"AND o.parallel_group IS NOT NULL AND {ACTIVE.format(t='o')} GROUP BY o.parallel_group",
        (workflow_id,),
    )
    return lambda: {r["g"]: r["n"] for r in rows()}


def recommend(
    tasks: list[dict[str, Any]], capacity: int, room: dict[str, int]
) -> tuple[list[dict[str, Any]], int]:
    """Mark the tasks that fit the free slots and their groups' room; they move to the front.
    Without group limits those are the first ``capacity`` tasks, already in front."""
    if not room:
        chosen = min(capacity, len(tasks))
        for i, task in enumerate(tasks):
            task["recommended"] = i < chosen
        return tasks, chosen
    room = dict(room)
    for task in tasks:
        group = task["parallel_group"]
        fits = capacity > 0 and room.get(group, 1) > 0
        task["recommended"] = fits
        if fits:
            capacity -= 1
            if group in room:
                room[group] -= 1
    chosen = [t for t in tasks if t["recommended"]]
    return chosen + [t for t in tasks if not t["recommended"]], len(chosen)


def by_status(reads: Reads, workflow_id: str) -> Later[dict[str, int]]:
    """Counts per stored status, every status present."""
    rows = reads.query("SELECT status, COUNT(*) AS n FROM tasks WHERE workflow_id = ? GROUP BY status", (workflow_id,))

    def value() -> dict[str, int]:
        counts = dict.fromkeys((*STORED_TASK_STATUSES, "blocked"), 0)
        counts.update({r["status"]: r["n"] for r in rows()})
        return counts

    return value


def sequences(reads: Reads, workflow_id: str) -> Later[Row | None]:
    """``current_sequence``: the lowest with unfinished work (0 when none);
    ``completed_sequence``: the highest with everything at or below it finished."""
    return reads.one(
        f"""WITH cur AS (SELECT MIN(sequence) AS s FROM tasks WHERE workflow_id = ? AND status NOT IN {DONE_SQL})
            SELECT COALESCE(cur.s, 0) AS current_sequence,
              COALESCE((SELECT MAX(sequence) FROM tasks
                        WHERE workflow_id = ? AND (cur.s IS NULL OR sequence < cur.s)), 0) AS completed_sequence
            FROM cur""",
        (workflow_id, workflow_id),
    )


def blocked_tasks(reads: Reads, workflow_id: str) -> Later[list[dict[str, Any]]]:
    """Pending tasks waiting on unfinished dependencies, named (a tuple, as in next tasks)."""
    rows = reads.query(
        f"""SELECT t.id, t.name, up.name AS blocker FROM tasks t
            JOIN task_dependencies d ON d.task_id = t.id AND d.dependency_type = 'blocks'
            JOIN tasks up ON up.id = d.depends_on_id
            WHERE t.workflow_id = ? AND t.status = 'pending' AND up.status NOT IN {DONE_SQL}
            ORDER BY t.sequence, t.id, up.sequence""",
        (workflow_id,),
    )
    return lambda: [
        {"id": task_id, "name": name, "blocked_by": tuple(r["blocker"] for r in group)}
        for (task_id, name), group in groupby(rows(), key=itemgetter("id", "name"))
    ]


def parallel_groups(reads: Reads, workflow_id: str) -> Later[list[Row]]:
    return reads.query(
        f"""SELECT parallel_group AS group_id, COUNT(*) AS task_count, SUM(status IN {DONE_SQL}) AS completed
            FROM tasks WHERE workflow_id = ? AND parallel_group IS NOT NULL
            GROUP BY parallel_group ORDER BY MIN(sequence), parallel_group""",
        (workflow_id,),
    )


def progress(db: Backend, workflow_id: str) -> dict[str, Any]:
    """``progress_of``, read on its own: one batch."""
    reads = Reads(db)
    found = progress_of(reads, workflow_id)
    reads.run()
    return found()


def progress_of(reads: Reads, workflow_id: str) -> Later[dict[str, Any]]:
    """Counts by status (``blocked``, computed, taken out of ``pending``), sequences, blockers and
    parallel groups; WORKFLOW_NOT_FOUND once run, if there is no such workflow."""
    exists = required(reads, "workflow", workflow_id)
    blocked, statuses = blocked_tasks(reads, workflow_id), by_status(reads, workflow_id)
    sequence, groups = sequences(reads, workflow_id), parallel_groups(reads, workflow_id)

    def value() -> dict[str, Any]:
        exists()
        counts, waiting = statuses(), blocked()  # each shaped when called: once
        counts["pending"] -= len(waiting)
        counts["blocked"] = len(waiting)
        total = sum(counts.values())
        return {
            "total_tasks": total,
            "by_status": counts,
            **(sequence() or {}),
            "blocked_tasks": waiting,
            "parallel_groups": groups(),
            "estimated_remaining": total - counts["completed"] - counts["skipped"],
        }

    return value


def check_dependencies(db: Backend, task_id: str) -> dict[str, Any]:
    """A task's blocking dependencies split into finished (with outcomes) and not yet."""
    reads = Reads(db)
    exists = required(reads, "task", task_id)
    found = reads.query(
        """SELECT up.id, up.name, up.status, up.outcome FROM task_dependencies d
           JOIN tasks up ON up.id = d.depends_on_id
           WHERE d.task_id = ? AND d.dependency_type = 'blocks' ORDER BY up.sequence""",
        (task_id,),
    )
    reads.run()
    exists()
    rows = found()
    done = [
        {"id": r["id"], "name": r["name"], "outcome": r["outcome"]} for r in rows if r["status"] in DONE_TASK_STATUSES
    ]
    pending = [
        {"id": r["id"], "name": r["name"], "status": r["status"]} for r in rows if r["status"] not in DONE_TASK_STATUSES
    ]
    return {"satisfied": not pending, "pending": pending, "completed": done}
