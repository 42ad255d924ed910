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
from caw_lab.engine.rows import fetch, require
from caw_lab.engine.states import CLAIMABLE_WORKFLOW_STATUSES, DONE_SQL, DONE_TASK_STATUSES, STORED_TASK_STATUSES
from caw_lab.errors import not_found
from caw_lab.store.backend import Backend

TASK_FIELDS = "t.id, t.name, t.description, t.status, t.sequence, t.parallel_group, t.required_capabilities"
"""What an orchestrator needs to choose; task_get has the rest. Every column costs at 10,000 rows."""


def eligible_tasks(db: Backend, workflow_id: str, include_failed: bool) -> list[dict[str, Any]]:
    """Eligible tasks in plan order, each with the names of its finished dependencies.

    Pending tasks come in sequence order from the index of unclaimed pending tasks (no
    sort, claimed ones never read); failed ones, usually few, are merged in. Dependency
    names are fetched for the eligible tasks only, in one statement. Name lists are
    tuples (JSON arrays all the same): a row of strings and tuples is not tracked by
    Python's garbage collector, which otherwise rescans every row of a large answer.
    """
    unblocked = f"t.workflow_id = ? AND t.assigned_agent_id IS NULL AND NOT {blocked_sql('t')}"
    tasks = db.query(
        f"SELECT {TASK_FIELDS} FROM tasks t WHERE t.status = 'pending' AND {unblocked} ORDER BY t.sequence",
        (workflow_id,),
    )
    if include_failed:
        failed = db.query(
            f"SELECT {TASK_FIELDS} FROM tasks t WHERE t.status = 'failed' AND {unblocked}", (workflow_id,)
        )
        if failed:
            tasks = sorted(tasks + failed, key=itemgetter("sequence"))
    names = finished_dependencies(db, [t["id"] for t in tasks])
    for task in tasks:
        task["dependencies_completed"] = tuple(names.get(task["id"], ()))
        needs = task["required_capabilities"]
        task["required_capabilities"] = tuple(json.loads(needs)) if needs else ()
    return tasks


def finished_dependencies(db: Backend, task_ids: list[str]) -> dict[str, list[str]]:
    """``task_id -> names of its completed or skipped dependencies``, in plan order."""
    if not task_ids:
        return {}
    rows = db.query(
        f"""SELECT d.task_id, up.name FROM json_each(?) e
            JOIN task_dependencies d ON d.task_id = e.value JOIN tasks up ON up.id = d.depends_on_id
            WHERE up.status IN {DONE_SQL} ORDER BY up.sequence""",
        (json.dumps(task_ids),),
    )
    names: dict[str, list[str]] = {}
    for r in rows:
        names.setdefault(r["task_id"], []).append(r["name"])
    return names


ACTIVE = ("({t}.status IN ('planning', 'in_progress') "
          "OR ({t}.assigned_agent_id IS NOT NULL AND {t}.status IN ('pending', 'paused')))")
"""SQL true for a task (aliased ``t``) taking a slot: started, or claimed and unfinished. Worded as
idx_tasks_active, which serves it; claims count these inside their compare-and-set."""

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
    """Total, finished and active tasks. Counting by status reads only the (workflow_id,
    status) index; claimed tasks not started yet are the pending ones minus the unclaimed
    pending ones, plus the (few) claimed paused ones."""
    per_status = {r["status"]: r["n"] for r in db.query(
        "SELECT status, COUNT(*) AS n FROM tasks WHERE workflow_id = ? GROUP BY status", (workflow_id,))}
    row = db.one(
        """SELECT (SELECT COUNT(*) FROM tasks WHERE workflow_id = ? AND status = 'pending'
                     AND assigned_agent_id IS NULL) AS unclaimed_pending,
                  (SELECT COUNT(*) FROM tasks WHERE workflow_id = ? AND status = 'paused'
                     AND assigned_agent_id IS NOT NULL) AS claimed_paused""",
        (workflow_id, workflow_id),
    )
    assert row is not None
    count = per_status.get
    claimed_waiting = count("pending", 0) - row["unclaimed_pending"] + row["claimed_paused"]
    return {
        "total": sum(per_status.values()),
        "done": sum(count(s, 0) for s in DONE_TASK_STATUSES),
        "active": count("planning", 0) + count("in_progress", 0) + claimed_waiting,
    }


def next_tasks(
    db: Backend, workflow_id: str, include_failed: bool = True, agent_id: str | None = None
) -> dict[str, Any]:
    workflow = db.one("SELECT status, max_parallel_tasks, config FROM workflows WHERE id = ?", (workflow_id,))
    if workflow is None:
        raise not_found("workflow", workflow_id)
    counts = workflow_counts(db, workflow_id)
    tasks = group_order(eligible_tasks(db, workflow_id, include_failed))
    if agent_id is not None:
        tasks = capability_order(tasks, fetch(db, "agent", agent_id).get("capabilities") or [])
    capacity = max(0, workflow["max_parallel_tasks"] - counts["active"])
    if workflow["status"] not in CLAIMABLE_WORKFLOW_STATUSES:
        capacity = 0
    limits = (json.loads(workflow["config"] or "{}") or {}).get("parallel_group_limits") or {}
    tasks, recommended = recommend(tasks, capacity, group_room(db, workflow_id, limits))
    return {
        "tasks": tasks,
        "max_parallel": workflow["max_parallel_tasks"],
        "recommended_count": recommended,
        "active_count": counts["active"],
        "workflow_status": workflow["status"],
        "all_complete": counts["total"] > 0 and counts["done"] == counts["total"],
    }


def capability_order(tasks: list[dict[str, Any]], capabilities: list[str]) -> list[dict[str, Any]]:
    """Tasks the agent has every required capability for first, then those requiring none, then
    the rest, each marked with what the agent lacks; a stable sort keeps plan order within each."""
    has = {c.lower() for c in capabilities}
    for task in tasks:
        task["missing_capabilities"] = tuple(c for c in task["required_capabilities"] if c.lower() not in has)
    return sorted(tasks, key=lambda t: 2 if t["missing_capabilities"] else (1 if not t["required_capabilities"] else 0))


def group_room(db: Backend, workflow_id: str, limits: dict[str, int]) -> dict[str, int]:
    """Slots left in each limited parallel group: its limit minus its active tasks."""
    if not limits:
        return {}
    rows = db.query(
        f"SELECT o.parallel_group AS g, COUNT(*) AS n FROM tasks o WHERE o.workflow_id = ? "
        f"AND o.parallel_group IS NOT NULL AND {ACTIVE.format(t='o')} GROUP BY o.parallel_group",
        (workflow_id,),
    )
    active = {r["g"]: r["n"] for r in rows}
    return {group: max(0, limit - active.get(group, 0)) for group, limit in limits.items()}


def recommend(
    tasks: list[dict[str, Any]], capacity: int, room: dict[str, int]
) -> tuple[list[dict[str, Any]], int]:
    """Mark the tasks that fit the free slots and their groups' room; they move to the front."""
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


def by_status(db: Backend, workflow_id: str, blocked: int) -> dict[str, int]:
    """Counts per status, every status present, ``blocked`` (computed) taken out of ``pending``."""
    rows = db.query("SELECT status, COUNT(*) AS n FROM tasks WHERE workflow_id = ? GROUP BY status", (workflow_id,))
    counts = dict.fromkeys((*STORED_TASK_STATUSES, "blocked"), 0)
    counts.update({r["status"]: r["n"] for r in rows})
    counts["pending"] -= blocked
    counts["blocked"] = blocked
    return counts


def sequences(db: Backend, workflow_id: str) -> dict[str, int]:
    """``current_sequence``: the lowest with unfinished work (0 when none);
    ``completed_sequence``: the highest with everything at or below it finished."""
    row = db.one(
        f"""WITH cur AS (SELECT MIN(sequence) AS s FROM tasks WHERE workflow_id = ? AND status NOT IN {DONE_SQL})
            SELECT COALESCE(cur.s, 0) AS current_sequence,
              COALESCE((SELECT MAX(sequence) FROM tasks
                        WHERE workflow_id = ? AND (cur.s IS NULL OR sequence < cur.s)), 0) AS completed_sequence
            FROM cur""",
        (workflow_id, workflow_id),
    )
    assert row is not None
    return row


def blocked_tasks(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    """Pending tasks waiting on unfinished dependencies, named (a tuple, as in next tasks)."""
    rows = db.query(
        f"""SELECT t.id, t.name, up.name AS blocker FROM tasks t
            JOIN task_dependencies d ON d.task_id = t.id AND d.dependency_type = 'blocks'
            JOIN tasks up ON up.id = d.depends_on_id
            WHERE t.workflow_id = ? AND t.status = 'pending' AND up.status NOT IN {DONE_SQL}
            ORDER BY t.sequence, t.id, up.sequence""",
        (workflow_id,),
    )
    return [
        {"id": task_id, "name": name, "blocked_by": tuple(r["blocker"] for r in group)}
        for (task_id, name), group in groupby(rows, key=itemgetter("id", "name"))
    ]


def parallel_groups(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    return db.query(
        f"""SELECT parallel_group AS group_id, COUNT(*) AS task_count, SUM(status IN {DONE_SQL}) AS completed
            FROM tasks WHERE workflow_id = ? AND parallel_group IS NOT NULL
            GROUP BY parallel_group ORDER BY MIN(sequence), parallel_group""",
        (workflow_id,),
    )


def progress(db: Backend, workflow_id: str) -> dict[str, Any]:
    require(db, "workflow", workflow_id)
    blocked = blocked_tasks(db, workflow_id)
    counts = by_status(db, workflow_id, len(blocked))
    total = sum(counts.values())
    return {
        "total_tasks": total,
        "by_status": counts,
        **sequences(db, workflow_id),
        "blocked_tasks": blocked,
        "parallel_groups": parallel_groups(db, workflow_id),
        "estimated_remaining": total - counts["completed"] - counts["skipped"],
    }


def check_dependencies(db: Backend, task_id: str) -> dict[str, Any]:
    """A task's blocking dependencies split into finished (with outcomes) and not yet."""
    require(db, "task", task_id)
    rows = db.query(
        """SELECT up.id, up.name, up.status, up.outcome FROM task_dependencies d
           JOIN tasks up ON up.id = d.depends_on_id
           WHERE d.task_id = ? AND d.dependency_type = 'blocks' ORDER BY up.sequence""",
        (task_id,),
    )
    done = [
        {"id": r["id"], "name": r["name"], "outcome": r["outcome"]} for r in rows if r["status"] in DONE_TASK_STATUSES
    ]
    pending = [
        {"id": r["id"], "name": r["name"], "status": r["status"]} for r in rows if r["status"] not in DONE_TASK_STATUSES
    ]
    return {"satisfied": not pending, "pending": pending, "completed": done}
