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
- ``recommended_count = min(eligible, capacity)``; the first ``recommended_count`` tasks
  of the list are the recommendation and carry ``recommended: true``.
- The list is in plan order (sequence, then name), except that a parallel group's
  eligible members follow its first member, so a recommendation takes as many of one
  group as fit before moving on: siblings meant to run together are started together.
- ``parallel_with`` names the *other eligible* tasks of the same group, the ones that
  can be started alongside it now.
"""

from __future__ import annotations

import json
from itertools import groupby
from operator import itemgetter
from typing import Any

from caw_lab.engine.claims import CLAIMABLE_WORKFLOW_STATUSES
from caw_lab.engine.dag import blocked_sql
from caw_lab.engine.rows import fetch
from caw_lab.engine.states import DONE_TASK_STATUSES, STORED_TASK_STATUSES
from caw_lab.store.backend import Backend

DONE = "(" + ", ".join(f"'{s}'" for s in DONE_TASK_STATUSES) + ")"
ACTIVE = (
    "(status IN ('planning', 'in_progress') OR (assigned_agent_id IS NOT NULL AND status IN ('pending', 'paused')))"
)
TASK_FIELDS = "t.id, t.name, t.description, t.status, t.sequence, t.parallel_group"
"""What an orchestrator needs to choose; task_get has the rest. Every column costs at 10,000 rows."""


def eligible_tasks(db: Backend, workflow_id: str, include_failed: bool) -> list[dict[str, Any]]:
    """Eligible tasks in plan order, each with the names of its finished dependencies.

    The names' JSON is decoded only where there are some: on a 10,000-task workflow,
    decoding an empty list per row costs as much as the query. Name lists are tuples
    (JSON arrays all the same): a row holding only strings and tuples is not tracked by
    Python's garbage collector, which otherwise rescans all 10,000 rows and doubles the
    median time of a large answer.
    """
    statuses = "('pending', 'failed')" if include_failed else "('pending')"
    rows = db.query(
        f"""SELECT {TASK_FIELDS},
              (SELECT json_group_array(up.name) FROM task_dependencies d JOIN tasks up ON up.id = d.depends_on_id
               WHERE d.task_id = t.id AND up.status IN {DONE}) AS dependencies_completed
            FROM tasks t
            WHERE t.workflow_id = ? AND t.status IN {statuses} AND t.assigned_agent_id IS NULL
              AND NOT {blocked_sql('t')}
            ORDER BY t.sequence, t.name""",
        (workflow_id,),
    )
    for row in rows:
        done = row["dependencies_completed"]
        row["dependencies_completed"] = () if done == "[]" else tuple(json.loads(done))
    return rows


def group_order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plan order, with each parallel group's members pulled up behind its first member."""
    members: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        if task["parallel_group"] is not None:
            members.setdefault(task["parallel_group"], []).append(task)
    ordered: list[dict[str, Any]] = []
    for task in tasks:
        group = task["parallel_group"]
        if group is None:
            ordered.append(task)
        elif group in members:
            ordered += members.pop(group)
    return ordered


def workflow_counts(db: Backend, workflow_id: str) -> dict[str, int]:
    row = db.one(
        f"""SELECT COUNT(*) AS total, COALESCE(SUM(status IN {DONE}), 0) AS done,
              COALESCE(SUM({ACTIVE}), 0) AS active
            FROM tasks WHERE workflow_id = ?""",
        (workflow_id,),
    )
    assert row is not None
    return row


def next_tasks(db: Backend, workflow_id: str, include_failed: bool = True) -> dict[str, Any]:
    workflow = fetch(db, "workflow", workflow_id)
    counts = workflow_counts(db, workflow_id)
    tasks = group_order(eligible_tasks(db, workflow_id, include_failed))
    capacity = max(0, workflow["max_parallel_tasks"] - counts["active"])
    if workflow["status"] not in CLAIMABLE_WORKFLOW_STATUSES:
        capacity = 0
    recommended = min(len(tasks), capacity)
    groups: dict[str, list[str]] = {}
    for task in tasks:
        if task["parallel_group"] is not None:
            groups.setdefault(task["parallel_group"], []).append(task["id"])
    for i, task in enumerate(tasks):
        group = task["parallel_group"]
        task["can_parallelize"] = group is not None
        task["parallel_with"] = tuple(other for other in groups[group] if other != task["id"]) if group else ()
        task["recommended"] = i < recommended
    return {
        "tasks": tasks,
        "max_parallel": workflow["max_parallel_tasks"],
        "recommended_count": recommended,
        "active_count": counts["active"],
        "workflow_status": workflow["status"],
        "all_complete": counts["total"] > 0 and counts["done"] == counts["total"],
    }


def by_status(db: Backend, workflow_id: str, blocked: int) -> dict[str, int]:
    """Counts per status, every status present, ``blocked`` (computed) taken out of ``pending``."""
    rows = db.query("SELECT status, COUNT(*) AS n FROM tasks WHERE workflow_id = ? GROUP BY status", (workflow_id,))
    counts = {status: 0 for status in (*STORED_TASK_STATUSES, "blocked")}
    counts.update({r["status"]: r["n"] for r in rows})
    counts["pending"] -= blocked
    counts["blocked"] = blocked
    return counts


def sequences(db: Backend, workflow_id: str) -> dict[str, int]:
    """``current_sequence``: the lowest with unfinished work (0 when none);
    ``completed_sequence``: the highest with everything at or below it finished."""
    row = db.one(
        f"""WITH cur AS (SELECT MIN(sequence) AS s FROM tasks WHERE workflow_id = ? AND status NOT IN {DONE})
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
            WHERE t.workflow_id = ? AND t.status = 'pending' AND up.status NOT IN {DONE}
            ORDER BY t.sequence, t.id, up.sequence""",
        (workflow_id,),
    )
    return [
        {"id": task_id, "name": name, "blocked_by": tuple(r["blocker"] for r in group)}
        for (task_id, name), group in groupby(rows, key=itemgetter("id", "name"))
    ]


def parallel_groups(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    return db.query(
        f"""SELECT parallel_group AS group_id, COUNT(*) AS task_count, SUM(status IN {DONE}) AS completed
            FROM tasks WHERE workflow_id = ? AND parallel_group IS NOT NULL
            GROUP BY parallel_group ORDER BY MIN(sequence), parallel_group""",
        (workflow_id,),
    )


def progress(db: Backend, workflow_id: str) -> dict[str, Any]:
    fetch(db, "workflow", workflow_id)
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
    fetch(db, "task", task_id)
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
